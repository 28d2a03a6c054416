"""Event routing: both wire schemas, every monitored resource kind, rejects that keep the rest."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from core.events import EventParseError, Topology, route_delivery
from core.events.operations import ROUTED_OPERATIONS
from tests.support.estates import compliant_estate, states

SUB = "1b0c4e2a-1111-4c1e-9a51-2f6a0c9d7e01"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-a"
WS = f"{RG}/providers/Microsoft.Databricks/workspaces/dbw-a"
VNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-a"
NSG = f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-a"


def eg(resource_id: str, op: str, kind: str = "Write", status: str = "Succeeded", **extra: Any) -> dict[str, Any]:
    """An Event Grid schema event as a subscription system topic sends it."""
    return {"id": str(uuid.uuid4()), "topic": f"/subscriptions/{SUB}", "subject": resource_id,
            "eventType": f"Microsoft.Resources.Resource{kind}Success", "eventTime": "2026-11-26T10:00:00Z",
            "dataVersion": "2", "metadataVersion": "1",
            "data": {"resourceUri": resource_id, "operationName": op, "status": status, "subscriptionId": SUB,
                     "tenantId": "t", "resourceProvider": op.split("/")[0],
                     "authorization": {"scope": resource_id, "action": op}, "claims": {}}, **extra}


def ce(resource_id: str, op: str, kind: str = "Write") -> dict[str, Any]:
    """The same as CloudEvents 1.0."""
    e = eg(resource_id, op, kind)
    return {"specversion": "1.0", "id": e["id"], "type": e["eventType"], "source": e["topic"],
            "subject": resource_id, "time": e["eventTime"], "data": e["data"]}


@pytest.fixture(scope="module")
def topo() -> Topology:
    return Topology.from_states(states(compliant_estate()))


@pytest.mark.parametrize("make", [eg, ce])
@pytest.mark.parametrize(("rid", "op", "kind", "action"), [
    (WS, "Microsoft.Databricks/workspaces/write", "Write", "scan"),
    (WS.upper(), "MICROSOFT.DATABRICKS/WORKSPACES/WRITE", "Write", "scan"),
    (WS, "Microsoft.Databricks/workspaces/delete", "Delete", "resolve"),
    (f"{WS}/privateEndpointConnections/pe1", "Microsoft.Databricks/workspaces/privateEndpointConnections/write",
     "Write", "scan"),
    (f"{WS}/providers/Microsoft.Insights/diagnosticSettings/d", "Microsoft.Insights/diagnosticSettings/write",
     "Write", "scan"),
    (f"{WS}/providers/Microsoft.Insights/diagnosticSettings/d", "Microsoft.Insights/diagnosticSettings/delete",
     "Delete", "scan"),
    (VNET, "Microsoft.Network/virtualNetworks/write", "Write", "scan"),
    (f"{VNET}/subnets/host", "Microsoft.Network/virtualNetworks/subnets/write", "Write", "scan"),
    (NSG, "Microsoft.Network/networkSecurityGroups/write", "Write", "scan"),
    (f"{NSG.lower()}/securityRules/open-22", "Microsoft.Network/networkSecurityGroups/securityRules/write",
     "Write", "scan"),
    (f"{NSG}/securityRules/open-22", "Microsoft.Network/networkSecurityGroups/securityRules/delete", "Delete", "scan"),
])
def test_routes(topo: Topology, make: Any, rid: str, op: str, kind: str, action: str) -> None:
    (d,) = route_delivery(json.dumps(make(rid, op, kind)), topo)
    assert d.action == action, d.reason
    assert [w.lower() for w in d.workspaces] == [WS.lower()]


@pytest.mark.parametrize(("event", "why"), [
    (eg(f"{RG}/providers/Microsoft.Storage/storageAccounts/sa", "Microsoft.Storage/storageAccounts/write"),
     "operation"),
    (eg(f"{RG}/providers/Microsoft.Network/networkSecurityGroups/other", "Microsoft.Network/networkSecurityGroups/write"),
     "not used by any monitored workspace"),
    (eg(WS, "Microsoft.Databricks/workspaces/write", status="Failed"), "Failed"),
    ({**eg(WS, "x"), "eventType": "Microsoft.Resources.ResourceWriteFailure"}, "event type"),
    ({**eg(WS, "x"), "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent"}, "validation"),
    (eg(f"{WS}/virtualNetworkPeerings/p", "Microsoft.Databricks/workspaces/write"), "not monitored"),
])
def test_ignored_with_reason(topo: Topology, event: dict[str, Any], why: str) -> None:
    (d,) = route_delivery([event], topo)
    assert d.action == "ignore" and why in d.reason and d.workspaces == []


def test_malformed_events_are_rejected_and_the_rest_still_routes(topo: Topology) -> None:
    good = eg(WS, "Microsoft.Databricks/workspaces/write")
    bad = [
        {"id": "no-type", "subject": WS},
        {"id": "e2", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "data": "string"},
        {"id": "e3", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "data": {}},
        {"eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": WS, "data": {}},
        {"id": "e5", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": "not/an/arm/id",
         "data": {"operationName": "Microsoft.Databricks/workspaces/write"}},
        {"specversion": "0.3", "id": "e6", "type": "x"},
        42,
    ]
    decisions = route_delivery(json.dumps([*bad, good]), topo)
    assert [d.action for d in decisions] == ["reject"] * len(bad) + ["scan"]
    assert all(d.reason for d in decisions)
    assert decisions[0].event_id == "no-type"


@pytest.mark.parametrize("payload", [b"\xff\xfe", b"{not json", b'"a string"', b"[" * 50_000 + b"]" * 50_000])
def test_undecodable_delivery_is_one_clear_error(payload: bytes) -> None:
    with pytest.raises(EventParseError):
        route_delivery(payload, Topology())


def test_oversized_delivery_is_refused() -> None:
    with pytest.raises(EventParseError, match="1 MB"):
        route_delivery(b" " * 2_000_000, Topology())


def test_single_event_object_is_a_delivery(topo: Topology) -> None:
    (d,) = route_delivery(json.dumps(eg(WS, "Microsoft.Databricks/workspaces/write")).encode(), topo)
    assert d.action == "scan"


def test_shared_nsg_routes_to_every_workspace() -> None:
    t = Topology({NSG: [WS, WS.replace("dbw-a", "dbw-b")]})
    (d,) = route_delivery([eg(f"{NSG}/securityRules/r", "Microsoft.Network/networkSecurityGroups/securityRules/write")], t)
    assert len(d.workspaces) == 2


def test_every_routed_operation_is_handled(topo: Topology) -> None:
    for op in ROUTED_OPERATIONS:
        *_, verb = op.split("/")
        assert verb in ("write", "delete")


def test_one_megabyte_delivery_routes_fast(topo: Topology) -> None:
    one = eg(f"{NSG}/securityRules/r", "Microsoft.Network/networkSecurityGroups/securityRules/write")
    size = len(json.dumps(one))
    payload = json.dumps([one] * (1_000_000 // size))
    t0 = time.perf_counter()
    decisions = route_delivery(payload, topo)
    elapsed = time.perf_counter() - t0
    assert all(d.action == "scan" for d in decisions)
    # A generous bound only to catch pathologies; the real figure is measured in bench/.
    assert elapsed < 5, elapsed

"""DBX-WS-010 destination, DBX-WS-011..017 and DBX-NET-008: violating, compliant and not applicable.

Documents come from samples/factory.py, whose shapes follow azure-rest-api-specs (Databricks 2026-01-01
databricks.json + accessconnector.json and example AccessConnectorGet.json; Microsoft.Authorization locks
2020-05-01 example ManagementLocks_ListAtResourceLevel.json; Network PrivateEndpointDnsZoneGroupList.json).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core.rules import evaluate_workspace
from core.state.model import ArmExtrasState
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, resource, states

LAW = f"/subscriptions/{f.SUB_PROD}/resourceGroups/ops/providers/Microsoft.OperationalInsights/workspaces/law-security"
KV = "https://kv-dbx-prod.vault.azure.net"
ON: dict[str, Any] = {
    "compute_mode": "Hybrid",
    "access_connector": {"identity_type": "SystemAssigned"},
    "default_storage_firewall": "Enabled",
    "cmk_keys": {"managed_services": {"key_vault_uri": KV, "key_name": "cmk"},
                 "managed_disk": {"key_vault_uri": KV, "key_name": "cmk"},
                 "dbfs_root": {"key_vault_uri": KV, "key_name": "dbfs-root"}, "managed_disk_auto_rotation": True},
    "resource_lock": "required",
    "required_tags": {"env": ["prod", "dev"], "costcenter": None},
    "compliance_standards": ["HIPAA"],
    "diagnostic_destination": {"workspace_id": LAW},
    "network": {"vnet_injection": True, "min_subnet_prefix": 26, "egress": "nat_gateway_or_route_table",
                "private_dns_zone": "privatelink.azuredatabricks.net"},
}
NEW_RULES = {"DBX-WS-011", "DBX-WS-012", "DBX-WS-013", "DBX-WS-014", "DBX-WS-015", "DBX-WS-016", "DBX-WS-017",
             "DBX-NET-008", "DBX-WS-010"}


def estate(mutate: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The compliant unit workspace with its access connector, DNS zone group, tags, shared vault and an
    RG-level CanNotDelete lock (samples.factory.arm_extras)."""
    def extras(e: dict[str, Any]) -> None:
        e["resources"] += f.arm_extras(e["resources"])
        ws = resource(e, "/workspaces")
        e["resources"].append(f.lock_doc("/".join(ws["id"].split("/")[:5]), "rg-no-delete"))
        if mutate:
            mutate(e)
    return compliant_estate(extras)


def _ws(e: dict[str, Any]) -> dict[str, Any]:
    return resource(e, "/workspaces")


def _props(e: dict[str, Any]) -> dict[str, Any]:
    return _ws(e)["properties"]


def _new(findings: list[Any]) -> list[tuple[str, str | None]]:
    return sorted((fd.rule_id, fd.subject) for fd in findings if fd.rule_id in NEW_RULES)


def evaluate(e: dict[str, Any], **overrides: Any) -> Any:
    (ws,) = states(e)
    return evaluate_workspace(ws, baseline(**{**ON, **overrides}), now=NOW)


def test_compliant_workspace_passes_every_new_rule() -> None:
    ev = evaluate(estate())
    assert _new(ev.findings) == []
    assert ev.evaluated_rules >= NEW_RULES


def _drop_connector_doc(e: dict[str, Any]) -> None:
    e["resources"] = [r for r in e["resources"] if r["type"] != "Microsoft.Databricks/accessConnectors"]


def _connector(e: dict[str, Any]) -> dict[str, Any]:
    return resource(e, "/accessConnectors")


def _zone_group(e: dict[str, Any]) -> dict[str, Any]:
    return resource(e, "/privateDnsZoneGroups")


@pytest.mark.parametrize(("mutate", "overrides", "expected"), [
    (None, {"compute_mode": "Serverless"}, [("DBX-WS-011", None)]),
    (lambda e: _props(e).pop("accessConnector"), {}, [("DBX-WS-012", "id"), ("DBX-WS-013", "accessConnector")]),
    (None, {"access_connector": {"id": "/subscriptions/x/resourceGroups/r/providers/Microsoft.Databricks/"
                                       "accessConnectors/other", "identity_type": "UserAssigned"}},
     [("DBX-WS-012", "id"), ("DBX-WS-012", "identity"), ("DBX-WS-012", "identityType")]),
    (_drop_connector_doc, {}, [("DBX-WS-012", "exists")]),
    (lambda e: _connector(e)["properties"].update(provisioningState="Failed", referedBy=[]), {},
     [("DBX-WS-012", "provisioningState"), ("DBX-WS-012", "referedBy")]),
    (lambda e: _props(e).update(defaultStorageFirewall="Disabled"), {}, [("DBX-WS-013", None)]),
    (lambda e: _props(e).pop("defaultStorageFirewall"), {}, [("DBX-WS-013", None)]),
    (lambda e: _props(e)["encryption"]["entities"].update(managedDisk={
        "keySource": "Microsoft.Keyvault", "rotationToLatestKeyVersionEnabled": False,
        "keyVaultProperties": {"keyVaultUri": "https://kv-other.vault.azure.net/", "keyName": "cmk",
                               "keyVersion": "2" * 32}}), {},
     [("DBX-WS-014", "managed_disk"), ("DBX-WS-014", "managed_disk.rotationToLatestKeyVersionEnabled")]),
    (lambda e: _props(e)["parameters"]["encryption"]["value"].update(KeyName="old-root"), {},
     [("DBX-WS-014", "dbfs_root")]),
    (lambda e: _props(e)["parameters"].pop("encryption"), {}, [("DBX-WS-014", "dbfs_root")]),
    (lambda e: e.update(resources=[r for r in e["resources"] if r["type"] != "Microsoft.Authorization/locks"]), {},
     [("DBX-WS-015", None)]),
    (lambda e: resource(e, "/locks")["properties"].update(level="NotSpecified"), {}, [("DBX-WS-015", None)]),
    (lambda e: _ws(e).update(tags={"ENV": "staging"}), {}, [("DBX-WS-016", "costcenter"), ("DBX-WS-016", "env")]),
    (lambda e: _props(e)["enhancedSecurityCompliance"]["complianceSecurityProfile"].update(
        complianceStandards=["PCI_DSS"]), {}, [("DBX-WS-017", None)]),
    (lambda e: resource(e, "/diagnosticSettings")["properties"].update(workspaceId=LAW.replace("security", "x")),
     {}, [("DBX-WS-010", "destination")]),
    (lambda e: _zone_group(e)["properties"]["privateDnsZoneConfigs"][0]["properties"].update(
        privateDnsZoneId="/subscriptions/s/resourceGroups/d/providers/Microsoft.Network/privateDnsZones/"
                         "privatelink.blob.core.windows.net"), {}, [("DBX-NET-008", "pe-dbw-a")]),
    (lambda e: e.update(resources=[r for r in e["resources"] if "privateDnsZoneGroups" not in r["type"]]), {},
     [("DBX-NET-008", "pe-dbw-a")]),
])
def test_violations(mutate: Any, overrides: dict[str, Any], expected: list[tuple[str, str | None]]) -> None:
    assert _new(evaluate(estate(mutate), **overrides).findings) == expected


def test_lock_on_the_workspace_itself_counts_and_a_subscription_lock_does_not() -> None:
    def ws_lock(e: dict[str, Any]) -> None:
        e["resources"] = [r for r in e["resources"] if r["type"] != "Microsoft.Authorization/locks"]
        e["resources"].append(f.lock_doc(_ws(e)["id"], "ws-read-only", "ReadOnly"))
    assert _new(evaluate(estate(ws_lock)).findings) == []

    def sub_lock(e: dict[str, Any]) -> None:
        e["resources"] = [r for r in e["resources"] if r["type"] != "Microsoft.Authorization/locks"]
        e["resources"].append(f.lock_doc(f"/subscriptions/{f.SUB_PROD}", "sub-lock"))
    ev = evaluate(estate(sub_lock))
    (finding,) = [fd for fd in ev.findings if fd.rule_id == "DBX-WS-015"]
    assert "sub-lock (CanNotDelete)" in finding.message


def test_cmk_uri_compares_without_trailing_slash_or_case_and_destination_ids_case_insensitively() -> None:
    ev = evaluate(estate(), cmk_keys={"managed_services": {"key_vault_uri": KV.upper() + "/", "key_name": "CMK"}},
                  diagnostic_destination={"workspace_id": LAW.lower()})
    assert _new(ev.findings) == []


def test_switched_off_when_the_baseline_keys_are_absent() -> None:
    def drift(e: dict[str, Any]) -> None:
        _props(e).pop("accessConnector")
        _ws(e).update(tags={})
    (ws,) = states(estate(drift))
    ev = evaluate_workspace(ws, baseline(), now=NOW)  # the strict baseline names none of the new keys
    assert _new(ev.findings) == []


def test_serverless_connector_firewall_and_classic_keys_are_not_applicable() -> None:
    ws = f.serverless_workspace_doc(f.SUB_PROD, "rg-s", "dbw-s", 4343, public_access="Disabled",
                                    private_endpoint="Approved", cmk=True, tags={"env": "prod", "costcenter": "c"})
    e = {"schema": "driftwatch.estate/v1",
         "subscriptions": [{"subscriptionId": f.SUB_PROD, "displayName": "p", "state": "Enabled"}],
         "resources": [ws, f.diag_doc(ws["id"], all_logs=True), f.lock_doc(ws["id"], "l"),
                       *f.private_endpoint_docs(ws["properties"]["privateEndpointConnections"][0]["properties"]
                                                ["privateEndpoint"]["id"], ws["id"])],
         "databricks": {ws["properties"]["workspaceUrl"]: f.api_state()}}
    ws["properties"]["encryption"]["entities"]["managedServices"]["keyVaultProperties"]["keyVaultUri"] = KV
    ws["properties"]["enhancedSecurityCompliance"] = {"complianceSecurityProfile": {
        "value": "Enabled", "complianceStandards": ["HIPAA"]}}
    ev = evaluate(e, compute_mode="Serverless")
    assert _new(ev.findings) == []
    na = {(n.rule_id, n.subject) for n in ev.not_applicable}
    assert {("DBX-WS-012", None), ("DBX-WS-013", None), ("DBX-WS-014", "managed_disk"), ("DBX-WS-014", "dbfs_root"),
            ("DBX-WS-014", "managed_disk.rotationToLatestKeyVersionEnabled")} <= na
    assert {"DBX-WS-012", "DBX-WS-013"}.isdisjoint(ev.evaluated_rules)
    assert {"DBX-WS-014", "DBX-WS-015", "DBX-NET-008"} <= ev.evaluated_rules


def test_a_failed_extra_read_is_an_evaluation_finding_and_keeps_only_its_rule_unevaluated() -> None:
    (ws,) = states(estate(lambda e: e.update(
        resources=[r for r in e["resources"] if r["type"] != "Microsoft.Authorization/locks"])))
    failed = ws.model_copy(update={"arm_extras": ArmExtrasState(
        access_connector=ws.arm_extras.access_connector if ws.arm_extras else None, private_dns={},
        part_errors={"locks": "/subscriptions/.../locks: HTTP 403 AuthorizationFailed"})})
    ev = evaluate_workspace(failed, baseline(**ON), now=NOW)
    assert [(fd.rule_id, fd.subject) for fd in ev.findings if fd.rule_id.startswith("DBX-EVAL")] == [
        ("DBX-EVAL-001", "locks")]
    assert "DBX-WS-015" not in ev.evaluated_rules  # not evaluated: its open finding must not resolve
    assert {"DBX-WS-012", "DBX-NET-008", "DBX-WS-011"} <= ev.evaluated_rules
    none_read = ws.model_copy(update={"arm_extras": None})
    ev = evaluate_workspace(none_read, baseline(**ON), now=NOW)
    assert {"DBX-WS-012", "DBX-WS-015", "DBX-NET-008"}.isdisjoint(ev.evaluated_rules)


def test_unknown_new_baseline_keys_are_errors() -> None:
    from core.baseline import BaselineError, parse_baseline
    for bad in ({"cmk_keys": {"managed_services": {"key_vault_uri": KV, "keyname": "x"}}},
                {"access_connector": {"id": "not-an-arm-id"}}, {"resource_lock": "yes"},
                {"network": {"private_dns_zones": "x"}}, {"diagnostic_destination": {"workspace": LAW}}):
        with pytest.raises(BaselineError):
            parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": bad}, "b")


def test_writes_to_linked_resources_route_to_their_workspace() -> None:
    """Locks (workspace and resource-group scope), access connectors, private endpoints and their DNS zone
    groups route through the footprint (core/state/footprint.py) to the workspace that names them."""
    from core.events import Topology, route_delivery
    from core.state import parse_estate

    e = estate()
    wid = _ws(e)["id"]
    rg = "/".join(wid.split("/")[:5])
    pe = _props(e)["privateEndpointConnections"][0]["properties"]["privateEndpoint"]["id"]
    topo = Topology.from_footprints(parse_estate(e, "t").network_footprints())

    def event(rid: str, op: str, kind: str = "Write") -> dict[str, Any]:
        return {"id": "e", "eventType": f"Microsoft.Resources.Resource{kind}Success", "subject": rid,
                "eventTime": "2026-11-26T12:00:00Z", "dataVersion": "", "metadataVersion": "1",
                "data": {"resourceUri": rid, "operationName": op, "status": "Succeeded"}}

    cases = [
        (f"{wid}/providers/Microsoft.Authorization/locks/l", "Microsoft.Authorization/locks/write", "Write"),
        (f"{rg}/providers/Microsoft.Authorization/locks/l", "Microsoft.Authorization/locks/delete", "Delete"),
        (_props(e)["accessConnector"]["id"], "Microsoft.Databricks/accessConnectors/write", "Write"),
        (pe, "Microsoft.Network/privateEndpoints/write", "Write"),
        (f"{pe}/privateDnsZoneGroups/default", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/delete",
         "Delete"),
        (f"{wid}/providers/Microsoft.Insights/diagnosticSettings/x", "Microsoft.Insights/diagnosticSettings/write",
         "Write"),
    ]
    for rid, op, kind in cases:
        (d,) = route_delivery([event(rid, op, kind)], topo)
        assert (d.action, d.workspaces) == ("scan", [wid]), (rid, d.reason)
    other_rg = f"/subscriptions/{f.SUB_PROD}/resourceGroups/rg-other/providers/Microsoft.Authorization/locks/l"
    (d,) = route_delivery([event(other_rg, "Microsoft.Authorization/locks/write")], topo)
    assert d.action == "ignore"
    sub_lock = f"/subscriptions/{f.SUB_PROD}/providers/Microsoft.Authorization/locks/l"
    (d,) = route_delivery([event(sub_lock, "Microsoft.Authorization/locks/write")], topo)
    assert d.action == "ignore"

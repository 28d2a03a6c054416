"""Parsing real, messy ARM documents and workspace-API payloads into WorkspaceState."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from core.state import SnapshotError, load_estate, parse_estate
from core.state.parse import parse_workspace_api, parse_workspace_arm
from samples import factory as f
from tests.support.estates import compliant_estate, resource, states

ROOT = Path(__file__).resolve().parents[3]

# As azure-rest-api-specs' Databricks 2026-01-01 "WorkspaceGetParameters" example returns it
# (ids of the example replaced; display-name location, wrapped parameter values).
SPEC_SHAPED_WORKSPACE: dict[str, Any] = {
    "name": "myWorkspace",
    "type": "Microsoft.Databricks/workspaces",
    "id": "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Databricks/"
          "workspaces/myWorkspace",
    "location": "East US 2",
    "properties": {
        "computeMode": "Hybrid",
        "managedResourceGroupId": "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/myManagedRG",
        "parameters": {
            "customPrivateSubnetName": {"type": "String", "value": "PrivateBob"},
            "customPublicSubnetName": {"type": "String", "value": "PublicSarah"},
            "customVirtualNetworkId": {"type": "String", "value": "/subscriptions/11111111-1111-1111-1111-"
                                       "111111111111/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/myNetwork"},
        },
        "privateEndpointConnections": [{"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}],
        "provisioningState": "Succeeded",
        "publicNetworkAccess": "Disabled",
        "requiredNsgRules": "NoAzureDatabricksRules",
        "workspaceId": "5555555555555555",
        "workspaceUrl": "adb-5555555555555555.19.azuredatabricks.net",
    },
    "sku": {"name": "premium"},
}


def test_spec_shaped_workspace() -> None:
    arm = parse_workspace_arm(SPEC_SHAPED_WORKSPACE)
    assert arm.location == "eastus2" and arm.location_display == "East US 2"
    assert arm.public_subnet_name == "PublicSarah" and arm.vnet_id and arm.vnet_id.endswith("myNetwork")
    assert arm.no_public_ip is None  # absent parameter: not assumed
    assert arm.private_endpoint_connections[0].status == "Approved"
    assert not arm.cmk_managed_services and arm.sku == "premium"


@pytest.mark.parametrize("params", [None, {}, {"enableNoPublicIp": None}])
def test_null_or_missing_parameters(params: Any) -> None:
    doc = copy.deepcopy(SPEC_SHAPED_WORKSPACE)
    doc["properties"]["parameters"] = params
    arm = parse_workspace_arm(doc)
    assert arm.no_public_ip is None and arm.vnet_id is None


@pytest.mark.parametrize(("raw", "expected"), [
    ({"type": "Bool", "value": True}, True), ({"type": "Bool", "value": "true"}, True),
    ({"type": "Bool", "value": "False"}, False), (True, True), ("false", False), ({"value": None}, None),
    ({"type": "Bool"}, None),
])
def test_parameter_value_shapes(raw: Any, expected: bool | None) -> None:
    doc = copy.deepcopy(SPEC_SHAPED_WORKSPACE)
    doc["properties"]["parameters"]["EnableNoPublicIP"] = raw  # key casing differs in the wild
    assert parse_workspace_arm(doc).no_public_ip is expected


def test_enhanced_security_and_cmk_shapes() -> None:
    doc = copy.deepcopy(SPEC_SHAPED_WORKSPACE)
    doc["properties"]["enhancedSecurityCompliance"] = {
        "automaticClusterUpdate": {"value": "Enabled"},
        "complianceSecurityProfile": {"complianceStandards": ["PCI_DSS"], "value": "Disabled"},
    }
    doc["properties"]["encryption"] = {"entities": {"managedDisk": {"keySource": "Microsoft.Keyvault"}}}
    doc["properties"]["parameters"]["encryption"] = {"type": "Object", "value": {"KeySource": "Default"}}
    arm = parse_workspace_arm(doc)
    assert arm.enhanced_security.automatic_cluster_update is True
    assert arm.enhanced_security.compliance_security_profile is False
    assert arm.enhanced_security.enhanced_security_monitoring is None
    assert arm.cmk_managed_disk and not arm.cmk_managed_services and not arm.cmk_dbfs_root


def test_properties_of_wrong_type_is_a_clear_error() -> None:
    doc = copy.deepcopy(SPEC_SHAPED_WORKSPACE)
    doc["properties"] = ["x"]
    with pytest.raises(SnapshotError.__mro__[1], match="properties: expected an object"):
        parse_workspace_arm(doc)


def test_ids_in_other_casing_still_resolve() -> None:
    def mutate(e: dict[str, Any]) -> None:
        ws = resource(e, "databricks/workspaces")
        p = ws["properties"]["parameters"]["customVirtualNetworkId"]
        p["value"] = p["value"].upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")
        vnet = resource(e, "virtualNetworks")
        for s in vnet["properties"]["subnets"]:
            s["properties"]["networkSecurityGroup"]["id"] = s["properties"]["networkSecurityGroup"]["id"].lower()
    (ws,) = states(compliant_estate(mutate))
    assert ws.network and ws.network.vnet_found and all(s.found for s in ws.network.subnets)
    assert len(ws.network.nsgs) == 1 and ws.network.nsgs[0].found


def test_standalone_subnet_and_rule_resources_are_used() -> None:
    def mutate(e: dict[str, Any]) -> None:
        vnet = resource(e, "virtualNetworks")
        host = vnet["properties"]["subnets"].pop(0)
        host = copy.deepcopy(host)
        host["properties"]["addressPrefix"] = "10.1.0.0/28"
        e["resources"].append(host)  # only standalone, not embedded
        nsg = resource(e, "networkSecurityGroups")
        e["resources"].append(f.nsg_rule(nsg["id"], "open-22", "Inbound", 400, "Tcp", "*", "*", "22"))
    (ws,) = states(compliant_estate(mutate))
    assert ws.network is not None
    host = next(s for s in ws.network.subnets if s.name == "host")
    assert host.found and host.address_prefixes == ("10.1.0.0/28",)
    assert "open-22" in {r.name for r in ws.network.nsgs[0].rules}


def test_workspace_api_payload_shapes() -> None:
    api = parse_workspace_api({"enableIpAccessLists": True, "maxTokenLifetimeDays": None},
                              [{"list_id": "1", "label": "a", "list_type": "allow", "ip_addresses": ["1.2.3.4", "bogus"]}],
                              [{"token_id": "t1", "creation_time": "1000", "expiry_time": -1}])
    assert api.conf == {"enableIpAccessLists": "true", "maxTokenLifetimeDays": None}
    lst = api.ip_access_lists[0]
    assert lst.enabled and lst.list_type == "ALLOW"
    assert str(lst.entries[0].network) == "1.2.3.4/32" and lst.entries[1].network is None
    assert api.tokens[0].creation_time == 1000 and api.tokens[0].expiry_time == -1


def test_token_payload_without_id_is_a_clear_error() -> None:
    with pytest.raises(Exception, match=r"tokens\[0\]"):
        parse_workspace_api({}, [], [{"creation_time": 1}])


def test_sample_estate_is_fresh_and_parses() -> None:
    on_disk = json.loads((ROOT / "samples" / "estate.json").read_text())
    assert on_disk == json.loads(json.dumps(f.sample_estate())), "run: python -m samples.factory > samples/estate.json"
    estate = load_estate(ROOT / "samples" / "estate.json")
    st, errors = estate.workspace_states()
    assert len(st) == 9 and not errors
    assert {s.subscription_id for s in st} == {f.SUB_PROD, f.SUB_DEV}


@pytest.mark.parametrize(("doc", "needle"), [
    ({"schema": "driftwatch.estate/v2"}, "schema"),
    ({"schema": "driftwatch.estate/v1", "resources": [{"type": "x"}]}, "resources[0].id: field required"),
    ({"schema": "driftwatch.estate/v1", "resources": "nope"}, "resources"),
    ({"schema": "driftwatch.estate/v1", "databricks": {"h": {"workspace_conf": [], "x": 1}}}, "databricks.h"),
    ({"schema": "driftwatch.estate/v1", "extra": 1}, "extra: "),
    ([], "expected an object"),
])
def test_bad_snapshot_names_field(doc: Any, needle: str) -> None:
    with pytest.raises(SnapshotError) as exc:
        parse_estate(doc, "snap.json")
    assert str(exc.value).startswith("snap.json") and needle in str(exc.value)


def test_snapshot_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "s.json"
    bad.write_text('{"schema": "driftwatch.estate/v1",')
    with pytest.raises(SnapshotError, match=r"s\.json: line 1"):
        load_estate(bad)
    bad.write_bytes(b'\xff\xfe{"a": 1}')
    with pytest.raises(SnapshotError, match="not UTF-8"):
        load_estate(bad)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SnapshotError):
        load_estate(deep)


def test_workspace_with_bad_id_is_reported_not_crashed() -> None:
    """The estate schema (core/contracts/estate_v1.py, shared with the emulator) names the bad id."""
    e = compliant_estate()
    e["resources"].append({"id": "not-an-id", "type": "Microsoft.Databricks/workspaces", "name": "x"})
    with pytest.raises(SnapshotError) as exc:
        parse_estate(e, "snap.json")
    assert f"snap.json: resources[{len(e['resources']) - 1}].id: not an ARM resource id" in str(exc.value)

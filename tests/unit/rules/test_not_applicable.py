"""Not applicable: classic-compute rules on Serverless workspaces, IP access lists on private-only ones.

Serverless shape: azure-rest-api-specs specification/databricks/resource-manager/Microsoft.Databricks/
Databricks/stable/2026-01-01/examples/WorkspaceCreateServerless.json; databricks.json marks `parameters`,
`requiredNsgRules`, `managedResourceGroupId` and `encryption.entities.managedDisk` "Not allowed in
Serverless ComputeMode workspace". IP access lists "apply only to requests over the internet" (Microsoft
Learn, Azure Databricks IP access lists).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.rules import evaluate_workspace
from core.rules.applicability import PRIVATE_REASON, SERVERLESS_REASON
from core.state.parse import StateError, parse_workspace_arm
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, findings_for, resource, states

CLASSIC_ONLY = {"DBX-WS-002", "DBX-WS-004", "DBX-WS-007", "DBX-NET-001", "DBX-NET-002", "DBX-NET-003",
                "DBX-NET-004", "DBX-NET-005", "DBX-NET-006", "DBX-NET-007"}

# The spec example's 200 body, settled (provisioningState Succeeded), with our ids.
SPEC_SERVERLESS: dict[str, Any] = {
    "id": f"/subscriptions/{f.SUB_PROD}/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/myWorkspace",
    "type": "Microsoft.Databricks/workspaces", "name": "myWorkspace", "location": "East US 2", "tags": None,
    "sku": {"name": "premium"},
    "properties": {
        "computeMode": "Serverless", "provisioningState": "Succeeded",
        "uiDefinitionUri": "https://path/to/workspaceCreateUiDefinition.json",
        "authorizations": [{"principalId": "00000000-0000-0000-0000-000000000000",
                            "roleDefinitionId": "11111111-1111-1111-1111-111111111111"}],
        "createdBy": {"oid": "22222222-2222-2222-2222-222222222222", "puid": "33333333",
                      "applicationId": "44444444-4444-4444-4444-444444444444"},
        "defaultCatalog": {"initialType": "UnityCatalog", "initialName": ""},
        "createdDateTime": "2020-02-20T00:10:29.2858439Z", "workspaceId": "5555555555555555",
        "workspaceUrl": "adb-5555555555555555.19.azuredatabricks.net", "isUcEnabled": True,
    },
}


def _estate(ws: dict[str, Any], api: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"schema": "driftwatch.estate/v1", "subscriptions": [{"subscriptionId": f.SUB_PROD, "displayName": "p", "state": "Enabled"}],
            "resources": [ws, f.diag_doc(ws["id"], ["accounts", "clusters", "jobs", "notebook", "workspace"])],
            "databricks": {ws["properties"]["workspaceUrl"]: api or f.api_state()}}


def test_spec_serverless_example_gets_no_classic_compute_findings() -> None:
    (ws,) = states(_estate(SPEC_SERVERLESS))
    assert ws.arm is not None and ws.arm.serverless
    ev = evaluate_workspace(ws, baseline(allowed_locations=["eastus2"]), now=NOW)
    assert not {fd.rule_id for fd in ev.findings} & CLASSIC_ONLY
    na = {(n.rule_id, n.subject) for n in ev.not_applicable}
    assert {(r, None) for r in CLASSIC_ONLY} <= na
    assert {("DBX-WS-006", "managed_disk"), ("DBX-WS-006", "dbfs_root")} <= na
    assert all(n.reason == SERVERLESS_REASON for n in ev.not_applicable if n.rule_id != "DBX-IPACL-001")
    # not applicable is not a pass: those rules were not evaluated, so nothing of theirs resolves as fixed
    assert not ev.evaluated_rules & CLASSIC_ONLY
    # what Serverless does have is still checked: managed-services CMK, public access, private link
    rules = {(fd.rule_id, fd.subject) for fd in ev.findings}
    assert {("DBX-WS-006", "managed_services"), ("DBX-WS-003", None), ("DBX-WS-005", None)} <= rules


def test_absent_compute_mode_means_classic() -> None:
    def drop(e: dict[str, Any]) -> None:
        resource(e, "databricks/workspaces")["properties"].pop("computeMode")
        resource(e, "databricks/workspaces")["properties"]["parameters"].pop("enableNoPublicIp")
    (ws,) = states(compliant_estate(drop))
    assert ws.arm is not None and ws.arm.compute_mode == "Hybrid" and not ws.arm.serverless
    assert "DBX-WS-002" in {fd.rule_id for fd in findings_for(compliant_estate(drop))}


def test_compute_mode_is_parsed_case_insensitively_and_garbage_is_an_error() -> None:
    doc = {**SPEC_SERVERLESS, "properties": {**SPEC_SERVERLESS["properties"], "computeMode": "serverless"}}
    assert parse_workspace_arm(doc).compute_mode == "Serverless"
    bad = {**SPEC_SERVERLESS, "properties": {**SPEC_SERVERLESS["properties"], "computeMode": "Classic"}}
    with pytest.raises(StateError, match=r"properties\.computeMode"):
        parse_workspace_arm(bad)


def test_serverless_cmk_only_managed_services_applies() -> None:
    ws = f.serverless_workspace_doc(f.SUB_PROD, "rg", "sl", 77, public_access="Disabled", private_endpoint="Approved",
                                    cmk=True)
    ev = evaluate_workspace(states(_estate(ws))[0], baseline(), now=NOW)
    assert "DBX-WS-006" in ev.evaluated_rules and not [x for x in ev.findings if x.rule_id == "DBX-WS-006"]
    assert [n.subject for n in ev.not_applicable if n.rule_id == "DBX-WS-006"] == ["managed_disk", "dbfs_root"]


def test_private_only_workspace_ip_access_lists_not_applicable_by_default() -> None:
    b = baseline(ip_access_lists={"enforced": True, "allow": list(f.BASELINE_ALLOW), "widest_allow_prefix": 16})
    api = f.api_state(conf={**f.COMPLIANT_CONF, "enableIpAccessLists": "false"}, allow=["0.0.0.0/0"])
    (ws,) = states(compliant_estate(api=api))
    assert ws.arm is not None and ws.arm.public_network_access == "Disabled"
    ev = evaluate_workspace(ws, b, now=NOW)
    assert not [x for x in ev.findings if x.rule_id.startswith("DBX-IPACL")]
    assert {n.rule_id for n in ev.not_applicable} == {"DBX-IPACL-001", "DBX-IPACL-002", "DBX-IPACL-003"}
    assert {n.reason for n in ev.not_applicable} == {PRIVATE_REASON}
    # `when_private: check` keeps them as defence in depth
    strict = baseline(ip_access_lists={"enforced": True, "allow": list(f.BASELINE_ALLOW), "widest_allow_prefix": 16,
                                       "when_private": "check"})
    ev = evaluate_workspace(ws, strict, now=NOW)
    assert {"DBX-IPACL-001", "DBX-IPACL-002", "DBX-IPACL-003"} <= {x.rule_id for x in ev.findings}
    assert not ev.not_applicable


def test_public_workspace_keeps_ip_access_lists() -> None:
    b = baseline(ip_access_lists={"enforced": True})
    api = f.api_state(conf={**f.COMPLIANT_CONF, "enableIpAccessLists": "false"})
    public = compliant_estate(lambda e: resource(e, "databricks/workspaces")["properties"].update(
        publicNetworkAccess="Enabled"), api=api)
    assert "DBX-IPACL-001" in {x.rule_id for x in findings_for(public, b)}


def test_when_private_is_a_strict_baseline_key() -> None:
    from core.baseline import BaselineError

    with pytest.raises(BaselineError, match="when_private"):
        baseline(ip_access_lists={"when_private": "sometimes"})

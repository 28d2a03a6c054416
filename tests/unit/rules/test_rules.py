"""Every rule of the catalogue: a violating and a compliant case, through real ARM-shaped documents."""

from __future__ import annotations

from typing import Any

import pytest

from core.catalogue import RULE_IDS
from core.rules import RULES, evaluate_workspace, identity_of
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, findings_for, resource, states


def rule_ids(findings: list[Any]) -> list[str]:
    return sorted(fd.rule_id for fd in findings)


def test_registry_matches_catalogue() -> None:
    assert list(RULES) == list(RULE_IDS)
    for r in RULES.values():
        assert r.title and r.remediation and r.reads, r.id
        assert r.severity in ("critical", "high", "medium", "low", "info")


def test_compliant_workspace_has_no_findings() -> None:
    assert findings_for(compliant_estate()) == []


def _ws(e: dict[str, Any]) -> dict[str, Any]:
    return resource(e, "databricks/workspaces")


def _params(e: dict[str, Any]) -> dict[str, Any]:
    return _ws(e)["properties"]["parameters"]


CASES: list[tuple[str, Any, str | None]] = [
    ("DBX-WS-001", lambda e: _ws(e)["sku"].update(name="standard"), None),
    ("DBX-WS-002", lambda e: _params(e).pop("enableNoPublicIp"), None),
    ("DBX-WS-002", lambda e: _params(e).update(enableNoPublicIp={"type": "Bool", "value": False}), None),
    ("DBX-WS-003", lambda e: _ws(e)["properties"].update(publicNetworkAccess="Enabled"), None),
    ("DBX-WS-004", lambda e: _ws(e)["properties"].update(requiredNsgRules="NoAzureDatabricksRules"), None),
    ("DBX-WS-005", lambda e: _ws(e)["properties"]["privateEndpointConnections"][0]["properties"]
     ["privateLinkServiceConnectionState"].update(status="Pending"), None),
    ("DBX-WS-006", lambda e: _ws(e)["properties"]["encryption"]["entities"].pop("managedDisk"), "managed_disk"),
    ("DBX-WS-006", lambda e: _params(e).pop("encryption"), "dbfs_root"),
    ("DBX-WS-007", lambda e: _params(e).update(requireInfrastructureEncryption={"type": "Bool", "value": False}),
     None),
    ("DBX-WS-008", lambda e: _ws(e)["properties"]["enhancedSecurityCompliance"]["enhancedSecurityMonitoring"]
     .update(value="Disabled"), "enhancedSecurityMonitoring"),
    ("DBX-WS-009", lambda e: _ws(e).update(location="East US 2"), None),
    ("DBX-WS-010", lambda e: resource(e, "diagnosticSettings")["properties"].update(
        logs=[{"category": "accounts", "enabled": True}]), None),
    ("DBX-NET-001", lambda e: [_params(e).pop(k) for k in ("customVirtualNetworkId", "customPublicSubnetName",
                                                             "customPrivateSubnetName")], None),
    ("DBX-NET-002", lambda e: resource(e, "virtualNetworks")["properties"]["subnets"][0]["properties"]
     .update(delegations=[]), "host"),
    ("DBX-NET-003", lambda e: resource(e, "virtualNetworks")["properties"]["subnets"][1]["properties"]
     .pop("networkSecurityGroup"), "container"),
    ("DBX-NET-004", lambda e: resource(e, "networkSecurityGroups")["properties"]["securityRules"].pop(3),
     "nsg-a/Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-storage"),
    ("DBX-NET-005", lambda e: resource(e, "networkSecurityGroups")["properties"]["securityRules"].append(
        f.nsg_rule("x", "allow-rdp", "Inbound", 300, "Tcp", "Internet", "*", "3389")), "allow-rdp"),
    ("DBX-NET-006", lambda e: resource(e, "virtualNetworks")["properties"]["subnets"][0]["properties"]
     .update(addressPrefix="10.1.0.0/28"), "host"),
    ("DBX-NET-007", lambda e: resource(e, "virtualNetworks")["properties"]["subnets"][0]["properties"]
     .pop("natGateway"), "host"),
]


@pytest.mark.parametrize(("rule_id", "mutate", "subject"), CASES, ids=[c[0] for c in CASES])
def test_arm_rule_violation(rule_id: str, mutate: Any, subject: str | None) -> None:
    found = findings_for(compliant_estate(mutate))
    mine = [fd for fd in found if fd.rule_id == rule_id]
    assert mine, f"{rule_id} not raised; got {rule_ids(found)}"
    if subject is not None:
        assert subject.lower() in {(fd.subject or "").lower() for fd in mine}
    assert all(fd.status == "open" and fd.remediation for fd in mine)


def _api(**kw: Any) -> dict[str, Any]:
    return f.api_state(**kw)


API_CASES: list[tuple[str, dict[str, Any], set[str | None]]] = [
    ("DBX-IPACL-001", _api(conf=dict(f.COMPLIANT_CONF, enableIpAccessLists="false")), {None}),
    ("DBX-IPACL-002", _api(allow=["203.0.113.0/24", "192.0.2.99"]), {"198.51.100.7/32", "192.0.2.99/32"}),
    ("DBX-IPACL-003", _api(allow=[*f.BASELINE_ALLOW, "10.0.0.0/8"]), {"10.0.0.0/8"}),
    ("DBX-IPACL-003", _api(allow=[*f.BASELINE_ALLOW, "::/0"]), {"::/0"}),
    ("DBX-IPACL-004", _api(block=[]), {"192.0.2.0/24"}),
    ("DBX-CONF-001", _api(conf=dict(f.COMPLIANT_CONF, enableDbfsFileBrowser="true")), {"enableDbfsFileBrowser"}),
    ("DBX-TOKEN-001", _api(conf=dict(f.COMPLIANT_CONF, maxTokenLifetimeDays="120")), {None}),
    ("DBX-TOKEN-001", _api(conf={k: v for k, v in f.COMPLIANT_CONF.items() if k != "maxTokenLifetimeDays"}), {None}),
    ("DBX-TOKEN-002", _api(tokens=[f.token("t-forever", None), f.token("t-long", 91), f.token("t-ok", 90)]),
     {"t-forever", "t-long"}),
]


@pytest.mark.parametrize(("rule_id", "api", "subjects"), API_CASES, ids=[c[0] for c in API_CASES])
def test_workspace_api_rule_violation(rule_id: str, api: dict[str, Any], subjects: set[str | None]) -> None:
    found = [fd for fd in findings_for(compliant_estate(api=api)) if fd.rule_id == rule_id]
    assert {fd.subject for fd in found} == subjects


def test_bare_address_equals_its_slash_32() -> None:
    assert findings_for(compliant_estate(api=f.api_state(allow=["203.0.113.0/24", "198.51.100.7"]))) == []


def test_disabled_allow_list_does_not_count() -> None:
    found = findings_for(compliant_estate(api=f.api_state(allow_enabled=False)))
    assert {fd.subject for fd in found if fd.rule_id == "DBX-IPACL-002"} == {"203.0.113.0/24", "198.51.100.7/32"}


def test_block_entry_covered_by_wider_block_counts() -> None:
    found = findings_for(compliant_estate(api=f.api_state(block=["192.0.0.0/16"])))
    assert "DBX-IPACL-004" not in rule_ids(found)


def test_widest_prefix_boundary() -> None:
    ok = findings_for(compliant_estate(api=f.api_state(allow=[*f.BASELINE_ALLOW, "10.1.0.0/16"])))
    assert "DBX-IPACL-003" not in rule_ids(ok)
    wide = findings_for(compliant_estate(api=f.api_state(allow=[*f.BASELINE_ALLOW, "10.0.0.0/15"])))
    assert "DBX-IPACL-003" in rule_ids(wide)


def test_zero_slash_zero_is_always_a_finding_even_without_prefix_limit() -> None:
    b = baseline(ip_access_lists={"allow": [*f.BASELINE_ALLOW, "0.0.0.0/0"], "when_private": "check"})
    found = findings_for(compliant_estate(api=f.api_state(allow=[*f.BASELINE_ALLOW, "0.0.0.0/0"])), b)
    assert [fd.subject for fd in found if fd.rule_id == "DBX-IPACL-003"] == ["0.0.0.0/0"]


def test_missing_workspace_api_gives_eval_002_and_keeps_api_rules_unevaluated() -> None:
    (ws,) = states(compliant_estate(with_api=False))
    ev = evaluate_workspace(ws, baseline(), now=NOW)
    assert rule_ids(ev.findings) == ["DBX-EVAL-002"]
    eff = baseline().effective_for(identity_of(ws))
    api_rules = {r.id for r in RULES.values() if r.needs == "workspace_api" and r.applies(eff.settings)}
    assert api_rules and not (api_rules & ev.evaluated_rules)
    assert "DBX-WS-001" in ev.evaluated_rules


def test_no_eval_002_when_baseline_has_no_in_workspace_rule() -> None:
    b = baseline(ip_access_lists=None, workspace_conf=None, tokens=None)
    (ws,) = states(compliant_estate(with_api=False))
    assert evaluate_workspace(ws, b, now=NOW).findings == []


def test_nsg_open_rule_one_finding_per_rule_and_managed_rules_ignored() -> None:
    def mutate(e: dict[str, Any]) -> None:
        rules = resource(e, "networkSecurityGroups")["properties"]["securityRules"]
        rules.append(f.nsg_rule("x", "any-in", "Inbound", 310, "*", "*", "*", "*"))
        rules.append(f.nsg_rule("x", "wide-in", "Inbound", 320, "Tcp", "0.0.0.0/0", "*", "443"))
        rules.append(f.nsg_rule("x", "deny-in", "Inbound", 330, "*", "Internet", "*", "*", access="Deny"))
        rules.append(f.nsg_rule("x", "out", "Outbound", 340, "*", "*", "Internet", "*"))
        rules.append(f.nsg_rule("x", "corp", "Inbound", 350, "Tcp", "203.0.113.0/24", "*", "22"))
    found = [fd for fd in findings_for(compliant_estate(mutate)) if fd.rule_id == "DBX-NET-005"]
    assert sorted(fd.subject for fd in found) == ["any-in", "wide-in"]


def test_source_prefixes_plural_is_read() -> None:
    def mutate(e: dict[str, Any]) -> None:
        r = f.nsg_rule("x", "multi", "Inbound", 300, "Tcp", "", "*", "22")
        r["properties"].pop("sourceAddressPrefix")
        r["properties"]["sourceAddressPrefixes"] = ["10.0.0.0/8", "0.0.0.0/0"]
        resource(e, "networkSecurityGroups")["properties"]["securityRules"].append(r)
    assert "DBX-NET-005" in rule_ids(findings_for(compliant_estate(mutate)))


def test_modified_managed_rule_is_reported() -> None:
    def mutate(e: dict[str, Any]) -> None:
        for r in resource(e, "networkSecurityGroups")["properties"]["securityRules"]:
            if r["name"].endswith("worker-to-sql"):
                r["properties"]["access"] = "Deny"
    found = [fd for fd in findings_for(compliant_estate(mutate)) if fd.rule_id == "DBX-NET-004"]
    assert len(found) == 1 and found[0].actual["access"] == "Deny"


def test_without_scc_control_plane_rules_are_required() -> None:
    b = baseline(secure_cluster_connectivity=None)
    found = findings_for(compliant_estate(lambda e: _params(e).update(
        enableNoPublicIp={"type": "Bool", "value": False})), b)
    subjects = {fd.subject for fd in found if fd.rule_id == "DBX-NET-004"}
    assert any("control-plane-to-worker-ssh" in (s or "") for s in subjects)


def test_shared_subnet_is_reported_for_both_workspaces() -> None:
    def mutate(e: dict[str, Any]) -> None:
        vnet = resource(e, "virtualNetworks")
        other = f.workspace_doc(f.SUB_PROD, "rg-b", "dbw-b", 4343, vnet_id=vnet["id"])
        e["resources"].append(other)
        e["resources"].append(f.diag_doc(other["id"], all_logs=True))
        e["databricks"][other["properties"]["workspaceUrl"]] = f.api_state()
    found = [fd for fd in findings_for(compliant_estate(mutate)) if fd.rule_id == "DBX-NET-006"]
    assert {fd.workspace_name for fd in found} == {"dbw-a", "dbw-b"}


def test_missing_vnet_is_reported_not_crashed() -> None:
    def mutate(e: dict[str, Any]) -> None:
        e["resources"] = [r for r in e["resources"] if not r["type"].endswith("virtualNetworks")]
    found = findings_for(compliant_estate(mutate))
    assert {fd.subject for fd in found if fd.rule_id == "DBX-NET-002"} == {"host", "container"}


def test_egress_mode_route_table_only() -> None:
    b = baseline(network={"vnet_injection": True, "egress": "route_table"})
    found = findings_for(compliant_estate(), b)
    assert sorted(fd.subject for fd in found if fd.rule_id == "DBX-NET-007") == ["container", "host"]


def test_allowed_vnets() -> None:
    b = baseline(network={"vnet_injection": True, "allowed_vnets": [
        f"/subscriptions/{f.SUB_PROD}/resourceGroups/rg-x/providers/Microsoft.Network/virtualNetworks/hub"]})
    assert "DBX-NET-001" in rule_ids(findings_for(compliant_estate(), b))


def test_diagnostics_all_logs_group_satisfies_every_category() -> None:
    def mutate(e: dict[str, Any]) -> None:
        resource(e, "diagnosticSettings")["properties"]["logs"] = [{"categoryGroup": "allLogs", "enabled": True}]
    assert findings_for(compliant_estate(mutate)) == []


def test_diagnostic_setting_without_destination_does_not_count() -> None:
    def mutate(e: dict[str, Any]) -> None:
        resource(e, "diagnosticSettings")["properties"].pop("workspaceId")
    assert "DBX-WS-010" in rule_ids(findings_for(compliant_estate(mutate)))


def test_severity_override_and_disabled_rules() -> None:
    e = compliant_estate(lambda e: _ws(e).update(location="eastus"))
    found = findings_for(e, baseline(severity={"DBX-WS-009": "critical"}))
    assert [fd.severity for fd in found if fd.rule_id == "DBX-WS-009"] == ["critical"]
    assert findings_for(e, baseline(disabled_rules=["DBX-WS-009"])) == []


def test_location_display_and_canonical_names_match() -> None:
    for loc in ("West Europe", "westeurope", "WestEurope", "west europe"):
        assert findings_for(compliant_estate(lambda e, loc=loc: _ws(e).update(location=loc))) == []


def test_unset_checks_are_not_evaluated_as_findings() -> None:
    from core.baseline import parse_baseline

    empty = parse_baseline({"schema": "driftwatch.baseline/v1"}, "empty")
    e = compliant_estate(lambda e: _ws(e)["sku"].update(name="trial"))
    assert findings_for(e, empty) == []


def test_absent_public_network_access_means_enabled() -> None:
    e = compliant_estate(lambda e: _ws(e)["properties"].pop("publicNetworkAccess"))
    assert [fd.actual for fd in findings_for(e) if fd.rule_id == "DBX-WS-003"] == ["Enabled"]
    assert findings_for(e, baseline(public_network_access="Enabled")) == []

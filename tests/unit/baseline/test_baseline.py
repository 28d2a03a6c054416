"""Baseline loading: strict schema, clear errors, scopes, exemptions, canonical hash."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.baseline import BaselineError, WorkspaceIdentity, load_baseline, parse_baseline
from core.rules import evaluate_workspace
from samples import factory as f
from tests.support.estates import NOW, compliant_estate, resource, states

ROOT = Path(__file__).resolve().parents[3]


def ident(**kw: Any) -> WorkspaceIdentity:
    base = {"resource_id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w",
            "name": "w", "subscription_id": "s1", "resource_group": "rg", "tags": {}}
    return WorkspaceIdentity(**{**base, **kw})


def test_example_baseline_is_valid_and_documents_every_key() -> None:
    b = load_baseline(ROOT / "baseline.example.yaml")
    d = b.document.defaults
    assert d.sku == "premium" and d.network and d.ip_access_lists and d.tokens
    text = (ROOT / "baseline.example.yaml").read_text()
    from core.baseline.model import (
        IpAccessListsBaseline,
        NetworkBaseline,
        Settings,
        TokensBaseline,
        WorkspaceSettingsBaseline,
    )
    for model in (Settings, NetworkBaseline, IpAccessListsBaseline, TokensBaseline, WorkspaceSettingsBaseline):
        for name in model.model_fields:
            assert f"{name}:" in text, f"baseline.example.yaml does not document {name}"


@pytest.mark.parametrize(("doc", "needle"), [
    ({"defaults": {"skuu": "premium"}}, "defaults.skuu: unknown key"),
    ({"defaults": {"network": {"min_subnet_prefx": 26}}}, "defaults.network.min_subnet_prefx: unknown key"),
    ({"defaults": {"ip_access_lists": {"allow": ["10.0.0.0/8", "10.0.0.300"]}}},
     "defaults.ip_access_lists.allow[1]: '10.0.0.300' is not a valid CIDR"),
    ({"defaults": {"disabled_rules": ["DBX-WS-999"]}}, "defaults.disabled_rules[0]: unknown rule id 'DBX-WS-999'"),
    ({"defaults": {"severity": {"DBX-NOPE": "high"}}}, "unknown rule id 'DBX-NOPE'"),
    ({"defaults": {"severity": {"DBX-WS-001": "urgent"}}}, "defaults.severity.DBX-WS-001"),
    ({"exemptions": [{"rule": "DBX-NET-005", "resource": "*", "reason": "r"}]}, "exemptions[0].expires: Field required"),
    ({"exemptions": [{"rule": "DBX-XX-1", "resource": "*", "reason": "r", "expires": "2030-01-01"}]},
     "exemptions[0].rule: unknown rule id"),
    ({"scopes": [{"name": "x", "match": {"tag": {"a": "b"}}, "set": {}}]}, "scopes[0].match.tag: unknown key"),
    ({"defaults": {"public_network_access": "enabled"}}, "defaults.public_network_access"),
])
def test_bad_baseline_names_file_field_and_value(doc: dict[str, Any], needle: str) -> None:
    with pytest.raises(BaselineError) as exc:
        parse_baseline({"schema": "driftwatch.baseline/v1", **doc}, "bad.yaml")
    assert str(exc.value).startswith("bad.yaml: ")
    assert needle in str(exc.value)


def test_wrong_schema_and_non_mapping() -> None:
    with pytest.raises(BaselineError, match="schema"):
        parse_baseline({"schema": "driftwatch.baseline/v2"}, "b.yaml")
    with pytest.raises(BaselineError, match="expected a mapping"):
        parse_baseline(["a"], "b.yaml")


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    p = tmp_path / "b.yaml"
    p.write_text("schema: driftwatch.baseline/v1\ndefaults:\n  sku: [premium\n")
    with pytest.raises(BaselineError, match=r"b\.yaml: line \d+"):
        load_baseline(p)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="file not found"):
        load_baseline(tmp_path / "nope.yaml")
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BaselineError, match=r"bin\.yaml"):
        load_baseline(p)


def test_json_baseline_is_accepted(tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    p.write_text('{"schema": "driftwatch.baseline/v1", "defaults": {"sku": "premium"}}')
    assert load_baseline(p).document.defaults.sku == "premium"


def test_yaml_booleans_in_workspace_conf_become_strings() -> None:
    b = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {"workspace_conf": {"a": True, "b": 90}}})
    assert b.document.defaults.workspace_conf == {"a": "true", "b": "90"}


def test_scopes_merge_in_order_later_wins_and_nested_maps_merge() -> None:
    b = parse_baseline({
        "schema": "driftwatch.baseline/v1",
        "defaults": {"public_network_access": "Disabled", "network": {"vnet_injection": True, "min_subnet_prefix": 24},
                     "severity": {"DBX-WS-009": "medium"}},
        "scopes": [
            {"name": "dev", "match": {"tags": {"env": "dev"}}, "set": {"public_network_access": "Enabled",
                                                                       "network": {"min_subnet_prefix": 26}}},
            {"name": "sandbox", "match": {"names": ["SBX-*"]}, "set": {"public_network_access": "Disabled",
                                                                     "severity": {"DBX-WS-001": "low"}}},
            {"name": "rg", "match": {"resource_groups": ["RG"], "subscriptions": ["S1"]}, "set": {"sku": "premium"}},
        ],
    })
    dev = b.effective_for(ident(tags={"Env": "dev"}))
    assert dev.settings.public_network_access == "Enabled"
    assert dev.settings.network and dev.settings.network.vnet_injection is True
    assert dev.settings.network.min_subnet_prefix == 26
    both = b.effective_for(ident(name="sbx-1", tags={"env": "dev"}))
    assert both.settings.public_network_access == "Disabled"
    assert both.settings.severity == {"DBX-WS-009": "medium", "DBX-WS-001": "low"}
    assert both.scopes == ("dev", "sandbox", "rg")
    assert b.effective_for(ident(tags={"env": "prod"}, resource_group="other")).scopes == ()
    assert b.effective_for(ident(tags={"env": "DEV"}, resource_group="x")).scopes == ()  # tag values are exact


def test_scope_null_switches_a_check_off() -> None:
    b = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {"private_link": "required"},
                        "scopes": [{"name": "dev", "match": {"names": ["dev-*"]}, "set": {"private_link": None}}]})
    assert b.effective_for(ident(name="dev-1")).settings.private_link is None
    assert b.effective_for(ident(name="prod-1")).settings.private_link == "required"


def test_sha256_is_canonical() -> None:
    a = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {"sku": "premium", "allowed_locations": ["westeurope"]}})
    b = parse_baseline({"defaults": {"allowed_locations": ["West Europe"], "sku": "premium"}, "schema": "driftwatch.baseline/v1"})
    c = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {"sku": "standard"}})
    assert a.sha256 == b.sha256 != c.sha256
    assert len(a.sha256) == 64


def _exempt_baseline(expires: str, subject: str | None = "allow-rdp", resource: str | None = None) -> Any:
    rid = resource or "/SUBSCRIPTIONS/*/resourcegroups/RG-A/providers/Microsoft.Databricks/workspaces/*"
    ex: dict[str, Any] = {"rule": "DBX-NET-005", "resource": rid, "reason": "vendor", "expires": expires,
                          "approved_by": "sec"}
    if subject:
        ex["subject"] = subject
    from tests.support.estates import STRICT_BASELINE
    return parse_baseline({**STRICT_BASELINE, "exemptions": [ex]}, "ex.yaml")


def _open_rdp(e: dict[str, Any]) -> None:
    resource(e, "networkSecurityGroups")["properties"]["securityRules"].append(
        f.nsg_rule("x", "allow-rdp", "Inbound", 300, "Tcp", "Internet", "*", "3389"))


def test_exemption_by_glob_case_insensitive_marks_finding_exempted() -> None:
    (ws,) = states(compliant_estate(_open_rdp))
    (fd,) = evaluate_workspace(ws, _exempt_baseline("2027-03-31"), now=NOW).findings
    assert fd.status == "exempted"
    assert fd.exemption and fd.exemption["reason"] == "vendor" and fd.exemption["expired"] is False
    assert fd.exemption["expires"] == "2027-03-31"


def test_expired_exemption_no_longer_applies() -> None:
    (ws,) = states(compliant_estate(_open_rdp))
    (fd,) = evaluate_workspace(ws, _exempt_baseline("2026-11-25"), now=NOW).findings
    assert fd.status == "open"
    assert "exemption expired on 2026-11-25" in fd.message
    assert fd.exemption and fd.exemption["expired"] is True


def test_exemption_expiring_today_still_applies() -> None:
    b = _exempt_baseline(NOW.date().isoformat())
    assert b.exemption_for("DBX-NET-005", "/subscriptions/x/resourceGroups/rg-a/providers/Microsoft.Databricks/"
                           "workspaces/w", "allow-rdp", NOW.date()).expired is False  # type: ignore[union-attr]
    assert b.exemption_for("DBX-NET-005", "/subscriptions/x/resourceGroups/rg-a/providers/Microsoft.Databricks/"
                           "workspaces/w", "allow-rdp", date(2026, 11, 27)).expired is True  # type: ignore[union-attr]


def test_exemption_subject_must_match() -> None:
    (ws,) = states(compliant_estate(_open_rdp))
    (fd,) = evaluate_workspace(ws, _exempt_baseline("2027-03-31", subject="something-else"), now=NOW).findings
    assert fd.status == "open" and fd.exemption is None


def test_exemption_by_exact_id_other_casing() -> None:
    (ws,) = states(compliant_estate(_open_rdp))
    (fd,) = evaluate_workspace(ws, _exempt_baseline("2027-03-31", subject=None, resource=ws.resource_id.upper()),
                               now=NOW).findings
    assert fd.status == "exempted"

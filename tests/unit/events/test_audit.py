"""Audit routing (core/events/audit*.py): Databricks diagnostic records -> rule families, attribution.

The fixture `tests/fixtures/audit-eventhub-body.json` is one Event Hubs event body as a workspace's
diagnostic setting writes it: the Azure Monitor resource-log envelope `{"records": [...]}` with the
top-level fields `time`, `resourceId` (upper-case), `operationName`, `operationVersion`, `category`,
`identity` and the Databricks fields under `properties` (Microsoft Learn, "Diagnostic logging in Azure
Databricks": diagnostic log schema and sample output; Azure Monitor "Common and service-specific schemas
for Azure resource logs"). `identity`, `requestParams` and `response` are JSON strings as Event Hubs
delivers them (record 1 has the object form Log Analytics shows); `sourceIPAddress` is null, bare or
`ip:port`. Record 6 is malformed (no serviceName); record 5 is a real job-run record shape.
Service/action names follow Databricks' "Audit log reference".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.events.audit import parse_event_body, route_audit_batch, source_ip, workspace_of
from core.events.audit_table import KNOWN_FAMILIES, TABLE_PATH, AuditTableError, load_audit_table, parse_audit_table
from core.events.route import parse_event
from core.findings.model import ChangeAttribution
from core.rules import RULES

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "audit-eventhub-body.json"
WS = "/SUBSCRIPTIONS/1B0C4E2A-1111-4C1E-9A51-2F6A0C9D7E01/RESOURCEGROUPS/RG-ANALYTICS/PROVIDERS/MICROSOFT.DATABRICKS/WORKSPACES/DBW-ANALYTICS-PROD"
EXISTING = frozenset(r.family for r in RULES.values())


def body() -> bytes:
    return FIXTURE.read_bytes()


def test_every_record_of_the_fixture_gets_the_documented_decision() -> None:
    out = route_audit_batch([body()])
    got = [(d.action, d.families, d.unknown) for d in out.decisions]
    assert got == [
        ("scan", ["CONF", "IPACL"], False),   # workspaceConfEdit enableIpAccessLists=false
        ("scan", ["IPACL"], False),           # createIpAccessList (object-form fields)
        ("ignore", [], False),                # revokeDbToken answered 403: nothing changed
        ("ignore", [], False),                # getSecret: read-only
        ("scan", ["SEC"], False),             # putAcl: a secret scope ACL changed (DBX-SEC-003, issue 12)
        ("ignore", [], True),                 # jobs.runSucceeded: not in the table, counted as unknown
        ("reject", [], False),                # no serviceName
        ("scan", ["TOKEN"], False),           # generateDbToken by an application, IPv6 source
    ]
    assert out.counts["records"] == 8 and out.counts["scan"] == 4 and out.counts["ignore"] == 3
    assert out.counts["reject"] == 1 and out.counts["unknown"] == 1
    assert all(d.workspaces == [WS] for d in out.decisions if d.action != "reject")
    reasons = [d.reason for d in out.decisions]
    assert "failed (statusCode 403)" in reasons[2]
    assert "read-only" in reasons[3]
    assert "not an action driftwatch routes" in reasons[5]
    assert "properties.serviceName missing" in reasons[6]


def test_attribution_keeps_names_and_addresses_only() -> None:
    out = route_audit_batch([body()])
    first, second, last = out.decisions[0], out.decisions[1], out.decisions[7]
    assert first.attribution == ChangeAttribution(changed_by="jane@contoso.com", changed_from="203.0.113.9",
                                                  change_event_id="5f0d3c1e-7a21-4c0b-9a55-0c1e2d3f4a01",
                                                  change_summary="disabled IP access lists")
    assert first.attribution.sentence("opened") == \
        "opened after jane@contoso.com disabled IP access lists from 203.0.113.9"
    assert second.attribution is not None and second.attribution.changed_from == "203.0.113.9"  # ":0" dropped
    assert last.attribution is not None and last.attribution.changed_from == "2001:db8::17"
    text = json.dumps([d.contract_dict() | {"attribution": d.attribution and d.attribution.fields()} for d in out.decisions])
    assert "db-password" not in text and "tokenExpirationTime" not in text and "vpn" not in text


def test_malformed_bodies_are_rejected_and_the_rest_of_the_batch_still_routes() -> None:
    good = json.dumps({"records": [json.loads(body())["records"][0]]})
    out = route_audit_batch([b"\xff\xfe not utf-8", b"{not json", b'{"value": []}', b"[]", good])
    actions = [d.action for d in out.decisions]
    assert actions == ["reject", "reject", "reject", "reject", "scan"]
    assert "not UTF-8" in out.decisions[0].reason and "not JSON" in out.decisions[1].reason
    assert '"records" array' in out.decisions[2].reason


@pytest.mark.parametrize("record, reason", [
    ("not an object", "expected a JSON object"),
    ({"resourceId": WS, "properties": "{broken"}, "properties is a string but not JSON"),
    ({"resourceId": WS}, "properties missing"),
    ({"resourceId": WS, "properties": {"serviceName": "accounts"}}, "actionName missing"),
    ({"properties": {"serviceName": "accounts", "actionName": "add"}}, "resourceId missing"),
    ({"resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/R/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V",
      "properties": {"serviceName": "accounts", "actionName": "add"}}, "not an Azure Databricks workspace id"),
])
def test_each_kind_of_malformed_record_is_named(record: object, reason: str) -> None:
    out = route_audit_batch([json.dumps({"records": [record]})])
    assert out.decisions[0].action == "reject" and reason in out.decisions[0].reason


def test_a_string_encoded_properties_object_is_accepted() -> None:
    rec = json.loads(body())["records"][0]
    rec["properties"] = json.dumps(rec["properties"])
    out = route_audit_batch([json.dumps({"records": [rec]})])
    assert out.decisions[0].action == "scan" and out.decisions[0].families == ["CONF", "IPACL"]


def test_undecodable_nested_fields_never_lose_the_change() -> None:
    rec = json.loads(body())["records"][0]
    rec["properties"]["requestParams"] = "{nope"
    rec["properties"]["response"] = "{nope"
    rec["identity"] = "{nope"
    d = route_audit_batch([json.dumps({"records": [rec]})]).decisions[0]
    # unknown keys: every workspace-conf family that exists is scanned; unknown author, still routed
    assert d.action == "scan" and {"CONF", "IPACL", "TOKEN"} <= set(d.families)
    assert d.attribution is not None and d.attribution.changed_by is None


def test_conf_edit_routes_by_key() -> None:
    rec = json.loads(body())["records"][0]
    rec["properties"]["requestParams"] = json.dumps({"workspaceConfKeys": "maxTokenLifetimeDays",
                                                     "workspaceConfValues": "3650"})
    d = route_audit_batch([json.dumps({"records": [rec]})]).decisions[0]
    assert d.families == ["CONF", "TOKEN"]
    assert d.attribution and d.attribution.change_summary == "changed workspace setting maxTokenLifetimeDays"
    assert "3650" not in json.dumps(d.contract_dict()) + str(d.attribution)


def test_source_ip_forms() -> None:
    assert source_ip("18.193.11.166:0") == "18.193.11.166"
    assert source_ip("[2001:db8::1]:443") == "2001:db8::1"
    assert source_ip("2001:db8::1") == "2001:db8::1"
    assert source_ip(None) is None and source_ip("None") is None and source_ip("<script>") is None


def test_workspace_of_takes_the_workspace_from_any_child_id() -> None:
    assert workspace_of(WS + "/PRIVATEENDPOINTCONNECTIONS/PE1") == WS
    assert workspace_of("/subscriptions/s/providers/Microsoft.Databricks/workspaces/w") is None  # no RG


def test_the_routing_table_names_only_known_families_and_cites_its_sources() -> None:
    table = load_audit_table()
    used = set().union(*(a.families for a in table.actions.values()))
    used |= set().union(*(k.families for k in table.conf_keys.values()))
    assert used <= KNOWN_FAMILIES
    # The families the issue names that have no rules yet (issues 12 and 13) are mapped, and route nothing.
    assert {"IAM", "SEC", "SET", "CLU"} <= used
    assert {"IPACL", "CONF", "TOKEN"} <= used & EXISTING
    assert json.loads(TABLE_PATH.read_text())["sources"]
    for service, action in [("workspace", "workspaceConfEdit"), ("accounts", "createIpAccessList"),
                            ("accounts", "updateIpAccessList"), ("accounts", "deleteIpAccessList"),
                            ("accounts", "generateDbToken"), ("accounts", "revokeDbToken"),
                            ("accounts", "changeDbTokenAcl"), ("accounts", "addPrincipalToGroup"),
                            ("secrets", "putAcl"), ("globalInitScripts", "create"), ("clusters", "edit"),
                            ("clusterPolicies", "edit"), ("workspace", "setSetting")]:
        assert (service.lower(), action.lower()) in table.actions, (service, action)


def test_a_table_mistake_names_the_file_and_field() -> None:
    doc = {"schema": "driftwatch.audit-routing/v1", "sources": [{"what": "x", "where": "y"}],
           "actions": [{"service": "accounts", "action": "add", "families": ["IAMM"], "summary": "s"}]}
    with pytest.raises(AuditTableError, match=r"t\.json: actions\[0\]: unknown rule family IAMM"):
        parse_audit_table(doc, "t.json")
    doc["actions"][0]["families"] = ["IAM"]
    doc["read_only"] = [{"service": "accounts", "action": "add"}]
    with pytest.raises(AuditTableError, match="both routed and read-only"):
        parse_audit_table(doc, "t.json")


def test_ten_thousand_records_route_without_error() -> None:
    rec = json.loads(body())["records"][0]
    out = route_audit_batch([json.dumps({"records": [rec] * 10_000})])
    assert out.counts["scan"] == 10_000


def test_parse_event_body_requires_the_records_envelope() -> None:
    assert len(parse_event_body(body())) == 8


# -- Event Grid attribution (ARM changes) ---------------------------------------------------------

def test_event_grid_claims_give_who_and_where() -> None:
    """`data.claims` / `data.authorization` / `data.httpRequest` as in Microsoft Learn's Azure Resource
    Manager Event Grid example (azure-docs articles/event-grid/event-schema-subscriptions.md)."""
    rid = ("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg/"
           "securityRules/allow-ssh")
    raw = {"id": "ev-1", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": rid,
           "topic": "/subscriptions/s1", "eventTime": "2026-12-01T09:00:00Z", "dataVersion": "2",
           "data": {"authorization": {"scope": rid, "action": "Microsoft.Network/networkSecurityGroups/securityRules/write",
                                      "evidence": {"role": "Contributor"}},
                    "claims": {"aud": "https://management.core.windows.net/", "ipaddr": "203.0.113.9",
                               "name": "Jane Doe", "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "jane@contoso.com"},
                    "httpRequest": {"clientIpAddress": "198.51.100.1", "method": "PUT", "url": "https://x"},
                    "resourceUri": rid, "operationName": "Microsoft.Network/networkSecurityGroups/securityRules/write",
                    "status": "Succeeded", "subscriptionId": "s1"}}
    att = parse_event(raw).attribution
    assert att == ChangeAttribution(changed_by="jane@contoso.com", changed_from="203.0.113.9", change_event_id="ev-1",
                                    change_summary="ran Microsoft.Network/networkSecurityGroups/securityRules/write"
                                                   " as Contributor")
    del raw["data"]["claims"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"]
    del raw["data"]["claims"]["name"]
    del raw["data"]["claims"]["ipaddr"]
    att = parse_event(raw).attribution
    assert att is not None and att.changed_by == "application 04b07795-8ddb-461a-bbee-02f9e1bf7b46"
    assert att.changed_from == "198.51.100.1"


def test_an_audit_scan_evaluates_only_its_families_and_never_resolves_what_it_did_not_read() -> None:
    from core.service import rules_for
    from core.state.model import CollectionError

    class State:
        def __init__(self, arm: object, api: object, errors: tuple[CollectionError, ...] = ()) -> None:
            self.arm, self.workspace_api, self.errors = arm, api, errors

    ids = {r.id for r in rules_for(State(arm=object(), api=object()), frozenset({"IPACL"}))}
    assert ids == {r.id for r in RULES.values() if r.family == "IPACL"} | {"DBX-EVAL-002"}
    ids = {r.id for r in rules_for(State(arm=object(), api=None), frozenset({"IPACL"}))}
    assert "DBX-EVAL-002" not in ids and "DBX-EVAL-001" not in ids  # nothing observed about them
    ids = {r.id for r in rules_for(State(arm=None, api=None), frozenset({"IPACL"}))}
    assert "DBX-EVAL-001" in ids  # the workspace document itself failed: that is worth a finding
    assert rules_for(State(arm=object(), api=None), None) is None


@pytest.mark.parametrize(("service", "action", "family"), [
    ("globalInitScripts", "update", "CLU"), ("clusters", "edit", "CLU"), ("clusterPolicies", "edit", "CLU"),
    ("clusterPolicies", "changeClusterPolicyAcl", "CLU"), ("unityCatalog", "createMetastoreAssignment", "UC"),
    ("unityCatalog", "updateStorageCredential", "UC"), ("unityCatalog", "disableSystemSchema", "UC"),
    ("workspace", "setSetting", "UC")])
def test_compute_and_unity_catalog_changes_route_to_their_rules(service: str, action: str, family: str) -> None:
    rec = json.loads(body())["records"][0]
    rec["properties"].update(serviceName=service, actionName=action, requestParams="{}")
    d = route_audit_batch([json.dumps({"records": [rec]})]).decisions[0]
    assert d.action == "scan" and family in d.families and family in EXISTING

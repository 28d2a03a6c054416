"""`on_workspace_audit`: audit records (real azure.functions EventHubEvent objects) -> family-scoped scans.

The emulator writes the audit records of its workspace-API writes in the Event Hubs shape
(emulator/audit.py); the local host decodes a batch with azure.functions' own Event Hubs trigger
converter (cardinality many), as the Python worker does.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from emulator.audit import event_body, make_audit_record
from samples import factory as f
from tests.support.app import App

WS = {r["name"]: r for r in f.sample_estate()["resources"] if r["type"] == "Microsoft.Databricks/workspaces"}
ANALYTICS = WS["dbw-analytics-prod"]
HOST = ANALYTICS["properties"]["workspaceUrl"]
# IP access lists apply only to requests over the Internet: on a private-only workspace (analytics) the
# IPACL rules are not applicable, so the IP-access-list scenarios use a public workspace.
PUBLIC = WS["dev-sandbox"]


def workspace_api(app: App, method: str, path: str, body: Any = None, user: str = "jane@contoso.com",
                  ip: str = "203.0.113.9", host: str = HOST) -> requests.Response:
    r = requests.request(method, f"{app.emulator.url}/ws/{host}{path}", json=body, timeout=5,
                         headers={"Authorization": "Bearer x", "X-Emulator-User": user, "X-Forwarded-For": ip})
    return r


def sweep(app: App) -> None:
    app.host.fire_timer()
    app.run_queues()
    app.emulator.clear_teams()
    app.emulator.reset_requests()


def deliver_audit(app: App) -> list[dict[str, Any]]:
    records = app.emulator.audit_records()
    app.host.deliver_event_hub([event_body(records)])
    return records


def test_disabling_ip_access_lists_in_the_workspace_alerts_with_its_author(app: App) -> None:
    sweep(app)
    before = {(x.rule_id, x.subject) for x in app.open_findings() if x.workspace_name == PUBLIC["name"]}
    assert workspace_api(app, "PATCH", "/api/2.0/workspace-conf", {"enableIpAccessLists": "false"},
                         host=PUBLIC["properties"]["workspaceUrl"]).status_code == 204
    records = deliver_audit(app)
    assert [(r["properties"]["serviceName"], r["properties"]["actionName"]) for r in records] == \
        [("workspace", "workspaceConfEdit")]
    queued = app.rt.connection.queue("scan-requests").peek_messages(max_messages=5)
    assert len(queued) == 1
    request = json.loads(queued[0].content)
    assert request["families"] == ["CONF", "IPACL"] and request["changes"][0]["changed_by"] == "jane@contoso.com"
    app.emulator.reset_requests()
    scans, _ = app.run_queues()
    assert scans.succeeded == 1
    # Only what IPACL and CONF need was read: the workspace document, workspace-conf and the IP lists.
    counts = app.emulator.request_counts()["by_endpoint"]
    reads = {k: v for k, v in counts.items() if not k.startswith("POST teams")}
    assert not any("vnet" in k.lower() or "nsg" in k.lower() or "diagnostic" in k.lower() or "token" in k.lower()
                   for k in reads), reads
    now_open = [x for x in app.open_findings() if x.workspace_name == PUBLIC["name"]]
    new = [x for x in now_open if (x.rule_id, x.subject) not in before]
    assert [x.rule_id for x in new] == ["DBX-IPACL-001"]
    finding = new[0]
    assert finding.changed_by == "jane@contoso.com" and finding.changed_from == "203.0.113.9"
    assert finding.change_event_id == records[0]["properties"]["logId"]
    assert finding.change_summary == "disabled IP access lists"
    # Nothing outside the scanned families was resolved or touched.
    assert before <= {(x.rule_id, x.subject) for x in now_open}
    _, history = app.store().get(finding.id)
    assert history[-1].finding.changed_by == "jane@contoso.com"
    api = app.host.http("findings_get", "GET", f"/api/findings/{finding.id}", route_params={"id": finding.id})
    doc = json.loads(api.get_body())
    assert doc["changed_by"] == "jane@contoso.com" and doc["history"][-1]["finding"]["changed_from"] == "203.0.113.9"
    text = json.dumps([p["body"] for p in app.emulator.teams_posts()])
    assert "opened after jane@contoso.com disabled IP access lists from 203.0.113.9" in text

    # Re-enabling it resolves the finding, attributed to whoever fixed it.
    workspace_api(app, "PATCH", "/api/2.0/workspace-conf", {"enableIpAccessLists": "true"}, user="sec@contoso.com",
                  host=PUBLIC["properties"]["workspaceUrl"])
    app.host.deliver_event_hub([event_body(app.emulator.audit_records()[-1:])])
    app.run_queues()
    fixed, history = app.store().get(finding.id)
    assert fixed.status == "resolved" and fixed.changed_by == "sec@contoso.com"
    assert fixed.change_summary == "enabled IP access lists"
    assert [h.transition for h in history] == ["opened", "resolved"]


def test_coalescing_merges_the_families_of_every_record_into_one_scan(app: App) -> None:
    ws_id = PUBLIC["id"]
    conf = make_audit_record(ws_id, "workspace", "workspaceConfEdit", user="jane@contoso.com",
                             request_params={"workspaceConfKeys": "enableIpAccessLists", "workspaceConfValues": "false"})
    token = make_audit_record(ws_id, "accounts", "generateDbToken", user="bob@contoso.com", source_ip="198.51.100.7")
    workspace_api(app, "PATCH", "/api/2.0/workspace-conf", {"enableIpAccessLists": "false"},
                  host=PUBLIC["properties"]["workspaceUrl"])
    app.host.deliver_event_hub([event_body([conf])])
    app.host.deliver_event_hub([event_body([token]), event_body([token])])  # duplicates too
    queued = app.rt.connection.queue("scan-requests").peek_messages(max_messages=5)
    assert len(queued) == 1 and json.loads(queued[0].content)["families"] == ["CONF", "IPACL"]
    app.emulator.reset_requests()
    scans, _ = app.run_queues()
    assert scans.succeeded == 1
    counts = app.emulator.request_counts()["by_endpoint"]
    assert any("token" in k.lower() for k in counts), counts  # TOKEN was folded in by the second batch
    new = [x for x in app.open_findings() if x.rule_id == "DBX-IPACL-001" and x.workspace_name == PUBLIC["name"]]
    assert new and new[0].changed_by == "jane@contoso.com"


def test_an_arm_event_and_an_audit_record_coalesce_into_one_full_scan(app: App) -> None:
    ws_id = ANALYTICS["id"]
    app.host.deliver_event_hub([event_body([make_audit_record(ws_id, "accounts", "createIpAccessList")])])
    r = requests.patch(f"{app.emulator.url}{ws_id}?api-version=2025-03-01-preview", json={"tags": {"x": "1"}},
                       headers={"Authorization": "Bearer x"}, timeout=5)
    assert r.status_code in (200, 201, 202), r.text
    app.host.deliver_event_grid(app.emulator.events()[-1:])
    app.emulator.reset_requests()
    scans, _ = app.run_queues()
    assert scans.succeeded == 1
    counts = app.emulator.request_counts()["by_endpoint"]
    assert any("diagnostic" in k.lower() for k in counts), counts  # a full scan: WS rules read diagnostics


def test_bad_bodies_failed_and_unknown_actions_never_fail_the_batch(app: App) -> None:
    ws_id = ANALYTICS["id"]
    failed = make_audit_record(ws_id, "accounts", "deleteIpAccessList", status_code=403,
                               error_message="PERMISSION_DENIED")
    unknown = make_audit_record(ws_id, "notebook", "runCommand")
    readonly = make_audit_record(ws_id, "secrets", "getSecret")
    bad = {"resourceId": ws_id, "properties": {"actionName": "add"}}
    app.host.deliver_event_hub([b"not json", event_body([failed, unknown, readonly, bad])])
    assert app.rt.connection.queue("scan-requests").peek_messages(max_messages=5) == []
    good = make_audit_record(ws_id, "accounts", "updateIpAccessList")
    app.host.deliver_event_hub([b"{}", event_body([bad, good])])
    assert len(app.rt.connection.queue("scan-requests").peek_messages(max_messages=5)) == 1


def test_an_emulator_write_that_fails_is_logged_as_failed(app: App) -> None:
    app.emulator.reset_requests()
    r = workspace_api(app, "PATCH", "/api/2.0/workspace-conf", {"enableIpAccessLists": False})
    assert r.status_code == 400
    record = app.emulator.audit_records()[-1]
    response = json.loads(record["properties"]["response"])
    assert response["statusCode"] == 400 and "strings" in response["errorMessage"]
    assert json.loads(record["identity"]) == {"email": "jane@contoso.com", "subjectName": None}
    assert record["properties"]["sourceIPAddress"] == "203.0.113.9"
    assert record["resourceId"] == ANALYTICS["id"].upper()


def test_records_of_workspaces_outside_the_monitored_subscriptions_are_not_scanned(azurite) -> None:
    from tests.support.app import make_app

    sub = ANALYTICS["id"].split("/")[2]
    with make_app(azurite.connection_string, DRIFTWATCH_SUBSCRIPTIONS=sub) as app:
        other = "/subscriptions/99999999-0000-4000-8000-000000000000/resourceGroups/rg/providers/" \
                "Microsoft.Databricks/workspaces/not-ours"
        app.host.deliver_event_hub([event_body([make_audit_record(other, "accounts", "createIpAccessList"),
                                                make_audit_record(ANALYTICS["id"], "accounts", "createIpAccessList")])])
        queued = [json.loads(m.content) for m in app.rt.connection.queue("scan-requests").peek_messages(max_messages=5)]
        assert [q["workspace_id"].lower() for q in queued] == [ANALYTICS["id"].lower()]


def test_an_arm_change_is_attributed_from_the_event_grid_claims(app: App) -> None:
    sweep(app)  # the topology (which NSG belongs to which workspace) comes from a first scan
    nsg = next(r["id"] for r in f.sample_estate()["resources"] if r.get("name") == "nsg-analytics")
    rule = f.nsg_rule(nsg, "allow-ssh-ops", "Inbound", 150, "Tcp", "Internet", "*", "22")
    # An in-workspace change whose audit record is never delivered: the NSG event's full scan finds it too,
    # but must not pin it on the author of the network change.
    workspace_api(app, "PATCH", "/api/2.0/workspace-conf", {"maxTokenLifetimeDays": "365"})
    r = requests.put(f"{app.emulator.url}{rule['id']}?api-version=2025-07-01", json=rule, timeout=5,
                     headers={"Authorization": "Bearer x", "X-Emulator-User": "ops@contoso.com",
                              "X-Forwarded-For": "198.51.100.23"})
    assert r.status_code in (200, 201)
    event = app.emulator.events()[-1]
    assert event["data"]["claims"]["ipaddr"] == "198.51.100.23"
    app.host.deliver_event_grid([event])
    app.run_queues()
    found = [x for x in app.open_findings() if x.subject == "allow-ssh-ops"]
    assert len(found) == 1 and found[0].changed_by == "ops@contoso.com" and found[0].changed_from == "198.51.100.23"
    assert found[0].change_event_id == event["id"]
    assert found[0].change_summary == "ran Microsoft.Network/networkSecurityGroups/securityRules/write as Contributor"
    # Only NET findings are attributed to a network change; the scan's other new finding is not.
    token = [x for x in app.open_findings() if x.workspace_name == "dbw-analytics-prod" and x.rule_id == "DBX-TOKEN-001"]
    assert len(token) == 1 and token[0].changed_by is None and token[0].change_event_id is None

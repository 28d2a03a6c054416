"""`make demo`: the whole driftwatch loop, offline, and everything it started is stopped at the end.

1. Azurite (Storage) and the estate emulator (ARM + workspace API + Teams sink) start on 127.0.0.1.
2. `scheduled_sweep` discovers the 8 workspaces and fans out; `scan_workspace` collects them through the
   real azure-mgmt clients and databricks-sdk, evaluates and records the findings; `notify_drift` posts
   the Teams digests.
3. Someone opens SSH from the Internet on a compliant workspace's NSG (an ARM write on the emulator).
   The emulator emits the Event Grid event to a local webhook that calls `on_resource_change`, which
   routes and coalesces it into one scan; the new finding reaches the store and Teams.
4. Someone grants Contributor on a resource group (an ARM role-assignment write): Event Grid -> routed
   through the topology's resource-group edges to scans of every workspace there -> DBX-IAM-002.
5. Inside a workspace, an admin disables IP access lists (a workspace-API write on the emulator). The
   emulator emits the Databricks audit record to a local endpoint standing in for Event Hubs, which
   delivers it to `on_workspace_audit` as a real Event Hubs batch; a scan of only the affected rule
   families follows and the Teams card names the author and the address.
6. The auditors' API answers: a findings summary and the new findings with their history.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]


class EventGridWebhook:
    """A local stand-in for the Functions Event Grid endpoint (`/runtime/webhooks/eventgrid`)."""

    def __init__(self, deliver: Any) -> None:
        outer = self
        self.received = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                events = json.loads(body or b"[]")
                events = events if isinstance(events, list) else [events]
                outer.received += len(events)
                deliver(events)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (f"http://127.0.0.1:{self.server.server_address[1]}"
                    "/runtime/webhooks/eventgrid?functionName=on_resource_change")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> EventGridWebhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class EventHubsEndpoint:
    """A local stand-in for the Event Hub the workspaces' diagnostic settings stream to: every POSTed
    body is one Event Hubs event (`{"records": [...]}`), handed to `on_workspace_audit` as a batch."""

    def __init__(self, deliver: Any) -> None:
        outer = self
        self.received = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received += 1
                deliver([body])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/eventhubs/databricks-audit"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> EventHubsEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def card_text(post: dict[str, Any]) -> str:
    """The Adaptive Card's text blocks and facts, flattened for the terminal."""
    lines: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock" and node.get("text"):
                lines.append(str(node["text"]))
            if node.get("type") == "RichTextBlock":
                lines.append("".join(str(i.get("text", "")) for i in node.get("inlines", [])))
            if node.get("type") == "FactSet":
                lines.extend(f"    {f.get('title')}: {f.get('value')}" for f in node.get("facts", []))
            for key in ("body", "items", "columns", "attachments", "content"):
                if key in node:
                    walk(node[key])
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(post["body"])
    return "\n".join("  " + line for line in lines)


AUDIT_WS = "dev-sandbox"
"""A public workspace (its IP access lists apply), where the demo makes its in-workspace change."""


def main() -> int:
    import function_app
    from core import service
    from core.settings import load_settings
    from emulator.server import EmulatorServer
    from samples.azurite import AzuriteProcess
    from samples.factory import (
        CONTRACTOR_OID,
        CONTRIBUTOR_ROLE,
        SUB_DEV,
        nsg_rule,
        rg_id,
        role_assignment,
        sample_estate,
    )
    from samples.functions_host import LocalFunctionsHost

    estate = sample_estate()
    host_box: dict[str, LocalFunctionsHost] = {}
    delivered = threading.Event()

    def deliver(events: list[dict[str, Any]]) -> None:
        host_box["host"].deliver_event_grid(events)
        delivered.set()

    audited = threading.Event()

    def deliver_audit(bodies: list[bytes]) -> None:
        host_box["host"].deliver_event_hub(bodies)
        audited.set()

    t0 = time.monotonic()
    with AzuriteProcess() as azurite, EventGridWebhook(deliver) as webhook, EventHubsEndpoint(deliver_audit) as hub, \
            EmulatorServer(estate, event_target=webhook.url, audit_target=hub.url) as emulator:
        print(f"Azurite        {azurite.connection_string.split(';')[3]} (pid {azurite.pid})")
        n_ws = sum(1 for r in estate["resources"] if r["type"] == "Microsoft.Databricks/workspaces")
        print(f"estate emulator {emulator.url}  ({n_ws} workspaces in {len(estate['subscriptions'])} subscriptions, "
              f"one of them Serverless)")
        print(f"Event Grid     {webhook.url.split('?')[0]} -> on_resource_change")
        print(f"Event Hubs     {hub.url} (Databricks audit records) -> on_workspace_audit\n")
        env = {"AzureWebJobsStorage": azurite.connection_string,
               "DRIFTWATCH_BASELINE": str(ROOT / "baseline.example.yaml"),
               "DRIFTWATCH_ARM_ENDPOINT": emulator.url, "DRIFTWATCH_WORKSPACE_BASE_URL": emulator.workspace_base_url,
               "DRIFTWATCH_AUTH": "emulator", "TEAMS_WEBHOOK_URL": f"{emulator.url}/teams/webhook",
               "DRIFTWATCH_NOTIFY_MIN_SEVERITY": "high"}
        rt = service.Runtime.from_settings(load_settings(env))
        rt.coalesce_window_s = 2
        service.reset_runtime(rt)
        from functions import findings_api

        findings_api.set_store(rt.store())
        host = host_box["host"] = LocalFunctionsHost(function_app.app, azurite.connection_string)

        print("== 1. scheduled_sweep -> scan_workspace x N -> notify_drift")
        host.fire_timer()
        scans = host.drain("scan-requests", "scan_workspace", workers=2)
        notes = host.drain("drift-findings", "notify_drift", workers=2)
        summary = json.loads(host.http("findings_summary", "GET", "/api/summary").get_body())
        print(f"   {scans.succeeded} workspaces scanned, {len(emulator.teams_posts())} Teams digests posted "
              f"({notes.succeeded} transition messages handled)")
        print(f"   findings by status: {summary['by_status']}; open by severity: {summary['open_by_severity']}")
        inside = {fam: sum(n for rid, n in summary["by_rule"].items() if rid.startswith(f"DBX-{fam}-"))
                  for fam in ("IAM", "TOKEN", "SEC", "SET", "CONF")}
        print(f"   inside the workspaces and Azure RBAC: {inside} findings by family "
              f"(DBX-IAM-002 Azure admins outside the baseline: {summary['by_rule'].get('DBX-IAM-002', 0)})\n")
        emulator.clear_teams()

        print("== 2. drift: ops@contoso.com opens SSH from the Internet on dbw-analytics-prod's NSG (ARM write)")
        nsg = next(r for r in estate["resources"] if r.get("name") == "nsg-analytics")
        rule = nsg_rule(nsg["id"], "allow-ssh-debug", "Inbound", 150, "Tcp", "Internet", "VirtualNetwork", "22")
        r = requests.put(f"{emulator.url}{rule['id']}?api-version=2025-07-01", json=rule, timeout=10,
                         headers={"Authorization": "Bearer demo", "X-Emulator-User": "ops@contoso.com",
                                  "X-Forwarded-For": "198.51.100.23"})
        r.raise_for_status()
        delivered.wait(10)
        print(f"   ARM write -> Event Grid event ({webhook.received} delivered) -> on_resource_change")
        scans = host.drain("scan-requests", "scan_workspace")
        host.drain("drift-findings", "notify_drift")
        print(f"   {scans.succeeded} coalesced scan of the affected workspace\n")

        print("== 3. the Teams card that reached the channel")
        for post in emulator.teams_posts():
            print(card_text(post))
        print()

        print("== 4. Azure RBAC drift: ops@contoso.com grants Contributor on resource group rg-dev to a contractor")
        emulator.clear_teams()
        delivered.clear()
        seen = webhook.received
        assignment = role_assignment(rg_id(SUB_DEV, "rg-dev"), "a0000001-0000-4000-8000-0000000000d0",
                                     CONTRIBUTOR_ROLE, CONTRACTOR_OID)
        r = requests.put(f"{emulator.url}{assignment['id']}?api-version=2022-04-01",
                         json={"properties": {k: assignment["properties"][k]
                                              for k in ("roleDefinitionId", "principalId", "principalType")}},
                         timeout=10, headers={"Authorization": "Bearer demo", "X-Emulator-User": "ops@contoso.com",
                                              "X-Forwarded-For": "198.51.100.23"})
        r.raise_for_status()
        delivered.wait(10)
        scans = host.drain("scan-requests", "scan_workspace")
        host.drain("drift-findings", "notify_drift")
        print(f"   ARM write Microsoft.Authorization/roleAssignments/write -> Event Grid "
              f"({webhook.received - seen} delivered) -> routed by the topology's resource-group edge to "
              f"{scans.succeeded} workspace scans (every workspace in rg-dev)")
        found = json.loads(host.http("findings_list", "GET", "/api/findings",
                                     params={"rule": "DBX-IAM-002", "status": "open"}).get_body())["findings"]
        for fd in found:
            if fd["workspace_name"].startswith("dev-"):
                print(f"   {fd['severity'].upper():8} {fd['rule_id']}  {fd['workspace_name']}: {fd['message']}")
        print()

        # IP access lists apply to Internet traffic only, so the in-workspace change is on a public workspace.
        print(f"== 5. in-workspace drift: jane@contoso.com disables IP access lists on {AUDIT_WS}")
        emulator.clear_teams()
        ws = next(r for r in estate["resources"] if r.get("name") == AUDIT_WS)
        t_write = time.monotonic()
        r = requests.patch(f"{emulator.workspace_base_url.format(workspaceUrl=ws['properties']['workspaceUrl'])}"
                           "/api/2.0/workspace-conf", json={"enableIpAccessLists": "false"}, timeout=10,
                           headers={"Authorization": "Bearer demo", "X-Emulator-User": "jane@contoso.com",
                                    "X-Forwarded-For": "203.0.113.9"})
        r.raise_for_status()
        audited.wait(10)
        record = emulator.audit_records()[-1]
        print(f"   workspace-API write -> audit record {record['properties']['serviceName']}."
              f"{record['properties']['actionName']} ({hub.received} Event Hubs event) -> on_workspace_audit")
        from core.events.audit import route_audit_batch
        from emulator.audit import event_body

        families = route_audit_batch([event_body([record])]).decisions[0].families
        scans = host.drain("scan-requests", "scan_workspace", idle_s=0.2)
        host.drain("drift-findings", "notify_drift", idle_s=0.2)
        print(f"   {scans.succeeded} scan of only the {', '.join(families)} rules "
              f"(coalesced: within {rt.coalesce_window_s} s of the last event-driven scan it waits for the window); "
              f"Teams card {time.monotonic() - t_write:.1f} s after the write:")
        for post in emulator.teams_posts():
            print(card_text(post))
        print()

        print(f"== 6. what auditors see: GET /api/findings?workspace={AUDIT_WS}&status=open")
        resp = host.http("findings_list", "GET", "/api/findings",
                         params={"workspace": AUDIT_WS, "status": "open"})
        page = json.loads(resp.get_body())
        for fd in page["findings"]:
            who = f"  [changed by {fd['changed_by']} from {fd.get('changed_from')}]" if fd.get("changed_by") else ""
            print(f"   {fd['severity'].upper():8} {fd['rule_id']}  {fd['subject'] or '-'}: {fd['message']}{who}")
            detail = json.loads(host.http("findings_get", "GET", f"/api/findings/{fd['id']}",
                                          route_params={"id": fd["id"]}).get_body())
            print("   history: " + ", ".join(f"{h['transition']} at {h['at']}" for h in detail["history"]))
        service.reset_runtime(None)
        findings_api.set_store(None)
    print(f"\nDemo finished in {time.monotonic() - t0:.1f} s; Azurite, the emulator and the endpoints are stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

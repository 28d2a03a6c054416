"""Event routing keeps every workspace's network footprint (issue 9 point 1), through the registered functions.

Before: each timer sweep replaced a workspace's topology edges with VNet + subnets only, so every
NSG -> workspace edge vanished until that workspace's worker ran again, and a worker whose NSG GET
failed deleted the NSG edges itself. An NSG-rule write in that window was routed `ignore`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import requests

from core.events import route_delivery
from samples import factory as f
from tests.support.app import App

NSGS = {r["name"]: r["id"] for r in f.sample_estate()["resources"]
        if r["type"] == "Microsoft.Network/networkSecurityGroups"}
WS = {r["name"]: r["id"] for r in f.sample_estate()["resources"] if r["type"] == "Microsoft.Databricks/workspaces"}
NETWORK_API = "2025-07-01"  # a Microsoft.Network api-version the emulator accepts (published in the specs)


def _fail_fast(app: App) -> None:
    """No ARM retries: a 500 storm is seen at once instead of after azure-core's backoff."""
    app.rt.collect = replace(app.rt.collect, arm_retries=0)


def _write_rule(app: App, nsg: str, name: str = "temp-debug") -> list[dict[str, Any]]:
    rule = f.nsg_rule(NSGS[nsg], name, "Inbound", 150, "Tcp", "Internet", "*", "22")
    app.emulator.clear_events()
    r = requests.put(f"{app.emulator.url}{rule['id']}?api-version={NETWORK_API}", json=rule,
                     headers={"Authorization": "Bearer x"}, timeout=5)
    assert r.status_code in (200, 201), r.text
    events = app.emulator.events()
    assert [e["data"]["operationName"] for e in events] == [
        "Microsoft.Network/networkSecurityGroups/securityRules/write"]
    return events


def _event_scan_requests(app: App) -> list[dict[str, Any]]:
    """The event-driven scan requests now on the queue (read without consuming them for long)."""
    q = app.rt.connection.queue("scan-requests")
    out = []
    for m in q.receive_messages(max_messages=32, visibility_timeout=1):
        body = json.loads(m.content)
        if body.get("source") == "event":
            out.append(body)
    return out


def _nsg_edges(app: App) -> dict[str, list[str]]:
    topo = app.rt.topology()
    return {name: topo.workspaces_for(nid) for name, nid in NSGS.items()}


def test_nsg_rule_event_after_the_next_sweep_routes_to_its_workspace(app: App) -> None:
    app.host.fire_timer()
    app.run_queues()
    after_workers = _nsg_edges(app)
    assert after_workers["nsg-analytics"] == [WS["dbw-analytics-prod"]]
    assert all(after_workers.values()), after_workers
    app.host.fire_timer()  # the next sweep, before any worker ran again
    assert _nsg_edges(app) == after_workers
    events = _write_rule(app, "nsg-analytics")
    [decision] = route_delivery(events, app.rt.topology())
    assert (decision.action, decision.workspaces) == ("scan", [WS["dbw-analytics-prod"]])
    app.host.deliver_event_grid(events)
    assert [r["workspace_id"] for r in _event_scan_requests(app)] == [WS["dbw-analytics-prod"]]


def test_nsg_read_failing_during_the_workers_keeps_routing(app: App) -> None:
    """First scan ever, every NSG GET answers 500: the subnets still name their NSGs."""
    _fail_fast(app)
    app.emulator.set_faults([{"match": "networkSecurityGroups", "method": "GET", "action": "500"}])
    app.host.fire_timer()
    scans, _ = app.run_queues()
    assert scans.succeeded == 9 and scans.poisoned == 0
    eval001 = {x.workspace_name for x in app.open_findings() if x.rule_id == "DBX-EVAL-001"}
    assert "dbw-analytics-prod" in eval001  # the failed read is reported, not hidden
    assert not [x for x in app.open_findings() if x.rule_id == "DBX-NET-005"]  # not evaluated on missing data
    edges = _nsg_edges(app)
    assert edges["nsg-analytics"] == [WS["dbw-analytics-prod"]]
    assert len(edges["nsg-dev"]) == 2 and all(edges.values()), edges
    app.host.fire_timer()  # and the next sweep keeps them too
    assert _nsg_edges(app) == edges
    app.emulator.clear_faults()
    app.host.drain("scan-requests", "scan_workspace")  # the second sweep's scans now read the NSGs
    events = _write_rule(app, "nsg-analytics")
    app.host.deliver_event_grid(events)
    assert [r["workspace_id"] for r in _event_scan_requests(app)] == [WS["dbw-analytics-prod"]]
    app.run_queues()
    opened = [(x.workspace_name, x.subject) for x in app.open_findings() if x.rule_id == "DBX-NET-005"]
    assert ("dbw-analytics-prod", "temp-debug") in opened

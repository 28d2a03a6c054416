"""Issue 14 §3: a sweep lists VNets and NSGs per subscription and hands each worker what it needs through
the `scans` table (core/service/handoff.py); a worker whose row is missing, damaged, another sweep's, too
old or predates an event reads ARM as before; an event-driven scan reads only its own workspace's resources.

ARM calls are counted by resource type (`by_resource_type` of the emulator's request log).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import UpdateMode

from core.store.keys import resource_key
from core.store.listed import LISTED_PARTITION
from core.store.pending import PendingScans
from core.store.topology import TopologyStore
from samples import factory as f
from tests.azurite import AzuriteProcess
from tests.support.app import App, make_app
from tests.support.spies import record_calls

NETWORK_BASELINE = """schema: driftwatch.baseline/v1
defaults:
  required_nsg_rules: AllRules
  network: {vnet_injection: true, min_subnet_prefix: 26, egress: nat_gateway_or_route_table}
"""
"""Network rules only: what the hand-off is about, and four calls per worker instead of thirty."""


@pytest.fixture
def app(azurite: AzuriteProcess, tmp_path: Path) -> Iterator[App]:
    baseline = tmp_path / "network.yaml"
    baseline.write_text(NETWORK_BASELINE)
    with make_app(azurite.connection_string, DRIFTWATCH_BASELINE=str(baseline)) as a:
        yield a

WS_GET = "GET microsoft.databricks/workspaces get"
NETWORK_GETS = ("GET microsoft.network/virtualnetworks get", "GET microsoft.network/networksecuritygroups get")
NSG_ANALYTICS = next(r["id"] for r in f.sample_estate()["resources"] if r.get("name") == "nsg-analytics")
NETWORK_LISTS = ("GET microsoft.network/virtualnetworks list", "GET microsoft.network/networksecuritygroups list")


def by_type(app: App) -> dict[str, int]:
    return dict(app.emulator.request_counts()["by_resource_type"])


def findings(app: App) -> set[tuple[str, str, str | None, str]]:
    found, _ = app.store().query(top=1000)
    return {(x.resource_id.lower(), x.rule_id, x.subject, x.status) for x in found}


def listed_rows(app: App) -> dict[str, dict[str, Any]]:
    table = app.rt.connection.table("scans")
    return {e["workspace_id"]: e for e in table.query_entities("PartitionKey eq @pk",
                                                               parameters={"pk": LISTED_PARTITION})}


def test_sweep_workers_read_the_listed_documents_not_arm(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # Subnet-sharing queries and index-row reads the workers make (the sweep row carries both answers).
    sharing_queries = record_calls(monkeypatch, TopologyStore, "workspaces_for")
    index_reads = record_calls(monkeypatch, TopologyStore, "_index_row")
    app.emulator.reset_requests()
    app.host.fire_timer()
    swept = by_type(app)
    subscriptions = {r["id"].split("/")[2].lower() for r in f.sample_estate()["resources"]
                     if r["type"] == "Microsoft.Network/virtualNetworks"}
    assert all(swept.get(k, 0) == len(subscriptions) for k in NETWORK_LISTS)  # one page per subscription
    rows = listed_rows(app)
    assert len(rows) >= 8 and len({r["scan_id"] for r in rows.values()}) == 1
    assert all(r.get("subnet_users") for r in rows.values())
    # The first sweep found no index rows (it creates them after writing its rows): no copy to hand over.
    assert not any(r.get("topology_index") for r in rows.values())
    app.emulator.reset_requests()
    sharing_queries.clear()
    scans, _ = app.run_queues()
    assert scans.succeeded == 9 and scans.poisoned == 0
    assert len(sharing_queries) <= 2 * (9 - len(rows))  # only workspaces without a row query the topology
    worked = by_type(app)
    # Workspaces whose sweep row stood for them read neither their document nor their network from ARM.
    assert worked.get(WS_GET, 0) == 9 - len(rows)
    assert not any(worked.get(k) for k in NETWORK_GETS)
    assert not any(worked.get(k) for k in NETWORK_LISTS)
    handed_off = findings(app)
    assert any(rule == "DBX-NET-006" and "/shared" in (subject or "") for _, rule, subject, _ in handed_off)

    # The same findings as workers that read everything from ARM (every row gone before they run).
    app.host.fire_timer()
    table = app.rt.connection.table("scans")
    for row in listed_rows(app).values():
        table.delete_entity(LISTED_PARTITION, row["RowKey"])
    app.emulator.reset_requests()
    sharing_queries.clear()
    app.run_queues()
    assert by_type(app).get(WS_GET, 0) >= 9 and by_type(app).get(NETWORK_GETS[0], 0) >= 1
    assert sharing_queries  # without rows the workers ask the topology themselves
    assert findings(app) == handed_off

    # A steady sweep: the rows also carry each workspace's topology index row (with its ETag), so a worker
    # with a row reads nothing from the topology table; the findings stay the same.
    app.host.fire_timer()
    rows = listed_rows(app)
    assert all(r.get("topology_index") for r in rows.values())
    sharing_queries.clear()
    index_reads.clear()
    app.run_queues()
    assert len(sharing_queries) <= 2 * (9 - len(rows)) and len(index_reads) <= 9 - len(rows)
    assert findings(app) == handed_off

    # An event-driven scan reads only its own workspace's resources, from ARM.
    app.emulator.clear_events()
    rule = f.nsg_rule(NSG_ANALYTICS, "temp-debug", "Inbound", 150, "Tcp", "Internet", "*", "22")
    _put(app, rule)
    app.emulator.reset_requests()
    app.host.deliver_event_grid(app.emulator.events()[-1:])
    app.run_queues()
    event = by_type(app)
    assert event.get(WS_GET, 0) >= 1 and event.get(NETWORK_GETS[1], 0) >= 1
    assert not any(event.get(k) for k in NETWORK_LISTS)
    assert ("DBX-NET-005", "temp-debug") in {(x.rule_id, x.subject) for x in app.open_findings()}


def _put(app: App, doc: dict[str, Any]) -> None:
    import requests

    r = requests.put(f"{app.emulator.url}{doc['id']}?api-version=2025-07-01", json=doc,
                     headers={"Authorization": "Bearer x"}, timeout=5)
    assert r.status_code in (200, 201), r.text


def test_a_worker_reads_arm_when_its_row_cannot_stand_for_the_workspace(app: App) -> None:
    app.host.fire_timer()
    app.run_queues()
    before = findings(app)
    app.host.fire_timer()
    rows = listed_rows(app)
    table = app.rt.connection.table("scans")
    ids = sorted(rows)[:5]
    missing, damaged, foreign, old, evented = ids
    table.delete_entity(LISTED_PARTITION, rows[missing]["RowKey"])
    table.update_entity({**rows[damaged], "workspace": '{"id": 1'}, mode=UpdateMode.REPLACE)
    table.update_entity({**rows[foreign], "scan_id": "6f1c0b7e-0000-4000-8000-000000000000"}, mode=UpdateMode.REPLACE)
    table.update_entity({**rows[old], "listed_at": rows[old]["listed_at"] - timedelta(hours=1)},
                        mode=UpdateMode.REPLACE)
    PendingScans(app.rt.connection).claim(evented)  # an event came after the listing
    app.emulator.reset_requests()
    scans, _ = app.run_queues()
    assert scans.poisoned == 0
    worked = by_type(app)
    unlisted = 9 - len(rows)
    assert worked.get(WS_GET, 0) == 5 + unlisted  # exactly these five (and any unlisted) read ARM
    assert worked.get(NETWORK_GETS[0], 0) >= 1  # their VNets too, so nothing is evaluated on missing data
    assert findings(app) == before  # the same evaluation: nothing resolved on a missing or damaged row


WORKSPACE_API_BASELINE = NETWORK_BASELINE + """  diagnostic_logs: []
  workspace_conf: {enableVerboseAuditLogs: "true"}
  tokens: {max_lifetime_days: 90}
"""
"""Network, diagnostic settings and two workspace-API reads: one of each kind an event scan can start early."""
ANALYTICS = next(r["id"] for r in f.sample_estate()["resources"] if r.get("name") == "dbw-analytics-prod")
ANALYTICS_HOST = next(r["properties"]["workspaceUrl"] for r in f.sample_estate()["resources"]
                      if r.get("name") == "dbw-analytics-prod")


def test_an_event_scan_starts_every_read_that_needs_no_document_beside_its_workspace_get_and_reads_each_once(
        azurite: AzuriteProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14 §5: an event-driven scan starts, while it GETs the workspace document, what the last scan
    recorded in the workspace's topology index row lets it read (core/service/scanning.py `_prefetch`): the
    VNet and NSGs, the diagnostic settings (by id) and the workspace-API calls of the last full scan at its
    host (`EstateCollector.speculate`), instead of workspace -> VNet -> NSG and workspace -> the rest one
    after the other. Each is still read once, and only that workspace's resources are read. The index row
    the prefetch read is the one the scan's topology save starts from: it is read once.

    The order comes from the emulator's logical clock (`started`/`finished` ticks of each request), not from
    wall time: every read of the scan started before the workspace GET finished."""
    baseline = tmp_path / "network-diagnostics-workspace-api.yaml"
    baseline.write_text(WORKSPACE_API_BASELINE)
    with make_app(azurite.connection_string, DRIFTWATCH_BASELINE=str(baseline)) as app:
        index_reads = record_calls(monkeypatch, TopologyStore, "_index_row")
        _sweep_then_open_an_nsg(app, "temp-prefetch")
        index_reads.clear()
        recent = _deliver_last_event(app)
        assert len(index_reads) == 1  # the prefetch's read, reused by the topology save
        events = by_type(app)
        assert events.get(NETWORK_GETS[0]) == 1 and events.get(NETWORK_GETS[1]) == 1  # read once each
        assert not any(events.get(k) for k in NETWORK_LISTS)
        ws_get = _only(recent, lambda p: p == ANALYTICS.lower())
        reads = [_only(recent, lambda p: p.endswith(NSG_ANALYTICS.lower())),
                 _only(recent, lambda p: p.endswith("/providers/microsoft.insights/diagnosticsettings")),
                 _only(recent, lambda p: p.endswith(f"{ANALYTICS_HOST}/api/2.0/workspace-conf")),
                 _only(recent, lambda p: p.endswith(f"{ANALYTICS_HOST}/api/2.0/token-management/tokens"))]
        assert all(r["started"] < ws_get["finished"] for r in reads), (ws_get, reads)
        assert not [r for r in recent if "/ws/" in r["path"] and ANALYTICS_HOST not in r["path"]]
        assert ("DBX-NET-005", "temp-prefetch") in {(x.rule_id, x.subject) for x in app.open_findings()}


def test_an_event_scan_whose_recorded_workspace_api_read_is_not_the_documents_reads_the_documents_host(
        azurite: AzuriteProcess, tmp_path: Path) -> None:
    """A wrong guess costs calls, never data: when the host the index row recorded is not the one the
    workspace document names (here another workspace's host, which answers with that workspace's settings),
    the workspace API is read again at the document's host and the findings are those of the workspace
    itself; the save then records the document's host again."""
    from core.collect.workspace_api import ApiRead

    baseline = tmp_path / "network-diagnostics-workspace-api.yaml"
    baseline.write_text(WORKSPACE_API_BASELINE)
    with make_app(azurite.connection_string, DRIFTWATCH_BASELINE=str(baseline)) as app:
        _sweep_then_open_an_nsg(app, "temp-wrong-host")
        before = findings(app)
        topo = TopologyStore(app.rt.connection)
        recorded = ApiRead.from_doc(topo.index_row(ANALYTICS).workspace_api)
        assert recorded is not None and recorded.host == ANALYTICS_HOST
        assert "enableVerboseAuditLogs" in recorded.needs.conf_keys and recorded.needs.tokens
        other = "adb-0000000000001004.4.azuredatabricks.net"  # dbw-legacy: enableVerboseAuditLogs differs
        table = app.rt.connection.table("topology")
        entity = table.get_entity(f"ws-{resource_key(ANALYTICS)}", "edges")
        table.update_entity({**entity, "workspace_api": json.dumps({**recorded.to_doc(), "host": other})},
                            mode=UpdateMode.REPLACE)
        recent = _deliver_last_event(app)
        guessed = [r for r in recent if f"/ws/{other}/" in r["path"]]
        read = [r for r in recent if f"/ws/{ANALYTICS_HOST}/" in r["path"]]
        assert len(guessed) == 2 and len(read) == 2  # workspace-conf and tokens, at each host
        opened = {(ANALYTICS.lower(), "DBX-NET-005", "temp-wrong-host", "open")}
        assert findings(app) == before | opened  # the document's host decided: only the event's drift changed
        assert ApiRead.from_doc(topo.index_row(ANALYTICS).workspace_api) == recorded


def _only(recent: list[dict[str, Any]], match: Any) -> dict[str, Any]:
    """The one request of the scan whose lower-cased path matches (each read happens once)."""
    got = [r for r in recent if match(r["path"].lower())]
    assert len(got) == 1, [r["path"] for r in recent]
    return got[0]


def _sweep_then_open_an_nsg(app: App, rule_name: str) -> None:
    """A sweep records every workspace's edges and workspace-API read; then an NSG rule of the analytics
    workspace opens."""
    app.host.fire_timer()
    app.run_queues()
    app.emulator.clear_events()
    _put(app, f.nsg_rule(NSG_ANALYTICS, rule_name, "Inbound", 151, "Tcp", "Internet", "*", "22"))


def _deliver_last_event(app: App) -> list[dict[str, Any]]:
    """Deliver the newest ARM event at 150 ms per call and run the queues: the requests that caused."""
    app.emulator.set_faults(latency_ms=150)
    app.emulator.reset_requests()
    app.host.deliver_event_grid(app.emulator.events()[-1:])
    app.run_queues()
    app.emulator.clear_faults()
    return list(app.emulator.request_counts()["recent"])

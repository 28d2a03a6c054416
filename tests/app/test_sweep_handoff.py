"""Issue 14 §3: a sweep lists VNets and NSGs per subscription and hands each worker what it needs through
the `scans` table (core/service/handoff.py); a worker whose row is missing, damaged, another sweep's, too
old or predates an event reads ARM as before; an event-driven scan reads only its own workspace's resources.

ARM calls are counted by resource type (`by_resource_type` of the emulator's request log).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

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
    from azure.data.tables import UpdateMode

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


def test_an_event_scan_reads_its_recorded_network_beside_its_workspace_document_and_each_once(
        azurite: AzuriteProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14 §5: an event-driven scan starts the GETs of the VNet and NSGs the topology recorded for its
    workspace while it GETs the workspace document (core/service/scanning.py `_prefetch_network`), instead
    of workspace -> VNet -> NSG one after the other; the collector joins those GETs, so each document is
    still read once, and only that workspace's resources are read. The topology index row the prefetch read
    is the one the scan's topology save starts from: it is read once.

    With 150 ms per call the order is unambiguous: the recorded NSG's GET finishes before the diagnostic
    settings list (which waits for the workspace document) does; without the prefetch it finishes after."""
    baseline = tmp_path / "network-and-diagnostics.yaml"
    baseline.write_text(NETWORK_BASELINE + "  diagnostic_logs: []\n")
    with make_app(azurite.connection_string, DRIFTWATCH_BASELINE=str(baseline)) as app:
        _event_scan_prefetches(app, record_calls(monkeypatch, TopologyStore, "_index_row"))


def _event_scan_prefetches(app: App, index_reads: list[str]) -> None:
    app.host.fire_timer()
    app.run_queues()  # the sweep's workers record every workspace's network edges
    app.emulator.clear_events()
    rule = f.nsg_rule(NSG_ANALYTICS, "temp-prefetch", "Inbound", 151, "Tcp", "Internet", "*", "22")
    _put(app, rule)
    app.emulator.set_faults(latency_ms=150)
    app.emulator.reset_requests()
    index_reads.clear()
    app.host.deliver_event_grid(app.emulator.events()[-1:])
    app.run_queues()
    app.emulator.clear_faults()
    assert len(index_reads) == 1  # the prefetch's read, reused by the topology save
    log = app.emulator.request_counts()
    events = by_type(app)
    assert events.get(WS_GET, 0) >= 1
    assert events.get(NETWORK_GETS[0]) == 1 and events.get(NETWORK_GETS[1]) == 1  # read once each
    assert not any(events.get(k) for k in NETWORK_LISTS)
    order = [r["path"].lower() for r in log["recent"] if r["method"] == "GET"]
    nsg = next(i for i, p in enumerate(order) if p.endswith(NSG_ANALYTICS.lower()))
    diagnostics = next(i for i, p in enumerate(order) if "diagnosticsettings" in p)
    assert nsg < diagnostics, order
    assert ("DBX-NET-005", "temp-prefetch") in {(x.rule_id, x.subject) for x in app.open_findings()}

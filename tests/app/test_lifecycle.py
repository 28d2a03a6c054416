"""Workspaces mid-operation and unreadable parts never drop out of the audit or resolve findings (issue 9 point 5).

Through the registered functions on Azurite + the estate emulator, whose workspace PUT is a
long-running operation (`Databricks/stable/2026-01-01/databricks.json`: `x-ms-long-running-operation`),
and which, like ARM, sends the Event Grid event as soon as the write is accepted.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
import requests

from samples import factory as f
from tests.support.app import App

WS = {r["name"]: r["id"] for r in f.sample_estate()["resources"] if r["type"] == "Microsoft.Databricks/workspaces"}
DBX = {"api-version": "2026-01-01"}
AUTH = {"Authorization": "Bearer x"}


def _settled_sweep(app: App) -> None:
    app.host.fire_timer()
    app.run_queues()
    app.emulator.clear_events()
    app.emulator.clear_teams()


def _open(app: App, name: str) -> dict[str, Any]:
    return {x.id: x for x in app.open_findings() if x.workspace_name == name}


def _last_sweep_record(app: App) -> dict[str, Any]:
    from core.store import ScanLog

    table = app.rt.connection.table("scans")
    rows = [e for e in table.list_entities() if e.get("kind") == "sweep"]
    newest = max(rows, key=lambda e: e["started_at"])
    got = ScanLog(app.rt.connection).get(newest["RowKey"], newest["started_at"])
    assert got is not None
    return got


def _finish_after_a_read_of(app: App, resource_id: str) -> threading.Thread:
    """Complete the emulator's in-flight operations as soon as a GET of `resource_id` has been answered."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            recent = app.emulator.request_counts()["recent"]
            if any(r["method"] == "GET" and r["path"].lower() == resource_id.lower() for r in recent):
                app.emulator.finish_operations()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_an_update_in_flight_is_not_evaluated_and_is_rechecked_until_it_settles(
        app: App, caplog: pytest.LogCaptureFixture) -> None:
    app.rt.settle_delays_s = (1, 1, 1, 1, 1)
    _settled_sweep(app)
    wid = WS["dbw-analytics-prod"]
    before = _open(app, "dbw-analytics-prod")
    doc = requests.get(app.emulator.url + wid, headers=AUTH, params=DBX, timeout=5).json()
    doc["properties"]["computeMode"] = "Hybrid"
    doc["properties"]["publicNetworkAccess"] = "Enabled"  # drift: DBX-WS-003
    app.emulator.set_lro_delay(3600)  # held in flight until this test finishes it: no race with a slow machine
    r = requests.put(app.emulator.url + wid, headers=AUTH, params=DBX, json=doc, timeout=5)
    assert r.status_code == 200 and r.json()["properties"]["provisioningState"] == "Updating"
    app.host.fire_timer()  # a sweep during the update skips it, says so, and re-checks it later
    record = _last_sweep_record(app)
    assert [s["resource_id"] for s in record["skipped"]] == [wid]
    assert record["skipped"][0]["reason"].startswith("provisioningState Updating")
    app.emulator.reset_requests()
    finished = _finish_after_a_read_of(app, wid)  # the update completes once a scan has seen it Updating
    app.host.deliver_event_grid(app.emulator.events())  # the event arrived with the workspace still Updating
    with caplog.at_level(logging.INFO, logger="driftwatch.functions"):
        scans, _ = app.run_queues()
    finished.join(timeout=30)
    app.emulator.set_lro_delay(0)
    assert scans.poisoned == 0
    skipped_logs = [r.getMessage() for r in caplog.records if "skipped: provisioningState Updating" in r.getMessage()]
    assert skipped_logs  # the in-flight state was seen and not evaluated
    after = _open(app, "dbw-analytics-prod")
    new = [x for i, x in after.items() if i not in before]
    assert [(x.rule_id, x.actual) for x in new] == [("DBX-WS-003", "Enabled")]  # judged once settled
    assert set(before) <= set(after)  # nothing resolved while it was in flight


def test_diagnostics_404_resolves_nothing_and_other_rules_still_run(app: App) -> None:
    _settled_sweep(app)
    before = {x.id: x for x in app.open_findings()}
    assert any(x.rule_id == "DBX-WS-010" for x in before.values())
    doc = requests.get(app.emulator.url + WS["dbw-finance-prod"], headers=AUTH, params=DBX, timeout=5).json()
    doc["properties"]["computeMode"] = doc["properties"].get("computeMode") or "Hybrid"
    doc["properties"]["publicNetworkAccess"] = "Enabled"  # properties change by PUT (PATCH takes tags only)
    r = requests.put(app.emulator.url + WS["dbw-finance-prod"], headers=AUTH, params=DBX, json=doc, timeout=5)
    assert r.status_code == 200
    app.emulator.set_faults([{"match": "diagnosticSettings", "method": "GET", "action": "404"}])
    app.host.fire_timer()
    scans, _ = app.run_queues()
    assert scans.succeeded == 9 and scans.poisoned == 0  # the sample estate's nine workspaces
    after = {x.id: x for x in app.open_findings()}
    assert set(before) <= set(after)  # no workspace was taken for deleted, no DBX-WS-010 resolved
    eval001 = [x for x in after.values() if x.rule_id == "DBX-EVAL-001"]
    assert len(eval001) == 9 and all("diagnostics:" in (x.actual or "") for x in eval001)
    assert ("DBX-WS-003", "dbw-finance-prod") in {(x.rule_id, x.workspace_name) for x in after.values()}

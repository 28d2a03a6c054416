"""Issue 10 §1: a worker process killed at an exact step loses no alert and no history.

The scan worker runs as its own process (samples/worker_process.py, as one Functions instance) with
`--crash-at` naming the step where it dies (`os._exit`, no cleanup: what a killed instance does).
Then the platform carries on: the next sweep (in this process) must still deliver every transition.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.store.estate import ESTATE_INDEX_PREFIX
from tests.faults import scenarios as sc
from tests.support.app import App, settings_env

ROOT = Path(__file__).resolve().parents[2]


def _scan_and_die(app: App, step: str) -> int:
    app.host.fire_timer()
    env = {**os.environ, **settings_env(app.emulator, app.connection_string)}
    proc = subprocess.run([sys.executable, "-m", "samples.worker_process", "scan-requests", "scan_workspace",
                           "--threads", "1", "--idle-s", "1", "--crash-at", step], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    # What a killed instance leaves: its message comes back later (its retry finds nothing new to record).
    app.rt.connection.queue("scan-requests").clear_messages()
    return proc.returncode


@pytest.mark.parametrize("step", ["before-queue-send", "after-finding-write", "between-history-rows"])
def test_killed_worker_loses_no_alert_and_no_history(app: App, step: str) -> None:
    """Killed after the table writes and before the queue send (today: the findings stay `pending`
    forever, 0 alerted even after two more sweeps), between the finding row and its history rows
    (today: the finding has no history, permanently), or between a transition's own and workspace
    index rows and its estate index row: every row is there after the re-drive."""
    assert _scan_and_die(app, step) == 86, "the worker did not reach the crash point"
    opened_before = {x.id for x in app.open_findings()}
    assert opened_before, "the killed worker recorded nothing"
    app.rt.outbox_redrive_after_s = 0  # "older than a few minutes", without waiting minutes
    sc.sweep(app)
    store = app.store()
    rows = {e["RowKey"]: e for e in store.findings_table.list_entities()}
    lost = [fid for fid in opened_before if rows[fid].get("notify_state") == "pending"]
    assert lost == [], f"{len(lost)} of {len(opened_before)} transitions were never alerted"
    no_history = [fid for fid in opened_before if not store.get(fid)[1]]
    assert no_history == [], f"{len(no_history)} findings have no history"
    index_rows = [e for e in store.history_table.query_entities("kind eq 'transition'")]
    ws_index = {e["finding_id"] for e in index_rows if not str(e["PartitionKey"]).startswith(ESTATE_INDEX_PREFIX)}
    estate_index = {e["finding_id"] for e in index_rows if str(e["PartitionKey"]).startswith(ESTATE_INDEX_PREFIX)}
    assert opened_before <= ws_index, "workspace time-index rows are missing"
    assert opened_before <= estate_index, "estate time-index rows are missing"
    left = {fid: (e.get("outbox_n"), str(e.get("workspace_name") or e.get("resource_id")), e.get("notify_state"))
            for fid, e in rows.items() if e.get("outbox_n")}
    assert not left, f"the outbox was not emptied: {left} (of the killed worker's: {set(left) & opened_before})"
    mentions = sc.alerted_subjects(app)
    assert len(mentions) - len(set(mentions)) <= len(opened_before), "more than one duplicate per transition"

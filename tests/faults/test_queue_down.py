"""Issue 10 §2 and §7: events are not lost when the queue is down; no local clock orders scans."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta

import pytest

from core.store import QueueBus
from core.store.connection import StorageConnection
from samples import factory as f
from tests.faults import scenarios as sc
from tests.support.app import App


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_event_grid_retry_after_a_queue_outage_leads_to_a_scan(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """The queue service refuses connections while `on_resource_change` runs: the function fails (Event
    Grid will retry) and the pending-scan marker must not swallow that retry. Today the marker is already
    written, the retry is "coalesced" into a scan that was never queued, and the drift waits for the sweep."""
    sc.sweep(app)
    app.emulator.clear_events()
    nsg = sc.NSG["nsg-analytics"]
    sc.arm(app, "PUT", f"{nsg}/securityRules/dbg", f.nsg_rule(nsg, "dbg", "Inbound", 150, "Tcp", "Internet", "*", "22"))
    events = app.emulator.events()[-1:]

    dead = re.sub(r"(QueueEndpoint=https?://[^:/;]+:)\d+", rf"\g<1>{_dead_port()}", app.connection_string)
    assert dead != app.connection_string
    down = QueueBus(StorageConnection.from_connection_string(dead, retry_total=0, connection_timeout=2))
    monkeypatch.setattr(app.rt, "queues", lambda: down)
    with pytest.raises(Exception):  # noqa: B017  (whatever the SDK raises: Event Grid sees a failure)
        app.host.deliver_event_grid(events)
    monkeypatch.undo()

    app.host.deliver_event_grid(events)  # Event Grid's retry
    scans, _ = app.run_queues()
    assert scans.succeeded >= 1, "the retried event queued no scan"
    open_now = {(x.rule_id, x.subject) for x in app.open_findings()}
    assert ("DBX-NET-005", "dbg") in open_now


def test_a_claimer_that_died_before_sending_blocks_retries_only_briefly(app: App) -> None:
    """Killed between writing the marker and sending: the marker is `sending` and expires within
    SENDING_TTL_S (30 s; 3 s here), not the full pending TTL (600 s), so Event Grid's next retry claims
    and sends. Times are the store's, so the test waits rather than passing a later `now`."""
    import time

    from core.store.pending import SENDING_TTL_S, PendingScans

    assert SENDING_TTL_S <= 60
    pending = PendingScans(app.rt.connection, window_s=0, sending_ttl_s=3)
    ws = sc.WS["dbw-analytics-prod"]
    assert pending.claim(ws) == 0  # ... and the process dies here: no send, no `queued`
    assert pending.claim(ws) is None  # a quick duplicate still coalesces
    time.sleep(4.5)
    assert pending.claim(ws) == 0, "a dead claimer's marker still swallows the retry"


def test_a_clock_ahead_does_not_delay_another_instances_event_scan(app: App) -> None:
    """Instance A's clock runs 30 s ahead when it starts a scan; instance B (correct clock) then claims.
    B's scan may wait at most the coalescing window, never window + skew (today: 40 s)."""
    pending = app.rt.pending()
    ws = sc.WS["dbw-analytics-prod"]
    real = datetime.now(UTC)
    pending.started(ws, real + timedelta(seconds=30))  # instance A, clock ahead
    delay = pending.claim(ws, real)  # instance B
    assert delay is not None and delay <= pending.window_s + 1


def test_a_clock_ahead_does_not_make_a_correct_evaluation_look_stale(app: App) -> None:
    """Instance A (clock 30 s ahead) records an open NSG finding; the rule is then deleted and instance B
    (correct clock) scans. B's evaluation must resolve it; today it is older than A's `last_seen` by the
    skew and is silently ignored, so the finding stays open."""
    import json

    from core import service

    sc.sweep(app)
    nsg, ws = sc.NSG["nsg-analytics"], sc.WS["dbw-analytics-prod"]
    sc.arm(app, "PUT", f"{nsg}/securityRules/dbg", f.nsg_rule(nsg, "dbg", "Inbound", 150, "Tcp", "Internet", "*", "22"))
    real = datetime.now(UTC)
    body = json.dumps(service.ScanRequest(workspace_id=ws, source="event", requested_at=real).body())
    service.scan_request(app.rt, body, now=real + timedelta(seconds=30))  # instance A
    assert ("DBX-NET-005", "dbg") in {(x.rule_id, x.subject) for x in app.open_findings()}
    sc.arm(app, "DELETE", f"{nsg}/securityRules/dbg")
    service.scan_request(app.rt, body, now=datetime.now(UTC))  # instance B
    assert ("DBX-NET-005", "dbg") not in {(x.rule_id, x.subject) for x in app.open_findings()}

"""Issue 10 §7: notify lock contention is a retry with a delay, not an exception that poisons messages."""

from __future__ import annotations

import json

from core.store import TableFindingsStore
from tests.support.app import App


def test_a_busy_digest_lock_requeues_the_message_instead_of_failing_it(app: App) -> None:
    """Another instance holds the workspace's digest lock while transitions arrive. Each message must
    complete (no failed attempt, nothing poisoned) and come back later; once the lock is free the digest
    is posted and nothing stays pending. Today every delivery raises NotifyBusy: 5 failed attempts, then
    the poison queue."""
    app.host.fire_timer()
    app.host.drain("scan-requests", "scan_workspace")
    store: TableFindingsStore = app.store()
    ws = next(iter(store.findings_table.list_entities()))["resource_id"]
    assert store.pending_notifications(ws), "the sweep should leave this workspace's transitions pending"
    assert store.claim_notify_lock(ws, "another-instance", ttl_s=120)
    queue = app.rt.connection.queue("drift-findings")
    # Deliver this workspace's messages while the lock is held (the other workspaces' too: they post).
    held = app.host.drain("drift-findings", "notify_drift", workers=2, idle_s=0.2, max_s=8)
    assert held.failed_attempts == 0 and held.poisoned == 0
    props = queue.get_queue_properties()
    assert props.approximate_message_count >= 1, "the busy workspace's messages were dropped"
    assert store.pending_notifications(ws), "nothing should have been posted for the locked workspace"
    store.release_notify_lock(ws, "another-instance")
    after = app.host.drain("drift-findings", "notify_drift", workers=2, max_s=60)
    assert after.failed_attempts == 0 and after.poisoned == 0
    assert store.pending_notifications(ws) == []
    names = json.dumps([p["body"] for p in app.emulator.teams_posts()])
    assert ws.rsplit("/", 1)[-1] in names

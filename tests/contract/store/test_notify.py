"""Notification bookkeeping per finding and the per-workspace digest lock."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from core.store import TableFindingsStore
from core.store.keys import resource_key
from tests.support.store import T0, make_finding, ws_id

pytestmark = pytest.mark.integration

WS = ws_id("ws-notify")
RULES = frozenset({"DBX-WS-001", "DBX-NET-005"})


def test_pending_then_notified_then_new_transition_pending(store: TableFindingsStore) -> None:
    a, b = make_finding(WS, "DBX-WS-001"), make_finding(WS, "DBX-NET-005", "r", severity="low")
    store.reconcile([a, b], resource_id=WS, evaluated_rules=RULES, now=T0, source="sweep")
    pending = store.pending_notifications(WS)
    assert sorted((t.transition, t.finding.id) for t in pending) == sorted([("opened", a.id), ("opened", b.id)])
    assert store.mark_notified([a.id], T0 + timedelta(minutes=1)) == 1
    assert store.mark_skipped([b.id], T0 + timedelta(minutes=1), resource_id=WS) == 1
    assert store.pending_notifications(WS) == []
    row = next(iter(store.findings_table.query_entities("RowKey eq @id", parameters={"id": a.id})))
    assert row["notify_state"] == "notified" and row["notified_at"] == T0 + timedelta(minutes=1)
    # unchanged reconcile keeps the bookkeeping
    store.reconcile([a, b], resource_id=WS, evaluated_rules=RULES, now=T0 + timedelta(hours=1), source="sweep")
    assert store.pending_notifications(WS) == []
    store.reconcile([b], resource_id=WS, evaluated_rules=RULES, now=T0 + timedelta(hours=2), source="sweep")
    [t] = store.pending_notifications(WS)
    assert t.transition == "resolved" and t.finding.id == a.id and t.at == T0 + timedelta(hours=2)


def test_mark_failed_and_newer_transition_stays_pending(store: TableFindingsStore) -> None:
    a = make_finding(WS, "DBX-WS-001")
    store.reconcile([a], resource_id=WS, evaluated_rules=RULES, now=T0, source="sweep")
    digest_built = T0 + timedelta(minutes=1)
    store.reconcile([], resource_id=WS, evaluated_rules=RULES, now=T0 + timedelta(minutes=2), source="event")
    assert store.mark_notified([a.id], T0 + timedelta(minutes=3), recorded_before=digest_built) == 0
    assert [t.transition for t in store.pending_notifications(WS)] == ["resolved"]
    assert store.mark_notify_failed([a.id], "HTTP 500 from webhook") == 1
    row = next(iter(store.findings_table.query_entities("RowKey eq @id", parameters={"id": a.id})))
    assert row["notify_state"] == "failed" and row["notify_error"] == "HTTP 500 from webhook"
    assert store.mark_notified(["0" * 32], T0) == 0  # unknown id: nothing to do


def test_has_pending_notifications_answers_without_reading_the_partition(store: TableFindingsStore) -> None:
    """The notify use case's cheap pre-check (one filtered read) agrees with the full pending list."""
    ws = ws_id("ws-peek")
    assert not store.has_pending_notifications(ws)
    a = make_finding(ws, "DBX-WS-001")
    store.reconcile([a], resource_id=ws, evaluated_rules=RULES, now=T0, source="sweep")
    assert store.has_pending_notifications(ws)
    store.mark_notify_failed([a.id], "HTTP 500 from webhook", resource_id=ws)
    assert not store.has_pending_notifications(ws) and store.has_pending_notifications(ws, include_failed=True)
    store.mark_notified([a.id], T0 + timedelta(minutes=1), resource_id=ws)
    assert not store.has_pending_notifications(ws, include_failed=True)
    assert store.pending_notifications(ws, include_failed=True) == []


def test_a_digest_marks_its_burst_in_one_transaction_and_a_row_changed_meanwhile_is_decided_again(
        store: TableFindingsStore) -> None:
    """mark_notified of a whole burst is one ETag-checked transaction; when a row changed after the read
    (another instance marked it, or a new transition), the batch is refused and each row is decided alone."""
    ws = ws_id("ws-batch")
    fs = [make_finding(ws, "DBX-WS-001"), make_finding(ws, "DBX-NET-005", "a"), make_finding(ws, "DBX-NET-005", "b")]
    store.reconcile(fs, resource_id=ws, evaluated_rules=RULES, now=T0, source="sweep")
    stale = store._load_partition(resource_key(ws))
    assert store.mark_notified([fs[0].id], T0 + timedelta(minutes=1), resource_id=ws) == 1  # changes its ETag
    store._load_partition = lambda pk: stale  # type: ignore[method-assign]  # the read before that change
    assert store.mark_notified([f.id for f in fs], T0 + timedelta(minutes=2), resource_id=ws) == 2
    del store._load_partition
    assert store.pending_notifications(ws) == []
    rows = {e["RowKey"]: e for e in store.findings_table.query_entities("PartitionKey eq @pk",
                                                                          parameters={"pk": resource_key(ws)})}
    assert rows[fs[0].id]["notified_at"] == T0 + timedelta(minutes=1)  # the first marking stands
    assert {rows[f.id]["notified_at"] for f in fs[1:]} == {T0 + timedelta(minutes=2)}


def test_notify_lock_single_holder_expiry_release(store: TableFindingsStore) -> None:
    assert store.claim_notify_lock(WS, "a", 60, now=T0)
    assert not store.claim_notify_lock(WS, "b", 60, now=T0 + timedelta(seconds=10))
    assert store.claim_notify_lock(WS, "a", 60, now=T0 + timedelta(seconds=10))  # holder renews
    assert not store.release_notify_lock(WS, "b")
    assert store.claim_notify_lock(WS, "b", 60, now=T0 + timedelta(seconds=200))  # expired: taken over
    assert not store.release_notify_lock(WS, "a")
    assert store.release_notify_lock(WS, "b")
    assert store.claim_notify_lock(WS, "c", 60, now=T0)
    assert store.claim_notify_lock(ws_id("other"), "d", 60, now=T0)  # per workspace


def test_notify_lock_race_has_one_winner(store: TableFindingsStore) -> None:
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def run(owner: str) -> None:
        s = TableFindingsStore(store.connection)
        barrier.wait()
        if s.claim_notify_lock(WS, owner, 60):
            wins.append(owner)

    threads = [threading.Thread(target=run, args=(f"o{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1

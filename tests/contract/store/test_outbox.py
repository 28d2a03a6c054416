"""Issue 10 §1: the transition outbox and queue-message size (store level, over Azurite)."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest

from core.store import QueueBus, StorageConnection, TableFindingsStore
from core.store.outbox import Outbox
from core.store.queues import CUT_MARKER
from core.store.summary import SummaryCounters
from tests.support.store import T0, make_finding, ws_id

WS = ws_id("ws-outbox")


def test_a_transition_stays_in_the_outbox_until_delivered(store: TableFindingsStore) -> None:
    """The finding row carries the transition (same entity write) until `outbox_delivered` clears it;
    the re-driver finds it, and rewriting its history rows is idempotent."""
    f = make_finding(WS)
    (t,) = store.reconcile([f], resource_id=WS, evaluated_rules=frozenset({f.rule_id}), now=T0, source="sweep")
    again = store.undelivered(0)
    assert [x.finding.id for x in again] == [f.id] and again[0].transition == "opened"
    assert [h.transition for h in store.get(f.id)[1]] == ["opened"]  # re-driving did not add a history row
    assert store.outbox_delivered([t]) == 1
    assert store.undelivered(0) == []
    assert store.undelivered(600) == []


def test_a_scans_transitions_are_cleared_together_and_a_newer_entry_stays(
        store: TableFindingsStore) -> None:
    """One scan's transitions share the workspace partition: cleared in one read and one transaction. A row
    that has a newer outbox entry (it resolved before the first delivery finished) loses only the delivered
    one; the newer entry stays for its own delivery."""
    ws = ws_id("ws-outbox-batch")
    fs = [make_finding(ws, "DBX-WS-001"), make_finding(ws, "DBX-NET-005", "a"), make_finding(ws, "DBX-NET-005", "b")]
    rules = frozenset(f.rule_id for f in fs)
    opened = store.reconcile(fs, resource_id=ws, evaluated_rules=rules, now=T0, source="sweep")
    (resolved,) = store.reconcile(fs[1:], resource_id=ws, evaluated_rules=rules, now=T0.replace(hour=T0.hour + 1),
                                  source="sweep")
    assert store.outbox_delivered(opened) == 3
    assert [(t.finding.id, t.transition) for t in store.undelivered(0)] == [(fs[0].id, "resolved")]
    assert store.outbox_delivered([resolved]) == 1 and store.undelivered(0) == []


def test_a_fresh_outbox_entry_is_left_to_its_writer(store: TableFindingsStore) -> None:
    f = make_finding(WS)
    store.reconcile([f], resource_id=WS, evaluated_rules=frozenset({f.rule_id}), now=T0, source="sweep")
    assert store.undelivered(600) == []  # written seconds ago (store time): its writer may still send it


def test_a_transition_over_the_queue_limit_is_cut_not_lost(store: TableFindingsStore,
                                                            connection: StorageConnection) -> None:
    """A long workspace-conf value (200 KB) in a finding: today the send fails (the queue refuses messages
    over 64 KiB) and the transition is lost. It must arrive, cut with a marker, the full value in the store."""
    long_value = "x" * 200_000
    f = make_finding(WS, actual=long_value)
    (t,) = store.reconcile([f], resource_id=WS, evaluated_rules=frozenset({f.rule_id}), now=T0, source="sweep")
    bus = QueueBus(connection)
    bus.drift_findings.clear_messages()
    bus.send_transition(t)
    (m,) = list(bus.drift_findings.receive_messages(max_messages=1))
    assert len(base64.b64encode(m.content.encode())) <= 64 * 1024
    msg = json.loads(m.content)
    assert msg["finding"]["id"] == f.id and msg["finding"]["resource_id"] == f.resource_id
    assert CUT_MARKER in json.dumps(msg["finding"], ensure_ascii=False)
    assert store.get(f.id)[0].actual == long_value


def test_a_reconciles_history_rows_are_appended_after_its_finding_writes_beside_the_counters_publish(
        store: TableFindingsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Event latency: once every finding write of a reconcile is done, its transitions' history rows are
    appended while the summary counters are published (`TableFindingsStore._deliver_history`), and different
    findings' rows at once; each transition's own rows keep their order, and the summary equals a recount.

    Deterministic, not timed: each history append waits until the publish has started and every other append
    too; appended one after the other (or after the publish) the waits would time out."""
    ws = ws_id("ws-outbox-deliver")
    fs = [make_finding(ws, "DBX-WS-001"), make_finding(ws, "DBX-NET-005", "a"), make_finding(ws, "DBX-NET-005", "b")]
    publishing, appending = threading.Event(), threading.Barrier(len(fs), timeout=10)
    finding_writes: list[str] = []
    append, publish, write = Outbox._append_history, SummaryCounters.publish, TableFindingsStore._apply

    def append_when_all_started(self: Outbox, t: Any, seq: int) -> None:
        assert len(finding_writes) == len(fs)  # after the last finding write
        assert publishing.wait(10), "the counters were not published beside the history appends"
        appending.wait()
        append(self, t, seq)

    def publish_started(self: SummaryCounters, *args: Any, **kwargs: Any) -> Any:
        publishing.set()
        return publish(self, *args, **kwargs)

    def count_write(self: TableFindingsStore, pk: str, finding_id: str, *args: Any, **kwargs: Any) -> Any:
        out = write(self, pk, finding_id, *args, **kwargs)
        finding_writes.append(finding_id)
        return out

    monkeypatch.setattr(Outbox, "_append_history", append_when_all_started)
    monkeypatch.setattr(SummaryCounters, "publish", publish_started)
    monkeypatch.setattr(TableFindingsStore, "_apply", count_write)
    opened = store.reconcile(fs, resource_id=ws, evaluated_rules=frozenset(f.rule_id for f in fs), now=T0,
                             source="sweep")
    assert len(opened) == 3
    for f in fs:
        assert [h.transition for h in store.get(f.id)[1]] == ["opened"]
    assert store.counters.read() == store.summary_by_scan()

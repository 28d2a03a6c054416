"""Two instances reconciling one workspace at once: exactly one transition per change, none lost."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from datetime import timedelta

import pytest

from core.store import StorageConnection, TableFindingsStore
from tests.support.store import T0, make_finding, ws_id

pytestmark = pytest.mark.integration

WS = ws_id("ws-race")
RULES = frozenset({"DBX-NET-005"})


def _evaluation(n: int = 30) -> list:
    return [make_finding(WS, "DBX-NET-005", f"rule-{i}") for i in range(n)]


def _race(store: TableFindingsStore, findings: list, now, workers: int = 4) -> list:
    barrier = threading.Barrier(workers)
    results: list = [None] * workers

    def run(i: int) -> None:
        s = TableFindingsStore(store.connection)  # own clients, like another instance
        barrier.wait()
        results[i] = s.reconcile(findings, resource_id=WS, evaluated_rules=RULES, now=now, source="sweep")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [t for r in results for t in r]


def test_threads_open_each_finding_once_and_resolve_once(store: TableFindingsStore) -> None:
    fs = _evaluation()
    opened = _race(store, fs, T0)
    assert Counter(t.finding.id for t in opened) == Counter({f.id: 1 for f in fs})
    assert {t.transition for t in opened} == {"opened"}
    resolved = _race(store, [], T0 + timedelta(hours=1))
    assert sorted(t.finding.id for t in resolved) == sorted(f.id for f in fs)
    for f in fs:
        assert [h.transition for h in store.get(f.id)[1]] == ["opened", "resolved"]


def test_threads_with_different_evaluations_lose_no_transition(store: TableFindingsStore) -> None:
    """One instance sees the finding, the other (later) does not: the history is consistent with the final state."""
    f = make_finding(WS, "DBX-NET-005", "x")
    store.reconcile([f], resource_id=WS, evaluated_rules=RULES, now=T0, source="sweep")
    out: list = []
    barrier = threading.Barrier(2)

    def run(findings, now) -> None:
        barrier.wait()
        out.extend(TableFindingsStore(store.connection).reconcile(findings, resource_id=WS, evaluated_rules=RULES,
                                                                  now=now, source="event"))

    a = threading.Thread(target=run, args=([make_finding(WS, "DBX-NET-005", "x")], T0 + timedelta(minutes=1)))
    b = threading.Thread(target=run, args=([], T0 + timedelta(minutes=2)))
    a.start(), b.start(), a.join(), b.join()
    cur, hist = store.get(f.id)
    assert cur.status == "resolved" and [t.transition for t in out] == ["resolved"]
    assert [h.transition for h in hist] == ["opened", "resolved"]


def _proc_reconcile(conn_str: str, n: int, q) -> None:
    store = TableFindingsStore.from_connection_string(conn_str)
    fs = [make_finding(WS, "DBX-NET-005", f"rule-{i}") for i in range(n)]
    q.put([t.finding.id for t in store.reconcile(fs, resource_id=WS, evaluated_rules=RULES, now=T0,
                                                  source="sweep")])


def test_two_processes_open_each_finding_once(store: TableFindingsStore, azurite) -> None:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_proc_reconcile, args=(azurite.connection_string, 20, q)) for _ in range(2)]
    for p in procs:
        p.start()
    ids = [i for _ in procs for i in q.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
    assert Counter(ids) == Counter({f.id: 1 for f in _evaluation(20)})
    for f in _evaluation(20):
        assert [h.transition for h in store.get(f.id)[1]] == ["opened"]


def test_conflicting_write_is_redone(store: TableFindingsStore, connection: StorageConnection) -> None:
    """A stale ETag (another writer got in between load and write) is reloaded, not overwritten."""
    f = make_finding(WS, "DBX-NET-005", "x")
    store.reconcile([f], resource_id=WS, evaluated_rules=RULES, now=T0, source="sweep")
    pk = next(iter(store.findings_table.query_entities("RowKey eq @id", parameters={"id": f.id})))["PartitionKey"]
    stale = store._load_one(pk, f.id)
    assert stale is not None
    # Someone else resolves it meanwhile.
    TableFindingsStore(connection).reconcile([], resource_id=WS, evaluated_rules=RULES, now=T0 + timedelta(1),
                                             source="sweep")
    # Our decision was based on "open"; the write loses and the redo sees "resolved" (newer than us): no-op.
    t = store._apply(pk, f.id, stale, None, evaluated_rules=RULES, now=T0 + timedelta(hours=1), source="sweep")
    assert t is None
    assert [h.transition for h in store.get(f.id)[1]] == ["opened", "resolved"]

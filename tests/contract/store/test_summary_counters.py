"""Maintained summary counters (issue 14 point 6) against Azurite: always equal to a full recount.

Each test compares `SummaryCounters.read()` (which raises rather than guess) with
`TableFindingsStore.summary_by_scan()`, the old whole-table count, after real reconciles.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import UpdateMode

from core.store import TableFindingsStore
from core.store.keys import resource_key
from core.store.rows import _Row
from core.store.summary import SUMMARY_PARTITION, CountersUnavailable, shard_key, shard_of
from tests.support.store import T0, make_finding, ws_id

pytestmark = pytest.mark.integration

A, B, C = ws_id("ws-sum-a"), ws_id("ws-sum-b"), ws_id("ws-sum-c", rg="rg-other")
RULES = ("DBX-WS-001", "DBX-WS-002", "DBX-NET-005", "DBX-IPACL-002")
EVAL = frozenset(RULES)


def assert_exact(store: TableFindingsStore) -> dict:
    """Counters answer (no fallback), equal the whole-table count, and no writer token is left."""
    from_counters = store.counters.read()
    assert from_counters == store.summary_by_scan()
    assert store.summary() == from_counters
    assert store.counters.status()["workspaces_with_writers_in_flight"] == 0
    return from_counters


def test_lifecycle_open_resolve_reopen_exempt_import(store: TableFindingsStore) -> None:
    store.import_findings([make_finding(C, "DBX-WS-001"), make_finding(C, "DBX-WS-002", status="resolved")])
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-NET-005", "ssh", severity="critical"),
                     make_finding(B, "DBX-WS-002", severity="critical")][:2], resource_id=A, evaluated_rules=EVAL,
                    now=T0, source="sweep")
    store.reconcile([make_finding(B, "DBX-WS-002", severity="critical")], resource_id=B, evaluated_rules=EVAL,
                    now=T0, source="sweep")
    assert assert_exact(store)["by_status"] == {"open": 4, "resolved": 1, "exempted": 0}
    t1 = T0 + timedelta(hours=1)  # resolve one, exempt one, change a severity
    store.reconcile([make_finding(A, "DBX-NET-005", "ssh", severity="critical", status="exempted", now=t1)],
                    resource_id=A, evaluated_rules=EVAL, now=t1, source="sweep")
    store.reconcile([make_finding(B, "DBX-WS-002", severity="low", now=t1)], resource_id=B, evaluated_rules=EVAL,
                    now=t1, source="event")
    doc = assert_exact(store)
    assert doc["by_status"] == {"open": 2, "resolved": 2, "exempted": 1}
    assert doc["open_by_severity"]["low"] == 1 and doc["open_by_severity"]["critical"] == 0
    t2 = t1 + timedelta(hours=1)  # reopen, un-exempt, then the workspace is deleted; a re-import overwrites
    store.reconcile([make_finding(A, "DBX-WS-001", now=t2), make_finding(A, "DBX-NET-005", "ssh", now=t2)],
                    resource_id=A, evaluated_rules=EVAL, now=t2, source="sweep")
    store.resolve_workspace(B, t2, "event", reason="workspace deleted")
    store.import_findings([make_finding(C, "DBX-WS-002", severity="medium"), make_finding(C, "DBX-IPACL-002", "x")])
    doc = assert_exact(store)
    assert doc["total"] == 6 and doc["by_status"] == {"open": 5, "resolved": 1, "exempted": 0}


def test_concurrent_scans_on_same_and_different_workspaces(store: TableFindingsStore) -> None:
    """Four threads, two per workspace, each its own store client, reconcile random evaluations."""
    workspaces = (A, B)
    errors: list[BaseException] = []
    base = datetime.now(UTC)
    start = threading.Barrier(4)

    def worker(n: int) -> None:
        own = TableFindingsStore(store.connection)
        rnd = random.Random(n)
        ws = workspaces[n % 2]
        start.wait()
        try:
            for step in range(2):
                now = base + timedelta(seconds=step * 10 + n)
                found = [make_finding(ws, r, s, now=now, severity=rnd.choice(("high", "critical")),
                                      status=rnd.choice(("open", "open", "exempted")))
                         for r in RULES[:2] for s in (None, "x") if rnd.random() < 0.5]
                own.reconcile(found, resource_id=ws, evaluated_rules=EVAL, now=now, source="sweep")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    doc = assert_exact(store)
    assert set(doc["by_workspace"]) == {w.lower() for w in workspaces} and doc["total"] > 0


def _row(store: TableFindingsStore, ws: str) -> dict:
    """The workspace's counter row."""
    return dict(store.counters.table.get_entity(SUMMARY_PARTITION, resource_key(ws)))


def _shard(store: TableFindingsStore, ws: str) -> dict:
    """The shard row holding the workspace's part of the totals."""
    return dict(store.counters.table.get_entity(SUMMARY_PARTITION, shard_key(shard_of(resource_key(ws)))))


def test_rebuild_restores_deleted_and_corrupted_rows(store: TableFindingsStore) -> None:
    for ws in (A, B):
        store.reconcile([make_finding(ws, "DBX-WS-001"), make_finding(ws, "DBX-WS-002", status="exempted")],
                        resource_id=ws, evaluated_rules=EVAL, now=T0, source="sweep")
    expected = assert_exact(store)
    table = store.counters.table

    shard = _shard(store, A)
    table.delete_entity(SUMMARY_PARTITION, shard["RowKey"])
    with pytest.raises(CountersUnavailable, match=f"{shard['RowKey']} is missing"):
        store.counters.read()
    assert store.summary() == expected  # counted from the table instead, never a wrong answer
    assert store.counters.rebuild() == {"workspaces": 2, "findings_partitions": 2}
    assert assert_exact(store) == expected

    table.update_entity({**_shard(store, B), "total": "{not json"}, mode=UpdateMode.REPLACE)
    with pytest.raises(CountersUnavailable, match="unreadable"):
        store.counters.read()
    assert store.summary() == expected
    store.counters.rebuild()
    assert assert_exact(store) == expected

    # A workspace row lost or damaged: the totals stand, until a writer cannot apply its change to them.
    later = T0 + timedelta(hours=1)
    for ws, damage in ((A, "delete"), (B, "corrupt")):
        if damage == "delete":
            table.delete_entity(SUMMARY_PARTITION, resource_key(ws))
        else:
            table.update_entity({**_row(store, ws), "counts": "[]"}, mode=UpdateMode.REPLACE)
        assert store.counters.read() == store.summary_by_scan()
        store.reconcile([make_finding(ws, "DBX-WS-001", now=later)], resource_id=ws, evaluated_rules=EVAL, now=later,
                        source="sweep")
        with pytest.raises(CountersUnavailable, match="needs a rebuild"):
            store.counters.read()
        assert store.summary() == store.summary_by_scan()
        store.counters.rebuild()
        assert_exact(store)


def test_findings_written_before_counters_existed_need_a_rebuild(store: TableFindingsStore) -> None:
    """Rows the counters never saw (an upgrade from a version without them) are found by the
    fallback; after `rebuild-summary` the counters carry them."""
    row = _Row(make_finding(A, "DBX-WS-001"), "", 0, None, None, None, None, None)
    store.findings_table.upsert_entity(TableFindingsStore._entity(row), mode=UpdateMode.REPLACE)
    store.reconcile([make_finding(B, "DBX-WS-001")], resource_id=B, evaluated_rules=EVAL, now=T0, source="sweep")
    with pytest.raises(CountersUnavailable, match="missing"):  # only B's shard, and that one unbuilt
        store.counters.read()
    assert store.summary()["total"] == 2
    store.counters.rebuild()
    assert assert_exact(store)["by_workspace"] == {A.lower(): 1, B.lower(): 1}


def test_a_crashed_writer_is_recounted_until_its_lease_expires(store: TableFindingsStore) -> None:
    """A writer that registered, wrote a finding and died before publishing: readers recount that
    workspace; the next publish after the lease drops its token."""
    store.reconcile([make_finding(A, "DBX-WS-001")], resource_id=A, evaluated_rules=EVAL, now=T0, source="sweep")
    pk = resource_key(A)
    store.counters.register(pk, "dead-writer", datetime.now(UTC))
    row = _Row(make_finding(A, "DBX-WS-002", severity="critical"), "", 1, None, None, None, None, None)
    store.findings_table.upsert_entity(TableFindingsStore._entity(row), mode=UpdateMode.REPLACE)
    doc = store.counters.read()
    assert doc == store.summary_by_scan() and doc["total"] == 2
    assert store.counters.status()["workspaces_with_writers_in_flight"] == 1
    store.counters.publish(pk, "someone-else", datetime.now(UTC))  # lease still running: token stays
    assert json.loads(_row(store, A)["pending"]).keys() == {"dead-writer"}
    store.counters.publish(pk, "someone-else", datetime.now(UTC) + timedelta(hours=1))
    assert_exact(store)


@pytest.mark.parametrize("other_publishes", [True, False], ids=["other-writer-publishes", "other-writer-crashes"])
@pytest.mark.parametrize("writer", ["reconcile", "import"])
def test_publish_racing_another_writer_is_redone(store: TableFindingsStore, monkeypatch: pytest.MonkeyPatch,
                                                writer: str, other_publishes: bool) -> None:
    """Interleavings the threads above hit only by chance, forced. Writer Y registers and commits a change
    of the workspace while writer X is between its registration and its publish (X reconciles: its
    publish would add its own changes to the row it registered) or between its recount and its write
    (X imports: it always recounts). X's ETag-checked publish must fail and recount; when Y died before
    publishing, Y's token must survive X's publish."""
    x = TableFindingsStore(store.connection)
    y = TableFindingsStore(store.connection)
    fired: list[bool] = []

    def other_writer(pk: str) -> None:
        if fired:
            return
        fired.append(True)
        if other_publishes:  # an import recounts the workspace: X's change is in that count already
            y.import_findings([make_finding(A, "DBX-WS-002", severity="critical")])
        else:
            y.counters.register(pk, "crashed-writer", datetime.now(UTC))
            row = _Row(make_finding(A, "DBX-WS-002", severity="critical"), "", 1, None, None, None, None, None)
            y.findings_table.upsert_entity(TableFindingsStore._entity(row), mode=UpdateMode.REPLACE)

    if writer == "reconcile":
        real_publish = x.counters.publish

        def publish_after_race(pk: str, *args, **kwargs):
            other_writer(pk)
            return real_publish(pk, *args, **kwargs)

        monkeypatch.setattr(x.counters, "publish", publish_after_race)
        x.reconcile([make_finding(A, "DBX-WS-001")], resource_id=A, evaluated_rules=frozenset({"DBX-WS-001"}),
                    now=T0, source="sweep")
    else:
        real_recount = x.counters.recount_partition

        def recount_then_race(pk: str):
            counted = real_recount(pk)
            other_writer(pk)
            return counted

        monkeypatch.setattr(x.counters, "recount_partition", recount_then_race)
        x.import_findings([make_finding(A, "DBX-WS-001")])
    assert fired
    doc = store.counters.read()
    assert doc == store.summary_by_scan() and doc["total"] == 2
    pending = json.loads(_row(store, A)["pending"])
    assert pending.keys() == (set() if other_publishes else {"crashed-writer"})


def test_api_and_cli_answer_from_counters_and_rebuild_summary(store: TableFindingsStore, azurite,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A counter row edited to a recognisable (valid) value shows in GET /api/summary and `findings summary`:
    both answer from the counters; `findings rebuild-summary` puts the true counts back."""
    import azure.functions as func

    from functions import findings_api
    from tests.app.test_cli_findings import run

    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-WS-002", status="exempted")],
                    resource_id=A, evaluated_rules=EVAL, now=T0, source="sweep")
    truth = assert_exact(store)
    row = _shard(store, A)
    counts = json.loads(row["total"])
    counts["by_workspace"][A.lower()] = 999
    store.counters.table.update_entity({**row, "total": json.dumps(counts)}, mode=UpdateMode.REPLACE)

    app = func.FunctionApp()
    app.register_functions(findings_api.bp)
    fn = next(f for f in app.get_functions() if f.get_function_name() == "findings_summary").get_user_function()
    findings_api.set_store(TableFindingsStore(store.connection))
    try:
        resp = fn(func.HttpRequest(method="GET", url="/api/summary", params={}, body=b""))
        assert resp.status_code == 200 and json.loads(resp.get_body())["by_workspace"] == {A.lower(): 999}
        assert run(["findings", "summary", "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["by_workspace"] == {A.lower(): 999}

        assert run(["findings", "rebuild-summary"]) == 0
        assert "1 workspaces" in capsys.readouterr().err
        resp = fn(func.HttpRequest(method="GET", url="/api/summary", params={}, body=b""))
        assert json.loads(resp.get_body()) == truth
        assert run(["findings", "rebuild-summary", "--check"]) == 0
        assert json.loads(capsys.readouterr().out)["usable"] is True
        store.counters.table.delete_entity(SUMMARY_PARTITION, row["RowKey"])
        assert run(["findings", "rebuild-summary", "--check"]) == 3
        assert "missing" in json.loads(capsys.readouterr().out)["reason"]
        resp = fn(func.HttpRequest(method="GET", url="/api/summary", params={}, body=b""))
        assert json.loads(resp.get_body()) == truth  # counted from the table, not wrong
    finally:
        findings_api.set_store(None)


def test_an_event_reconcile_reads_its_counters_beside_its_partition_and_a_stale_read_costs_a_retry(
        store: TableFindingsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Event latency: an event-driven reconcile reads the rows a counted change registers on while it loads the
    workspace's findings (`SummaryCounters.prefetch`), and its registration starts from them: one read of the
    pair, not one after the load. Rows that another writer changed since cost a retry of the ETag-checked
    transaction, never a wrong count. A sweep's reconcile reads them only when it changes something.

    Deterministic: the partition load waits until the counters' read has started (beside it, or it times out)."""
    from concurrent.futures import Future

    from core.store.findings import TableFindingsStore as Store
    from core.store.summary import SummaryCounters

    pk = resource_key(A)
    pair_reads: list[str] = []
    counters_reading = threading.Event()
    read_pair, load = SummaryCounters._read_pair, Store._load_partition

    def spied_read_pair(self: SummaryCounters, key: str, *args: object, **kwargs: object) -> object:
        pair_reads.append(key)
        counters_reading.set()
        return read_pair(self, key, *args, **kwargs)  # type: ignore[arg-type]

    def load_after_the_counters_read_started(self: Store, key: str) -> object:
        assert counters_reading.wait(10), "the counters were not read beside the partition"
        return load(self, key)

    store.reconcile([make_finding(A, "DBX-WS-001")], resource_id=A, evaluated_rules=EVAL, now=T0, source="sweep")
    monkeypatch.setattr(SummaryCounters, "_read_pair", spied_read_pair)
    monkeypatch.setattr(Store, "_load_partition", load_after_the_counters_read_started)
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-WS-002")], resource_id=A,
                    evaluated_rules=EVAL, now=T0 + timedelta(minutes=1), source="event")
    assert pair_reads == [pk]  # the prefetch; its registration and publish read nothing more
    assert_exact(store)

    monkeypatch.setattr(Store, "_load_partition", load)
    stale: Future[object] = Future()
    stale.set_result(read_pair(store.counters, pk, T0, create=False))
    store.reconcile([make_finding(A, "DBX-WS-001")], resource_id=A, evaluated_rules=EVAL,
                    now=T0 + timedelta(minutes=2), source="sweep")  # another writer publishes: the ETag moves
    monkeypatch.setattr(SummaryCounters, "prefetch", lambda self, key, now: stale)
    pair_reads.clear()
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-NET-005", "x")], resource_id=A,
                    evaluated_rules=EVAL, now=T0 + timedelta(minutes=3), source="event")
    assert pair_reads == [pk]  # the stale rows lost the transaction: read again once
    assert_exact(store)

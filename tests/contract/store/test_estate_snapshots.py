"""Estate snapshots + the estate time index (core/store/estate.py): the posture of every workspace as of T
from one snapshot and the estate index after it equals the full replay of every workspace's index partition,
at every instant; whatever the snapshot cannot vouch for goes the per-workspace way, with a warning
(issue 16, points 2 and 4 at scale). Small estates, through the real store on Azurite."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store import StorageConnection, TableFindingsStore
from core.store import estate as es
from core.store.estate import SNAPSHOT_BODY, SNAPSHOT_HEADS, estate_partition, estate_rebuild, latest_snapshot
from tests.support.store import HISTORY_RULES, T0, reconcile_step, reset_storage, write_histories, ws_id

pytestmark = pytest.mark.integration

H = timedelta(hours=1)
RULES = HISTORY_RULES
STATE = st.sampled_from(("absent", "open", "exempted"))
ESTATE_LOG = "core.store.estate"


@pytest.fixture(autouse=True)
def _estate_path_for_small_estates(store: TableFindingsStore) -> None:
    """Production uses the estate path from 8 workspaces to rebuild on; these estates have 2 or 3."""
    store.estate_min_workspaces = 1



def _replay(store: TableFindingsStore, at) -> list[dict]:
    """The reference: every workspace's index partition replayed from its start."""
    store.estate_snapshots, store.history_checkpoints = False, False
    try:
        return [f.to_json_dict() for f in store.findings_as_of(at)]
    finally:
        store.estate_snapshots, store.history_checkpoints = True, True


def _estate(store: TableFindingsStore, at) -> list[dict]:
    return [f.to_json_dict() for f in store.findings_as_of(at)]


def _fallback(store: TableFindingsStore, at) -> tuple[bool, set[str]]:
    """What the estate path does as of `at` with what `findings_as_of` hands it (the findings changed after
    `at`): (were there any, the workspaces it sends the per-workspace way)."""
    seqs: dict[str, int] = {}
    pending: dict[str, set[str]] = {}
    last = {}
    for f, changed in store.current_findings(seqs=seqs):
        if changed is not None and changed > at and f.first_seen <= at:
            pending.setdefault(f.resource_id.lower(), set()).add(f.id)
            last[f.id] = changed
    if not pending:
        return False, set()
    return True, estate_rebuild(store, at, pending, seqs, max(last.values()))[1]


CYCLE = [("open", "open", "absent"), ("absent", "exempted", "open"), ("open", "absent", "open")]


def _flip(store: TableFindingsStore, workspaces: list[str], steps: int = 6) -> None:
    """Evaluations at T0 .. T0 + (steps - 1) h through reconcile (the real write path)."""
    for i in range(steps):
        for ws in workspaces:
            reconcile_step(store, ws, i, CYCLE[i % 3])


def _cycled(store: TableFindingsStore, workspaces: list[str], steps: int = 6) -> None:
    """The same history as `_flip`, written in a few transactions (`_write_histories`)."""
    write_histories(store, workspaces, [[CYCLE[i % 3] for i in range(steps)] for _ in workspaces], step=H)



@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(st.lists(st.tuples(STATE, STATE, STATE), min_size=2, max_size=5), min_size=2, max_size=3),
       cuts=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=2, unique=True),
       instants=st.lists(st.integers(min_value=0, max_value=10), min_size=2, max_size=3, unique=True))
def test_estate_as_of_equals_the_full_replay_at_every_instant(
        store: TableFindingsStore, connection: StorageConnection, caplog: pytest.LogCaptureFixture,
        histories: list[list[tuple[str, str, str]]], cuts: list[int], instants: list[int]) -> None:
    """Random open / exempt / resolve / reopen histories of 2-3 workspaces, estate snapshots at random
    points (the later one extending the earlier): random instants (on an evaluation, between two, before
    and after the history) read the same findings, field for field, as the full replay of every workspace;
    from the first snapshot on, without sending any workspace the per-workspace way."""
    reset_storage(connection)
    workspaces = [ws_id(f"ws-{i}") for i in range(len(histories))]
    write_histories(store, workspaces, histories, step=H)
    rebuilt: list[int] = []
    real_state = es._workspace_state

    def from_workspace_index(*args: Any) -> Any:
        rebuilt.append(len(written))
        return real_state(*args)

    written: list[str | None] = []
    with patch.object(es, "_workspace_state", from_workspace_index):
        for cut in sorted(cuts):
            written.append(store.write_estate_snapshot(at=T0 + cut * H + H / 4))
    assert set(rebuilt) <= {0}  # only the first snapshot reads the workspace indexes; the next extends it
    first = T0 + min(cuts) * H + H / 4
    for at in [T0 - H / 2 + k * H / 2 for k in sorted(instants)]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=ESTATE_LOG):
            got = _estate(store, at)
        assert got == _replay(store, at), at
        if at >= first:  # the estate path answered (or had nothing to rebuild), no workspace set aside
            assert "per-workspace path" not in caplog.text, at


def test_a_missing_corrupt_or_mismatched_snapshot_falls_back_with_a_warning(
        store: TableFindingsStore, caplog: pytest.LogCaptureFixture) -> None:
    a, b = ws_id("ws-a"), ws_id("ws-b")
    _cycled(store, [a, b])
    store.write_estate_snapshot(at=T0 + 2.5 * H)
    at = T0 + 3.5 * H
    expected = _replay(store, at)
    assert _fallback(store, at) == (True, set())
    assert _estate(store, at) == expected
    head = next(iter(store.history_table.query_entities("PartitionKey eq @p", parameters={"p": SNAPSHOT_HEADS})))
    body = next(iter(store.history_table.query_entities("PartitionKey eq @p", parameters={"p": SNAPSHOT_BODY})))

    def falls_back(why: str) -> None:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=ESTATE_LOG):
            assert _fallback(store, at) == (True, {a.lower(), b.lower()}), why
            assert _estate(store, at) == expected, why
        assert "per-workspace path" in caplog.text, why

    store.history_table.upsert_entity({**body, "d0": bytes(body["d0"])[:-3] + b"xyz"})  # content changed
    falls_back("a body that no longer matches its sha256")
    store.history_table.upsert_entity(body)
    assert _fallback(store, at) == (True, set())  # restored: used again
    store.history_table.upsert_entity({**head, "schema": "driftwatch.estate-snapshot/v0"})
    falls_back("a head of another schema")
    store.history_table.upsert_entity({**head, "covers": "20200101T000000000000Z"})
    falls_back("a head whose watermark does not match its key")
    store.history_table.upsert_entity(head)
    store.history_table.delete_entity(body["PartitionKey"], body["RowKey"])
    falls_back("a body part missing")
    assert latest_snapshot(store, T0 + H) is None  # before the first snapshot: none, the per-workspace path
    assert _estate(store, T0 + 1.5 * H) == _replay(store, T0 + 1.5 * H)


def test_transitions_the_estate_index_lacks_send_their_workspace_the_per_workspace_way(
        store: TableFindingsStore, caplog: pytest.LogCaptureFixture) -> None:
    """History written before the estate index existed (or whose estate row is still to come): unknown is
    not compliant, so the workspace is replayed from its own index, the others still come from the snapshot."""
    a, b, c = ws_id("ws-a"), ws_id("ws-b"), ws_id("ws-c")
    _cycled(store, [a, b, c])
    store.write_estate_snapshot(at=T0 + 1.5 * H)
    at = T0 + 2.5 * H
    expected = _replay(store, at)
    lost = next(e for e in store.history_table.query_entities(
        "PartitionKey eq @p", parameters={"p": estate_partition(T0 + 2 * H)})
        if e["resource_id"] == b.lower() and e["at"] == T0 + 2 * H)
    store.history_table.delete_entity(lost["PartitionKey"], lost["RowKey"])  # as if written by an older version
    with caplog.at_level(logging.WARNING, logger=ESTATE_LOG):
        assert _fallback(store, at) == (True, {b.lower()})
        assert _estate(store, at) == expected
    assert "does not account for" in caplog.text
    # the next snapshot rebuilds that workspace from its own index, and is whole again for later instants
    store.write_estate_snapshot(at=T0 + 4.25 * H)
    late = T0 + 4.5 * H
    assert _fallback(store, late) == (True, set())
    assert _estate(store, late) == _replay(store, late)


def test_concurrent_writers_and_a_dead_writer_never_leave_a_wrong_snapshot(
        store: TableFindingsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers at the same watermark each write their own rows (their nonce), and a writer that dies after
    its body but before its head leaves nothing a reader uses. Small parts: the body spans several rows."""
    monkeypatch.setattr(es, "PART_BYTES", 300)
    monkeypatch.setattr(es, "PARTS_PER_ROW", 2)
    workspaces = [ws_id(f"ws-{i}") for i in range(3)]
    _cycled(store, workspaces, steps=5)
    w = T0 + 3.5 * H
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.write_estate_snapshot(at=w)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    heads = list(store.history_table.query_entities("PartitionKey eq @p", parameters={"p": SNAPSHOT_HEADS}))
    assert len(heads) == 3 and len({h["nonce"] for h in heads}) == 3 and all(h["parts"] > 2 for h in heads)
    for h in heads:  # each one whole and the same
        assert es.read_snapshot(store, h).findings == es.read_snapshot(store, heads[0]).findings
    # a writer that dies between its body and its head
    real_create = store.history_table.create_entity

    def die_at_head(entity, **kw):
        if entity["PartitionKey"] == SNAPSHOT_HEADS:
            raise RuntimeError("killed")
        return real_create(entity, **kw)

    monkeypatch.setattr(store.history_table, "create_entity", die_at_head)
    with pytest.raises(RuntimeError):
        store.write_estate_snapshot(at=T0 + 4.5 * H)
    monkeypatch.undo()
    store.estate_min_workspaces = 1
    newest = latest_snapshot(store, T0 + 5 * H)
    assert newest is not None and newest.at == w
    for at in (T0 + 3.75 * H, T0 + 4.75 * H):
        assert _estate(store, at) == _replay(store, at)


def test_the_sweep_hook_writes_one_snapshot_a_day_and_migrate_history_backfills_the_estate_index(
        store: TableFindingsStore) -> None:
    workspaces = [ws_id(f"ws-{i}") for i in range(2)]
    _flip(store, workspaces, steps=2)  # through reconcile: `_append_history` writes the estate index rows
    estate_rows = list(store.history_table.query_entities("PartitionKey ge 'tx-' and PartitionKey lt 'tx.'"))
    assert estate_rows and all(e["kind"] == "transition" for e in estate_rows)
    for e in estate_rows:  # as if written before the estate index existed
        store.history_table.delete_entity(e["PartitionKey"], e["RowKey"])
    assert store.backfill_estate_index() == len(estate_rows) and store.backfill_estate_index() == 0
    assert store.write_estate_snapshot(at=T0 + 1.5 * H) is not None  # months old (the store's clock is now)
    head = store.estate_snapshot_if_due()
    assert head is not None  # due: the newest was more than a day old
    assert store.estate_snapshot_if_due() is None  # the newest is less than a day old
    snap = latest_snapshot(store, datetime.now(UTC))
    assert snap is not None and len(snap.findings) == 6 and snap.at <= datetime.now(UTC) - es.SETTLE
    for at in (T0 + 0.5 * H, T0 + 2 * H):
        assert _estate(store, at) == _replay(store, at)


def test_a_snapshot_never_covers_a_transition_still_in_an_outbox(store: TableFindingsStore) -> None:
    """Its history rows may be written late (the re-driver): the snapshot stops before it."""
    a, b = ws_id("ws-a"), ws_id("ws-b")
    reconcile_step(store, a, 0, ("open", "open", "open"))
    reconcile_step(store, b, 0, ("open", "open", "open"))
    reconcile_step(store, a, 1, ("absent", "open", "open"), deliver=False)  # crashed before clearing its outbox
    reconcile_step(store, b, 2, ("absent", "open", "open"))
    store.write_estate_snapshot(at=T0 + 5 * H)
    snap = latest_snapshot(store, T0 + 5 * H)
    assert snap is not None and snap.at < T0 + H



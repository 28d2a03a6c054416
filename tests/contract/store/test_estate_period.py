"""The period's transitions (`since=`/`until=`) from the estate time index's day partitions
(core/store/estate_period.py `period_rows`), proven complete by the newest estate snapshot before `since`: the same
answer as the filtered query of every workspace index partition, for random histories and windows; what
the estate index cannot vouch for is read that way instead, with a warning (issue 16, points 2 and 4).
Small estates, through the real store on Azurite."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store import StorageConnection, TableFindingsStore
from core.store.estate import estate_partition
from tests.support.store import HISTORY_RULES, T0, reset_storage, write_histories, ws_id

pytestmark = pytest.mark.integration

STEP = timedelta(hours=9)  # evaluations 9 h apart: a history of a few steps spans several UTC days
RULES = HISTORY_RULES
STATE = st.sampled_from(("absent", "open", "exempted"))
OTHER_SUB = "22222222-2222-4222-8222-222222222222"
ESTATE_LOG = "core.store.estate"



def _answers(store: TableFindingsStore, since: Any, until: Any, sub: str | None) -> tuple[list[Any], list[Any]]:
    changes = [t.message() for t in store.changes(since, until, subscription=sub)]
    return changes, store.change_rows(since, until, subscription=sub)


def _scan_answers(store: TableFindingsStore, since: Any, until: Any, sub: str | None) -> tuple[list[Any], list[Any]]:
    """The reference: the query of every workspace index partition (what the period read did before)."""
    store.estate_snapshots = False
    try:
        return _answers(store, since, until, sub)
    finally:
        store.estate_snapshots = True


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=st.lists(st.lists(st.tuples(STATE, STATE, STATE), min_size=2, max_size=6), min_size=2, max_size=3),
       cut=st.integers(min_value=0, max_value=5),
       windows=st.lists(st.tuples(st.integers(min_value=-2, max_value=14), st.integers(min_value=0, max_value=16)),
                        min_size=2, max_size=3),
       by_sub=st.booleans())
def test_the_period_from_the_estate_index_equals_the_workspace_index_query(
        store: TableFindingsStore, connection: StorageConnection, caplog: pytest.LogCaptureFixture,
        histories: list[list[tuple[str, ...]]], cut: int, windows: list[tuple[int, int]], by_sub: bool) -> None:
    """Random open / exempt / resolve / reopen histories of 2-3 workspaces (one in another subscription) over
    a few days, a snapshot at a random point, random [since, until] windows (half-steps, before, across and
    after the history, open-ended): the same transitions, field for field and in the same order, as the query
    of every workspace index partition; from the snapshot's watermark on without that query."""
    reset_storage(connection)
    workspaces = [ws_id(f"ws-{i}", sub=OTHER_SUB if i == 0 else ws_id().split("/")[2]) for i in range(len(histories))]
    write_histories(store, workspaces, histories, step=STEP)
    w = T0 + cut * STEP + STEP / 3
    store.write_estate_snapshot(at=w)
    sub = OTHER_SUB if by_sub else None
    for a, span in windows:
        since = T0 + a * STEP / 2
        until = None if span == 16 else since + span * STEP / 2
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=ESTATE_LOG):
            got = _answers(store, since, until, sub)
        assert got == _scan_answers(store, since, until, sub), (since, until)
        assert ("no snapshot at or before" in caplog.text) == (since <= w), (since, w, caplog.text)
        assert "does not account for" not in caplog.text


def test_missing_estate_rows_or_no_snapshot_before_since_use_the_workspace_index_query(
        store: TableFindingsStore, caplog: pytest.LogCaptureFixture) -> None:
    """A workspace whose estate index lacks a row (history from before it, or a row still to come) is read from
    its own workspace index partition, the others still from the estate index; no snapshot before `since`: the
    whole period by the query of every workspace index partition. Both with a warning, the same answer."""
    a, b, c = ws_id("ws-a"), ws_id("ws-b"), ws_id("ws-c")
    cycle = [("open", "open", "absent"), ("absent", "exempted", "open"), ("open", "absent", "open")]
    write_histories(store, [a, b, c], [[cycle[i % 3] for i in range(6)]] * 3, step=STEP)
    store.write_estate_snapshot(at=T0 + STEP / 2)
    since, until = T0 + STEP, T0 + 4 * STEP
    lost = next(e for e in store.history_table.query_entities(
        "PartitionKey eq @p", parameters={"p": estate_partition(T0 + 2 * STEP)})
        if e["resource_id"] == b.lower() and e["at"] == T0 + 2 * STEP)
    store.history_table.delete_entity(lost["PartitionKey"], lost["RowKey"])
    expected = _scan_answers(store, since, until, None)
    assert any(t["at"] == T0 + 2 * STEP and t["workspace_name"] == "ws-b" for t in expected[1])
    with caplog.at_level(logging.WARNING, logger=ESTATE_LOG):
        assert _answers(store, since, until, None) == expected
    assert "in 1 workspace(s) have transitions the estate index does not account for" in caplog.text
    assert "read from their workspace index" in caplog.text
    caplog.clear()
    early = T0 + STEP / 4  # before the only snapshot
    with caplog.at_level(logging.WARNING, logger=ESTATE_LOG):
        assert _answers(store, early, until, None) == _scan_answers(store, early, until, None)
    assert "no snapshot at or before 2026-03-01T10:15:00Z: the period is read with the estate-wide query" in caplog.text


def test_a_period_read_with_a_snapshot_reads_the_days_of_the_period_not_every_workspace(
        azurite: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The request count: history requests at most two per day from the snapshot to the last transition plus
    the snapshot's head and body; no query over the `ws-` partitions; the current rows' 16 ranges."""
    requests: list[str] = []
    conn = StorageConnection.from_connection_string(
        azurite.connection_string, raw_response_hook=lambda r: requests.append(unquote(r.http_request.url)))
    conn.ensure()
    reset_storage(conn)
    store = TableFindingsStore(conn)
    workspaces = [ws_id(f"ws-{i}") for i in range(4)]
    cycle = [("open", "open", "absent"), ("absent", "exempted", "open"), ("open", "absent", "open")]
    write_histories(store, workspaces, [[cycle[i % 3] for i in range(9)]] * 4, step=STEP)  # 9 steps of 9 h: 4 UTC days
    store.write_estate_snapshot(at=T0 + STEP / 2)
    since = T0 + STEP
    days = len({estate_partition(T0 + i * STEP) for i in range(9)})
    requests.clear()
    with caplog.at_level(logging.WARNING, logger=ESTATE_LOG):
        got = store.change_rows(since, None)
    history = [u for u in requests if "/findinghistory" in u]
    findings = [u for u in requests if "/findings(" in u or "/findings?" in u]
    assert caplog.text == ""
    assert len(got) > 20
    assert len(history) <= days * 2 + 2, history
    assert not [u for u in history if "ws-" in u], "no query of the workspace index"
    assert len(findings) == 16 and len(requests) == len(history) + len(findings)
    requests.clear()
    store.estate_snapshots = False
    assert store.change_rows(since, None) == got
    assert [u for u in requests if "/findinghistory" in u and "PartitionKey ge 'ws-'" in u]


def test_a_snapshot_at_since_itself_is_not_used_for_the_rows_at_since(store: TableFindingsStore) -> None:
    """A snapshot whose watermark is `since` holds the transitions at `since`, which are in the period: the
    period starts at an earlier snapshot (or the workspace index query), never loses them."""
    a, b = ws_id("ws-a"), ws_id("ws-b")
    cycle = [("open", "open", "absent"), ("absent", "exempted", "open"), ("open", "absent", "open")]
    write_histories(store, [a, b], [[cycle[i % 3] for i in range(4)]] * 2, step=STEP)
    store.write_estate_snapshot(at=T0 + STEP / 2)
    store.write_estate_snapshot(at=T0 + 2 * STEP)
    got = _answers(store, T0 + 2 * STEP, None, None)
    assert got == _scan_answers(store, T0 + 2 * STEP, None, None)
    assert {t["at"] for t in got[1]} == {T0 + 2 * STEP, T0 + 3 * STEP}

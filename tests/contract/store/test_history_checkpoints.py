"""History checkpoints (core/store/checkpoints.py): as of T from the newest checkpoint plus the rows after it
gives exactly what the full replay of the workspace's index partition gives (issue 16, point 2)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store import TableFindingsStore
from core.store import checkpoints as cps
from core.store.checkpoints import checkpoint_partition, extend_checkpoints, latest_checkpoint
from tests.support.store import HISTORY_RULES, T0, reconcile_step, ws_id

pytestmark = pytest.mark.integration

H = timedelta(hours=1)
RULES = HISTORY_RULES
STATE = st.sampled_from(("absent", "open", "exempted"))


@pytest.fixture(autouse=True)
def _always_look_for_checkpoints(store: TableFindingsStore) -> None:
    """These histories are short; production reads look for a checkpoint from 25 transitions on."""
    store.checkpoint_lookup_from = 0



def _as_of(store: TableFindingsStore, at, *, checkpoints: bool, workspace: str | None) -> list[dict]:  # type: ignore[no-untyped-def]
    store.history_checkpoints = checkpoints
    try:
        return [f.to_json_dict() for f in store.findings_as_of(at, workspace=workspace)]
    finally:
        store.history_checkpoints = True


def _instants(steps: int) -> list:  # type: ignore[type-arg]
    """Before the history, at each evaluation and between two (half past)."""
    return [T0 - H / 2] + [T0 + i * H + H / 2 * (i % 2) for i in range(steps + 1)]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(st.tuples(STATE, STATE, STATE), min_size=2, max_size=5),
       cut=st.integers(min_value=1, max_value=4), every=st.integers(min_value=1, max_value=3))
def test_checkpointed_as_of_equals_the_full_replay(store: TableFindingsStore, unique_ws: Callable[[], str],
                                                    history: list[tuple[str, str, str]], cut: int,
                                                    every: int) -> None:
    """Random open / exempt / resolve / reopen histories with a checkpoint run written mid-way (then the
    history goes on) and another at the end: every instant reads the same findings, field for field."""
    ws = unique_ws()
    cut = min(cut, len(history) - 1)
    for i, states in enumerate(history):
        if i == cut:
            extend_checkpoints(store, ws, T0 + (i - 1) * H, every)  # mid-way, covering the steps so far
        reconcile_step(store, ws, i, states)
    extend_checkpoints(store, ws, T0 + len(history) * H, every)
    transitions = [t for t in store.changes(None, None, workspace=ws)]
    if len(transitions) >= every:  # one is due every `every` transitions: then the checkpoints are used
        assert latest_checkpoint(store, ws, T0 + len(history) * H) is not None
    for at in _instants(len(history)):
        assert _as_of(store, at, checkpoints=True, workspace=ws) == _as_of(store, at, checkpoints=False,
                                                                           workspace=ws), at


def _flip_history(store: TableFindingsStore, ws: str, steps: int = 6) -> None:
    cycle = [("open", "open", "absent"), ("absent", "exempted", "open"), ("open", "absent", "open")]
    for i in range(steps):
        reconcile_step(store, ws, i, cycle[i % 3])


def test_a_corrupt_or_missing_checkpoint_falls_back_to_the_full_replay(
        store: TableFindingsStore, caplog: pytest.LogCaptureFixture) -> None:
    a, b = ws_id("ws-a"), ws_id("ws-b")
    _flip_history(store, a)
    _flip_history(store, b)
    assert extend_checkpoints(store, a, T0 + 6 * H, every=2) >= 2
    assert extend_checkpoints(store, b, T0 + 6 * H, every=2) >= 2
    newest = next(iter(store.history_table.query_entities("PartitionKey eq @pk",
                                                          parameters={"pk": checkpoint_partition(a)})))
    checkpoint_at = newest["at"]
    expected = _as_of(store, T0 + 5 * H, checkpoints=False, workspace=None)
    assert _as_of(store, T0 + 5 * H, checkpoints=True, workspace=None) == expected  # both workspaces, estate-wide
    expected = _as_of(store, T0 + 5 * H, checkpoints=False, workspace=a)
    # a digest that no longer matches (content changed after it was written): not used
    store.history_table.upsert_entity({**newest, "sha256": "0" * 64})
    assert latest_checkpoint(store, a, T0 + 5 * H) is None
    with caplog.at_level(logging.WARNING, logger="core.store.checkpoints"):
        assert _as_of(store, T0 + 5 * H, checkpoints=True, workspace=a) == expected
    assert "not usable" in caplog.text
    # unreadable content
    store.history_table.upsert_entity({**{k: v for k, v in newest.items() if not k.startswith("state")},
                                       "state": "{not json"})
    assert latest_checkpoint(store, a, checkpoint_at) is None
    assert _as_of(store, T0 + 5 * H, checkpoints=True, workspace=a) == expected
    # no checkpoint at or before T (before the first one): the full replay too
    assert _as_of(store, T0, checkpoints=True, workspace=a) == _as_of(store, T0, checkpoints=False, workspace=a)


def test_reconcile_writes_checkpoints_every_interval(store: TableFindingsStore,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The write path: each time a workspace's transition count crosses a multiple of its interval, reconcile
    extends its checkpoints up to `SETTLE` before the scan."""
    monkeypatch.setattr(cps, "MIN_INTERVAL", 2)  # 3 findings: a checkpoint every 3 transitions
    a = ws_id("ws-a")
    _flip_history(store, a, steps=8)
    rows = list(store.history_table.query_entities("PartitionKey eq @pk", parameters={"pk": checkpoint_partition(a)}))
    assert rows and all(r["kind"] == "checkpoint" for r in rows)
    assert max(r["at"] for r in rows) <= T0 + 7 * H - cps.SETTLE
    for at in _instants(8):
        assert _as_of(store, at, checkpoints=True, workspace=a) == _as_of(store, at, checkpoints=False, workspace=a)


def test_a_checkpoint_never_covers_a_transition_still_in_an_outbox(store: TableFindingsStore) -> None:
    """History rows of an undelivered transition may be written late (the re-driver): the checkpoint stops
    before it, so it can never miss them."""
    a = ws_id("ws-a")
    reconcile_step(store, a, 0, ("open", "open", "open"))
    reconcile_step(store, a, 1, ("absent", "open", "open"))
    reconcile_step(store, a, 2, ("open", "absent", "open"), deliver=False)  # crashed before clearing its outbox
    reconcile_step(store, a, 3, ("open", "absent", "absent"))
    assert extend_checkpoints(store, a, T0 + 10 * H, every=1) >= 1
    cp = latest_checkpoint(store, a, T0 + 10 * H)
    assert cp is not None and cp.at < T0 + 2 * H


def test_migrate_history_checkpoints_existing_history_once(store: TableFindingsStore) -> None:
    a, b = ws_id("ws-a"), ws_id("ws-b")
    _flip_history(store, a)
    _flip_history(store, b, steps=3)
    written = store.write_checkpoints(now=T0 + 30 * H)
    assert written >= 1 and store.write_checkpoints(now=T0 + 30 * H) == 0  # idempotent
    assert latest_checkpoint(store, a, T0 + 6 * H) is not None
    for at in (T0 + H, T0 + 4.5 * H, T0 + 6 * H):
        assert _as_of(store, at, checkpoints=True, workspace=None) == _as_of(store, at, checkpoints=False,
                                                                             workspace=None)

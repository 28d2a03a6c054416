"""The fault suite: nothing is lost, nothing doubles, nothing resolves on missing data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from samples.azurite import AzuriteProcess
from tests.faults import scenarios as sc
from tests.support.app import App, make_app


def test_arm_and_api_storms_are_absorbed(app: App) -> None:
    fig = sc.arm_faults_during_sweep(app)
    assert fig.findings_stored == fig.findings_expected
    assert fig.notes["eval_findings"] == []


def test_workspace_turning_403_keeps_findings_open_and_opens_eval_002(app: App) -> None:
    fig = sc.workspace_turns_403(app)
    assert fig.notes["kept_open"] and fig.notes["resolved"] == 0
    assert fig.notes["eval_002"] == ["DBX-EVAL-002"]
    assert fig.findings_stored == fig.findings_expected


def test_hanging_arm_read_keeps_network_findings_and_opens_eval_001(app: App) -> None:
    fig = sc.arm_hang(app)
    assert fig.notes["kept_open"] and fig.notes["eval_001"] == ["DBX-EVAL-001"]


@pytest.fixture
def persistent_app() -> Iterator[tuple[App, AzuriteProcess]]:
    with AzuriteProcess(persistent=True) as az, make_app(az.connection_string) as a:
        yield a, az


def test_storage_outage_mid_sweep_converges(persistent_app: tuple[App, AzuriteProcess]) -> None:
    a, az = persistent_app
    fig = sc.storage_outage_mid_sweep(a, az)
    assert fig.findings_stored == fig.findings_expected
    assert fig.notes["double_opens"] == 0 and fig.notes["double_alerts"] == 0


@pytest.mark.parametrize(("action", "rule"), [("500", {}), ("404", {}), ("hang", {"hang_seconds": 10})],
                         ids=["500", "404-gone", "timeout"])
def test_teams_failures_poison_then_replay_exactly_once(app: App, action: str, rule: dict) -> None:
    if action == "hang":  # the client's own timeout at 1 s instead of the suite's 3 s: the same path, less waiting
        app.rt.notifier_options = {**app.rt.notifier_options, "timeout_s": 1.0}
    fig = sc.teams_faults(app, action, **rule)
    assert fig.notes["poisoned"] == 1
    assert fig.notes["notify_state_after_fault"] == "failed"
    assert fig.notes["replayed"] == 1 and fig.notes["replayed_again"] == 0
    assert fig.alerts_sent == 1


def test_teams_429_with_retry_after_is_delivered_without_poison(app: App) -> None:
    fig = sc.teams_faults(app, "429", count=1, retry_after=1)
    assert fig.notes["poisoned"] == 0 and fig.notes["replayed"] == 0 and fig.alerts_sent == 1


def test_event_grid_duplicates_shuffle_and_stale_events(app: App) -> None:
    fig = sc.event_grid_semantics(app)
    assert fig.notes["rule_b_open"] and not fig.notes["rule_a_open"]
    assert fig.notes["finance_open_after_delete"] == 0

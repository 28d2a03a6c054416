"""The workspace deadline as a databricks-sdk `Clock` (core/collect/workspace_api.py `_Budget`): pure, no socket."""

from __future__ import annotations

import time

import pytest

from core.collect.workspace_api import _SERVER_ERROR_RETRIES, _Budget, _StopRetrying


def test_a_wait_past_the_deadline_is_refused_and_one_within_it_is_taken() -> None:
    budget = _Budget(time.monotonic() + 0.5)
    budget.sleep(0.0)
    with pytest.raises(_StopRetrying):
        budget.sleep(1.0)


def test_retries_stop_after_the_allowed_number() -> None:
    budget = _Budget(time.monotonic() + 60)
    for _ in range(_SERVER_ERROR_RETRIES):
        budget.count_retry()
    with pytest.raises(_StopRetrying):
        budget.count_retry()

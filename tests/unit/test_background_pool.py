"""core/store/background.py: the shared store pool cannot deadlock, even when every thread waits."""

from __future__ import annotations

import threading

from core.store import background


def test_a_task_that_starts_and_waits_for_another_never_deadlocks_a_full_pool() -> None:
    """Every pool thread runs a task that starts a second task and waits for it: queued on the pool, the
    second tasks would wait behind the first ones forever; started from a pool thread they run inline."""
    started = threading.Barrier(background.THREADS, timeout=10)

    def inner() -> str:
        return threading.current_thread().name

    def outer() -> tuple[str, str]:
        started.wait()  # every pool thread is busy with an outer task now
        return threading.current_thread().name, background.start(inner).result(timeout=10)

    outers = [background.start(outer) for _ in range(background.THREADS)]
    results = [f.result(timeout=20) for f in outers]
    assert all(mine == theirs and mine.startswith("driftwatch-store") for mine, theirs in results)


def test_a_failure_inside_an_inline_task_reaches_its_caller() -> None:
    def failing() -> None:
        raise ValueError("boom")

    def outer() -> str:
        try:
            background.start(failing).result()
        except ValueError as exc:
            return str(exc)
        return "no error"

    assert background.start(outer).result(timeout=10) == "boom"

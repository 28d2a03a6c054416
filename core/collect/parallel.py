"""Shared thread pools for the independent reads of one workspace's API: `submit` runs a group (all
extra families, next to the core reads), `run_all` the leaf reads inside it. Groups submit only leaves,
leaves submit nothing, and each kind has its own pool (separate from the collector's too), so no
task ever waits on a pool its own kind may have filled: no deadlock at any concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

THREADS = 64
_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _pool(kind: str) -> ThreadPoolExecutor:
    with _lock:
        pool = _pools.get(kind)
        if pool is None:
            pool = _pools[kind] = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix=f"driftwatch-{kind}")
        return pool


def submit(fn: Callable[[], Any]) -> Future[Any]:
    """Start a group of reads (it may call `run_all`)."""
    return _pool("group").submit(fn)


def run_all(fns: list[Callable[[], Any]]) -> None:
    """Run the callables at once (inline when there is only one); re-raise the first failure."""
    if len(fns) < 2:
        for fn in fns:
            fn()
        return
    futures = [_pool("leaf").submit(fn) for fn in fns]
    for f in futures:
        f.result()

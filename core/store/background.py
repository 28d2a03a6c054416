"""One shared pool for store writes that do not depend on each other (e.g. a scan's quiet `last_seen`
refresh beside the writes of its transitions), so a scan's latency is the longer of them, not their sum.

What a task run here starts here runs inline in that task's thread (the event-driven network prefetch
starts its subnet queries so), so no task ever waits for one queued behind it, and a caller waiting on its
own task can never deadlock, however many scans run at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
THREADS = 16
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


_PREFIX = "driftwatch-store"


def start(fn: Callable[[], T]) -> Future[T]:
    """Run `fn` on the shared pool; `.result()` returns its value or raises what it raised.

    Called from one of the pool's own threads, `fn` runs at once in that thread (a full pool cannot then
    hold a task that waits for a task queued behind it)."""
    global _pool
    if threading.current_thread().name.startswith(_PREFIX):
        done: Future[T] = Future()
        try:
            done.set_result(fn())
        except BaseException as exc:  # handed to whoever calls .result(), as the pool would
            done.set_exception(exc)
        return done
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix=_PREFIX)
    return _pool.submit(fn)

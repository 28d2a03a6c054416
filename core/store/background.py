"""One shared pool for store writes that do not depend on each other (e.g. a scan's quiet `last_seen`
refresh beside the writes of its transitions), so a scan's latency is the longer of them, not their sum.

No task run here waits on this pool (one may start another here and return without waiting for it, as
the event-driven network prefetch does), so a caller waiting on its own task can never deadlock, however
many scans run at once.
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


def start(fn: Callable[[], T]) -> Future[T]:
    """Run `fn` on the shared pool; `.result()` returns its value or raises what it raised."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="driftwatch-store")
    return _pool.submit(fn)

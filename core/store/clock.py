"""The store's clock: ordering across instances follows Table Storage's time, not a local clock.

Every Storage response carries a `Date` header (RFC 1123, whole seconds). An instance whose clock is
off by more than that resolution uses the store's time instead, so one instance running 30 s ahead can
neither make a correct evaluation look stale nor delay another instance's event scan by its skew.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

CLOCK_PARTITION = "clock"
TOLERANCE = timedelta(seconds=2)
"""Below this offset the local clock is trusted (it is finer than the header's one-second resolution)."""
REFRESH_S = 30.0
"""How long one reading of the store's clock (its offset from this instance's clock) is reused: a scan
then costs no extra request, and a local clock stepped meanwhile is noticed within this time."""
_offsets: dict[str, tuple[float, timedelta | None]] = {}
_offsets_lock = threading.Lock()


def date_header(response: Any) -> datetime | None:
    """The `Date` of a pipeline response (for `raw_response_hook`), or None when absent/unreadable."""
    try:
        raw = response.http_response.headers.get("Date")
        return parsedate_to_datetime(raw).astimezone(UTC) if raw else None
    except (AttributeError, TypeError, ValueError, IndexError):
        return None


def corrected(local: datetime, server: datetime | None) -> datetime:
    """`local`, or the store's time when the two differ by more than the header's resolution."""
    local = local.astimezone(UTC)
    if server is None or abs(server - local) <= TOLERANCE:
        return local
    return server


def _read_offset(table: Any) -> timedelta | None:
    """The store's time minus this instance's (one cheap point read of a row that need not exist)."""
    from azure.core.exceptions import HttpResponseError

    seen: dict[str, datetime | None] = {}

    def hook(response: Any) -> None:
        seen["date"] = date_header(response)

    with contextlib.suppress(HttpResponseError):  # a 404 carries the Date header too
        table.get_entity(CLOCK_PARTITION, CLOCK_PARTITION, raw_response_hook=hook)
    server = seen.get("date")
    return None if server is None else server - datetime.now(UTC)


def store_now(table: Any, local: datetime | None = None) -> datetime:
    """The current time as the store sees it: this instance's clock plus the offset last read from the
    store (re-read every `REFRESH_S`), or `local` when the two agree within `TOLERANCE`."""
    key = str(getattr(table, "url", id(table)))
    with _offsets_lock:
        cached = _offsets.get(key)
    if cached is None or time.monotonic() - cached[0] > REFRESH_S:
        cached = (time.monotonic(), _read_offset(table))
        with _offsets_lock:
            _offsets[key] = cached
    offset = cached[1]
    return corrected(local or datetime.now(UTC), None if offset is None else datetime.now(UTC) + offset)

"""Coalescing event-driven scans: at most one pending scan per workspace, and a minimum gap.

A deployment fires dozens of ARM writes for one workspace within seconds. Each workspace has one
marker row: `pending` (a scan request is queued and has not started) and `last_scan_at` (when the
last event-driven scan started).

- The first event after a quiet period claims the marker and enqueues a scan that is visible at
  once, so a lone drift is detected within a second.
- Events while a request is pending enqueue nothing.
- Once that scan has started, the next event queues one more scan, delayed until `window_s` after
  the previous one started; everything until then is folded into it.

A burst no longer than the window therefore costs at most two evaluations per workspace. A pending
marker older than its TTL (a worker died) can be claimed again, so no change is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.store.connection import SCANS_TABLE, StorageConnection, TableBound, storage_call
from core.store.keys import resource_key

if TYPE_CHECKING:
    pass

PENDING_PARTITION = "pending-scan"
MAX_CLAIM_RACES = 10


class PendingScans(TableBound):
    table_name = SCANS_TABLE

    def __init__(self, connection: StorageConnection, window_s: float = 10.0, ttl_s: float = 600.0) -> None:
        super().__init__(connection)
        self.window_s = window_s
        self.ttl_s = ttl_s

    def claim(self, workspace_id: str, now: datetime | None = None) -> int | None:
        """Seconds to delay the scan request this caller must enqueue, or None when one is pending."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        now = (now or datetime.now(UTC)).astimezone(UTC)
        key = resource_key(workspace_id)
        for _ in range(MAX_CLAIM_RACES):
            with storage_call("claim", SCANS_TABLE):
                try:
                    current = self.table.get_entity(PENDING_PARTITION, key)
                except ResourceNotFoundError:
                    current = None
                last = current.get("last_scan_at") if current else None
                if current and current.get("pending"):
                    expires = current.get("expires_at")
                    if isinstance(expires, datetime) and expires.astimezone(UTC) > now:
                        return None
                delay = 0
                if isinstance(last, datetime):
                    delay = max(0, int((last.astimezone(UTC) + timedelta(seconds=self.window_s) - now)
                                       .total_seconds() + 0.999))
                entity = {"PartitionKey": PENDING_PARTITION, "RowKey": key, "workspace_id": workspace_id,
                          "pending": True, "expires_at": now + timedelta(seconds=self.ttl_s + delay)}
                if isinstance(last, datetime):
                    entity["last_scan_at"] = last
                try:
                    if current is None:
                        self.table.create_entity(entity)
                    else:
                        self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                                 match_condition=MatchConditions.IfNotModified)
                    return delay
                except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                    continue  # another event won the race; look again
        return None

    def started(self, workspace_id: str, now: datetime | None = None) -> None:
        """The worker starts the scan: later changes need (and may schedule) a new one."""
        from azure.data.tables import UpdateMode

        now = (now or datetime.now(UTC)).astimezone(UTC)
        entity = {"PartitionKey": PENDING_PARTITION, "RowKey": resource_key(workspace_id),
                  "workspace_id": workspace_id, "pending": False, "last_scan_at": now}
        with storage_call("release", SCANS_TABLE):
            self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)

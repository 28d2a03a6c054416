"""The per-workspace notify digest lock: a lease row in the `scans` table, claimed and released ETag-checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.store.connection import SCANS_TABLE, storage_call
from core.store.etag import Write, WriteConflict, conditional_update
from core.store.keys import resource_key, utc
from core.store.rows import FindingRows

LOCK_PARTITION = "notify-lock"


class NotifyLocks(FindingRows):
    """Leases that let one notify instance at a time send a workspace's digest (mixed into `TableFindingsStore`)."""

    def _lock_row(self, key: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._locks.get_entity(LOCK_PARTITION, key)
        except ResourceNotFoundError:
            return None

    def claim_notify_lock(self, resource_id: str, owner: str, ttl_s: float, *, now: datetime | None = None) -> bool:
        """Claim the workspace's digest lock; True for exactly one claimant until it expires or is released."""
        now = utc(now or datetime.now(UTC))
        key = resource_key(resource_id)
        entity = {"PartitionKey": LOCK_PARTITION, "RowKey": key, "owner": owner,
                  "expires_at": now + timedelta(seconds=ttl_s)}

        def decide(current: Any) -> Write[bool] | None:
            if current is None:
                return Write(entity, None, True)
            expires = current.get("expires_at")
            if current.get("owner") != owner and isinstance(expires, datetime) and utc(expires) > now:
                return None  # held by someone else
            return Write(entity, current.metadata["etag"], True)

        with storage_call("lock", SCANS_TABLE):
            current = self._lock_row(key)
        try:  # one attempt: losing the race means someone else holds it now
            claimed = conditional_update(self._locks, SCANS_TABLE, state=current, reload=lambda: None, decide=decide,
                                         what=f"notify lock {key}", operation="lock", attempts=1)
            return claimed is True
        except WriteConflict:
            return False

    def release_notify_lock(self, resource_id: str, owner: str) -> bool:
        """Release the lock if `owner` still holds it (ETag-checked so a new holder is never evicted)."""
        key = resource_key(resource_id)

        def decide(current: Any) -> Write[bool] | None:
            if current is None or current.get("owner") != owner:
                return None
            return Write({"PartitionKey": LOCK_PARTITION, "RowKey": key}, current.metadata["etag"], True, delete=True)

        with storage_call("unlock", SCANS_TABLE):
            current = self._lock_row(key)
        try:
            released = conditional_update(self._locks, SCANS_TABLE, state=current, reload=lambda: None, decide=decide,
                                          what=f"notify lock {key}", operation="unlock", attempts=1)
            return released is True
        except WriteConflict:
            return False

"""Coalescing markers for event-driven scans: one pending scan request per workspace.

A deployment fires dozens of ARM writes for one workspace within seconds. The first event claims
the workspace's marker and enqueues one scan request that becomes visible after a short delay;
later events find the marker and enqueue nothing. The worker deletes the marker *before* it
collects, so a change that lands during the scan claims a fresh marker and gets exactly one more
scan. A burst therefore costs at most two evaluations. A marker older than its TTL (a worker died)
can be claimed again, so nothing is lost.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from core.store.connection import SCANS_TABLE, StorageConnection, storage_call
from core.store.keys import resource_key

if TYPE_CHECKING:
    from azure.data.tables import TableClient

PENDING_PARTITION = "pending-scan"


class PendingScans:
    def __init__(self, connection: StorageConnection, ttl_s: float = 600.0) -> None:
        self.connection = connection
        self.ttl_s = ttl_s
        self._table: TableClient | None = None

    @property
    def table(self) -> TableClient:
        if self._table is None:
            self._table = self.connection.table(SCANS_TABLE)
        return self._table

    def claim(self, workspace_id: str, now: datetime | None = None) -> bool:
        """True when this caller should enqueue the scan (no live marker existed)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        now = now or datetime.now(UTC)
        key = resource_key(workspace_id)
        entity = {"PartitionKey": PENDING_PARTITION, "RowKey": key, "workspace_id": workspace_id,
                  "expires_at": now + timedelta(seconds=self.ttl_s)}
        with storage_call("claim", SCANS_TABLE):
            try:
                self.table.create_entity(entity)
                return True
            except ResourceExistsError:
                pass
            try:
                current = self.table.get_entity(PENDING_PARTITION, key)
            except ResourceNotFoundError:
                return self.claim(workspace_id, now)
            expires = current.get("expires_at")
            if isinstance(expires, datetime) and expires.astimezone(UTC) > now:
                return False
            try:
                self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                         match_condition=MatchConditions.IfNotModified)
                return True
            except (ResourceModifiedError, ResourceNotFoundError):
                return False

    def release(self, workspace_id: str) -> None:
        """Called by the worker before collecting: later changes must schedule a new scan."""
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("release", SCANS_TABLE), contextlib.suppress(ResourceNotFoundError):
            self.table.delete_entity(PENDING_PARTITION, resource_key(workspace_id))

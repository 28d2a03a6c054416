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

A marker only suppresses a scan that was really queued: the claimer writes it as `sending` with a
short TTL, sends, and then confirms it (`queued`). When the send fails it gives the marker up
(`abandon`) before the error goes back to Event Grid, whose retry then claims again and sends; a
claimer that crashed between the two leaves a `sending` marker that expires within SENDING_TTL_S.
A re-claim of an expired marker keeps everything folded into it (those changes were never scanned).

Times are the store's (core/store/clock.py): an instance whose clock is ahead cannot delay another
instance's scan by its skew.

The marker also carries what the pending scan must cover: the rule `families` (absent = all, as for
Event Grid; audit records name only the families they affect) and the `changes` (who/what/where) folded
into it. Claims while a scan is pending merge into the marker under its ETag; the worker takes the
merged set when it starts, so a coalesced scan covers the union of everything it absorbed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.store.clock import corrected, date_header
from core.store.connection import SCANS_TABLE, StorageConnection, TableBound, storage_call
from core.store.keys import resource_key

if TYPE_CHECKING:
    pass

PENDING_PARTITION = "pending-scan"
MAX_CLAIM_RACES = 10
MAX_CHANGES = 20
"""Changes kept per pending scan: enough to attribute, bounded for the 64 KB property. Once a marker is
full, further changes of families it already covers are not written (their scan is already due)."""
ALL_FAMILIES = "*"
SENDING_TTL_S = 30.0
"""How long a claim whose scan request is not confirmed as sent suppresses other claims: a claimer that
died between the marker and the send blocks Event Grid's retries for at most this long."""


def merge_families(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """Union of two family sets, where None means every family (a full scan absorbs a partial one)."""
    if a is None or b is None:
        return None
    return a | b


def _families_of(entity: Mapping[str, Any] | None) -> frozenset[str] | None:
    raw = entity.get("families") if entity else None
    if not isinstance(raw, str) or raw == ALL_FAMILIES:
        return None
    try:
        return frozenset(str(f) for f in json.loads(raw))
    except (ValueError, TypeError):
        return None  # unreadable: scan everything rather than miss something


def _changes_of(entity: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    raw = entity.get("changes") if entity else None
    if not isinstance(raw, str):
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def merge_changes(*groups: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Changes in time order without duplicates (by event id), the newest MAX_CHANGES kept."""
    seen: dict[str, dict[str, Any]] = {}
    for group in groups:
        for c in group:
            key = str(c.get("event_id") or json.dumps(c, sort_keys=True))
            seen[key] = dict(c)
    ordered = sorted(seen.values(), key=lambda c: str(c.get("at") or ""))
    return ordered[-MAX_CHANGES:]


def _stamp(entity: dict[str, Any], families: frozenset[str] | None, changes: list[dict[str, Any]]) -> None:
    entity["families"] = ALL_FAMILIES if families is None else json.dumps(sorted(families))
    entity["changes"] = json.dumps(changes, separators=(",", ":"))


class PendingScans(TableBound):
    table_name = SCANS_TABLE

    def __init__(self, connection: StorageConnection, window_s: float = 10.0, ttl_s: float = 600.0,
                 sending_ttl_s: float = SENDING_TTL_S) -> None:
        super().__init__(connection)
        self.window_s = window_s
        self.ttl_s = ttl_s
        self.sending_ttl_s = sending_ttl_s

    def claim(self, workspace_id: str, now: datetime | None = None, *, families: frozenset[str] | None = None,
              changes: Iterable[Mapping[str, Any]] = ()) -> int | None:
        """Seconds to delay the scan request this caller must enqueue, or None when one is pending.

        `families` (None = all) and `changes` are recorded on the marker; while a scan is pending they
        are merged into it, so the pending scan covers them too.
        """
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        local = now or datetime.now(UTC)
        key = resource_key(workspace_id)
        changes = list(changes)  # read more than once below
        for _ in range(MAX_CLAIM_RACES):
            with storage_call("claim", SCANS_TABLE):
                current, now = self._read(key, local)
                last = current.get("last_scan_at") if current else None
                inherited_families: frozenset[str] | None = families
                inherited_changes: list[Any] = list(changes)
                if current and current.get("pending"):
                    expires = current.get("expires_at")
                    if isinstance(expires, datetime) and expires.astimezone(UTC) > now:
                        if self._merge(current, families, changes):
                            return None
                        continue  # the marker moved under us: decide again
                    # Expired (its claimer died or gave up): what was folded into it was never scanned.
                    inherited_families = merge_families(_families_of(current), families)
                    inherited_changes = merge_changes(_changes_of(current), changes)
                delay = 0
                if isinstance(last, datetime):
                    delay = max(0, int((last.astimezone(UTC) + timedelta(seconds=self.window_s) - now)
                                       .total_seconds() + 0.999))
                entity = {"PartitionKey": PENDING_PARTITION, "RowKey": key, "workspace_id": workspace_id,
                          "pending": True, "sending": True,
                          "expires_at": now + timedelta(seconds=self.sending_ttl_s + delay)}
                if isinstance(last, datetime):
                    entity["last_scan_at"] = last
                _stamp(entity, inherited_families, merge_changes(inherited_changes))
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

    def _read(self, key: str, local: datetime) -> tuple[Any, datetime]:
        """The marker (or None) and the store's current time (the local clock when it agrees)."""
        from azure.core.exceptions import ResourceNotFoundError

        seen: dict[str, datetime | None] = {}

        def hook(response: Any) -> None:
            seen["date"] = date_header(response)

        try:
            current = self.table.get_entity(PENDING_PARTITION, key, raw_response_hook=hook)
        except ResourceNotFoundError:
            current = None
        return current, corrected(local, seen.get("date"))

    def queued(self, workspace_id: str, delay_s: int = 0, now: datetime | None = None) -> None:
        """The claimer's scan request is in the queue: the marker now suppresses claims for its full TTL."""
        self._settle(workspace_id, now, lambda now: now + timedelta(seconds=self.ttl_s + delay_s), sending=False)

    def abandon(self, workspace_id: str, now: datetime | None = None) -> None:
        """The send failed: expire the claim at once (keeping what it holds) so the next event claims again."""
        self._settle(workspace_id, now, lambda now: now - timedelta(seconds=1), sending=True)

    def _settle(self, workspace_id: str, now: datetime | None, expires: Any, *, sending: bool) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        key = resource_key(workspace_id)
        local = now or datetime.now(UTC)
        for _ in range(MAX_CLAIM_RACES):
            with storage_call("claim", SCANS_TABLE):
                current, at = self._read(key, local)
                if current is None or not current.get("pending") or not current.get("sending"):
                    return  # the scan already started (or someone else settled it): nothing to do
                entity = dict(current)
                entity.update({"sending": sending, "expires_at": expires(at)})
                try:
                    self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                             match_condition=MatchConditions.IfNotModified)
                    return
                except (ResourceModifiedError, ResourceNotFoundError):
                    continue  # a claim merged into it meanwhile: settle the new version

    def _merge(self, current: Any, families: frozenset[str] | None, changes: Iterable[Mapping[str, Any]]) -> bool:
        """Fold families/changes into a pending marker (conditional write); False when it changed meanwhile."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        changes = list(changes)
        merged = merge_families(_families_of(current), families)
        held = _changes_of(current)
        if merged == _families_of(current) and (not changes or len(held) >= MAX_CHANGES):
            # Nothing new to record: the scan already covers these families, and once the marker holds
            # MAX_CHANGES changes a storm costs one read per claim, not a write.
            return True
        entity = dict(current)
        _stamp(entity, merged, merge_changes(held, changes))
        try:
            self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    def started(self, workspace_id: str, now: datetime | None = None
                ) -> tuple[bool, frozenset[str] | None, list[dict[str, Any]]]:
        """The worker starts the scan: later changes need (and may schedule) a new one.

        Returns (marker was pending, the families to scan (None = all), the changes folded in).
        """
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        local = now or datetime.now(UTC)
        key = resource_key(workspace_id)
        entity: dict[str, Any] = {}
        for _ in range(MAX_CLAIM_RACES):
            with storage_call("release", SCANS_TABLE):
                current, now = self._read(key, local)
                entity = {"PartitionKey": PENDING_PARTITION, "RowKey": key, "workspace_id": workspace_id,
                          "pending": False, "last_scan_at": now}
                try:
                    if current is None:
                        self.table.create_entity(entity)
                        return False, None, []
                    self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                             match_condition=MatchConditions.IfNotModified)
                except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                    continue  # an event merged into the marker meanwhile: read it again
                return bool(current.get("pending")), _families_of(current), _changes_of(current)
        with storage_call("release", SCANS_TABLE):
            self.table.upsert_entity(entity or {"PartitionKey": PENDING_PARTITION, "RowKey": key,
                                                "workspace_id": workspace_id, "pending": False,
                                                "last_scan_at": local.astimezone(UTC)}, mode=UpdateMode.REPLACE)
        return False, None, []

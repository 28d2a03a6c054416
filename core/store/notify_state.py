"""Notification bookkeeping on finding rows: what waits for a digest, and pending -> notified/skipped/failed.

Each row carries `notify_state`, set to "pending" by every transition (core/store/findings.py) and moved on
here by the notify use case once its digest was sent, skipped or failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from core.findings.transition import Transition
from core.store.connection import FINDINGS_TABLE, storage_call
from core.store.keys import resource_key, utc
from core.store.rows import FindingRows, _Row

NotifyState = Literal["pending", "notified", "skipped", "failed"]


class NotifyBookkeeping(FindingRows):
    """The notify state of finding rows (mixed into `TableFindingsStore`)."""

    def has_pending_notifications(self, resource_id: str, *, include_failed: bool = False) -> bool:
        """Whether any finding of the workspace waits for a digest: one filtered read of at most one entity.

        The notify use case asks this before taking the digest lock, so the other messages of a burst
        (one per transition) cost one query each instead of a lock round trip and a partition read."""
        states = ("pending", "failed") if include_failed else ("pending",)
        flt = "PartitionKey eq @pk and (" + " or ".join(f"notify_state eq '{s}'" for s in states) + ")"
        with storage_call("query", FINDINGS_TABLE):
            for _ in self.findings_table.query_entities(flt, parameters={"pk": resource_key(resource_id)},
                                                        select=["RowKey"], results_per_page=1):
                return True
        return False

    def pending_notifications(self, resource_id: str, *, include_failed: bool = False) -> list[Transition]:
        """The latest un-notified transition of each finding of a workspace (what a digest should say)."""
        out = []
        wanted = ("pending", "failed") if include_failed else ("pending",)
        for row in self._load_partition(resource_key(resource_id)).values():
            if row.notify_state in wanted and row.last_transition and row.last_transition_at:
                out.append(Transition(row.last_transition, row.last_transition_at, row.finding))  # type: ignore[arg-type]
        return sorted(out, key=lambda t: (t.at, t.finding.id))

    def mark_notified(self, finding_ids: Iterable[str], at: datetime, *, resource_id: str | None = None,
                      recorded_before: datetime | None = None) -> int:
        """Pending -> notified. `recorded_before` keeps transitions newer than the sent digest pending."""
        return self._set_notify(finding_ids, "notified", at=at, error=None, resource_id=resource_id,
                                recorded_before=recorded_before)

    def mark_skipped(self, finding_ids: Iterable[str], at: datetime, *, resource_id: str | None = None) -> int:
        """Pending -> skipped (below the notify minimum severity)."""
        return self._set_notify(finding_ids, "skipped", at=at, error=None, resource_id=resource_id,
                                recorded_before=None)

    def mark_notify_failed(self, finding_ids: Iterable[str], reason: str, *, resource_id: str | None = None) -> int:
        """Pending -> failed, with a short reason (the caller keeps secrets such as webhook URLs out)."""
        return self._set_notify(finding_ids, "failed", at=None, error=reason[:500], resource_id=resource_id,
                                recorded_before=None)

    def _set_notify(self, finding_ids: Iterable[str], state: NotifyState, *, at: datetime | None,
                    error: str | None, resource_id: str | None, recorded_before: datetime | None) -> int:
        """Move pending/failed rows to `state`: a digest's burst in one transaction, the rest row by row."""
        def change(row: _Row) -> bool:
            if row.notify_state not in ("pending", "failed"):
                return False
            if recorded_before is not None and row.last_transition_at and row.last_transition_at > utc(recorded_before):
                return False  # a newer transition arrived after the digest was built: keep it pending
            row.notify_state, row.notify_error = state, error
            if at is not None:
                row.notified_at = utc(at)
            return True

        ids = list(dict.fromkeys(finding_ids))
        changed = 0
        if resource_id and len(ids) > 1:  # a digest marks its whole burst at once (see `_replace_batched`)
            changed, ids = self._replace_batched(resource_key(resource_id), ids, change)
        for fid in ids:
            pk = resource_key(resource_id) if resource_id else self._locate(fid)
            if pk is not None and self._edit_row(pk, fid, change):
                changed += 1
        return changed

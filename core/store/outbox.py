"""The transactional outbox of finding rows: transitions written with the change, delivered, then cleared.

A transition is recorded in its row's `outbox` in the same entity write as the change (core/store/findings.py),
then delivered: its history rows appended (here) and its queue message sent (core/service/delivery.py),
then cleared by `outbox_delivered`. A crash in between leaves it in the outbox, and `undelivered` hands it
to the re-driver. `crash_point` marks the steps tests/faults kill a worker at.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from core.arm_ids import arm_fold
from core.findings.model import ATTRIBUTION_FIELDS
from core.findings.transition import Transition, transition_id
from core.store.connection import FINDINGS_TABLE, HISTORY_TABLE, storage_call
from core.store.estate import estate_index_entity
from core.store.history import workspace_index_entity
from core.store.keys import put_json, resource_key, utc
from core.store.rows import FindingRows, _Row

CRASH_AT: str | None = None
"""Fault injection for tests/faults (set only by `samples.worker_process --crash-at STEP`)."""


def crash_point(name: str) -> None:
    """The process dies here (no cleanup, like a killed instance) when CRASH_AT names this step."""
    import os

    if name == CRASH_AT:
        os._exit(86)


def outbox_entry(t: Transition, seq: int) -> dict[str, Any]:
    return {"id": transition_id(t.finding.id, t), "seq": seq, "message": t.message()}


def history_entities(t: Transition, seq: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The three `findinghistory` rows of one transition: the finding's own, workspace index, estate index."""
    entity: dict[str, Any] = {
        "PartitionKey": t.finding.id,
        "RowKey": f"{utc(t.at):%Y%m%dT%H%M%S%fZ}-{seq:06d}-{t.transition}",
        "transition": t.transition,
        "at": utc(t.at),
        "resource_id": arm_fold(t.finding.resource_id),
        "status": t.finding.status,
    }
    for name in ATTRIBUTION_FIELDS:  # who/where, queryable beside the message (names and addresses only)
        if getattr(t.finding, name):
            entity[name] = getattr(t.finding, name)
    if t.reason:
        entity["reason"] = t.reason
    put_json(entity, "message", t.message())
    index_entity = workspace_index_entity(entity, t.finding, seq)
    return entity, index_entity, estate_index_entity(index_entity)


class Outbox(FindingRows):
    """History append and outbox delivery bookkeeping (mixed into `TableFindingsStore`)."""

    def _append_history(self, t: Transition, seq: int) -> None:
        """Append-only: create, never update. A duplicate key (a replayed write) is left as it was.

        The finding's own row and its workspace index row at once (each is a whole copy: no reader needs
        the other), then its estate index row (so an estate index row implies its workspace index row,
        core/store/estate.py)."""
        from core.store import background

        own, index_entity, estate_entity = history_entities(t, seq)
        writing_own = background.start(functools.partial(self._create_history_row, own))
        try:
            self._create_history_row(index_entity)
        finally:
            writing_own.result()
        crash_point("between-history-rows")
        self._create_history_row(estate_entity)

    def _create_history_row(self, entity: dict[str, Any]) -> None:
        from azure.core.exceptions import ResourceExistsError

        with storage_call("append", HISTORY_TABLE), contextlib.suppress(ResourceExistsError):
            self.history_table.create_entity(entity)

    def outbox_delivered(self, transitions: Iterable[Transition]) -> int:
        """Clear delivered transitions from their rows' outbox (ETag-checked; a newer write keeps its own).

        Returns how many rows were written. A scan's transitions share the workspace's partition, so they are
        cleared in one read and one transaction per 100 rows; a lone row (or one that changed since the
        read) is cleared by itself."""
        delivered: dict[str, dict[str, set[str]]] = {}  # partition -> finding id -> delivered transition ids
        for t in transitions:
            pk = resource_key(t.finding.resource_id)
            delivered.setdefault(pk, {}).setdefault(t.finding.id, set()).add(transition_id(t.finding.id, t))
        cleared, alone = 0, []
        for pk, by_finding in delivered.items():
            if len(by_finding) == 1:
                alone += [(pk, fid, tid) for fid, tids in by_finding.items() for tid in tids]
                continue

            def change(row: _Row, by_finding: dict[str, set[str]] = by_finding) -> bool:
                keep = [o for o in row.outbox if o.get("id") not in by_finding[row.finding.id]]
                if len(keep) == len(row.outbox):
                    return False
                row.outbox = keep
                return True

            written, retry = self._replace_batched(pk, by_finding, change)
            cleared += written
            alone += [(pk, fid, tid) for fid in retry for tid in by_finding[fid]]
        for pk, fid, tid in alone:
            def clear_one(row: _Row, tid: str = tid) -> bool:
                if not any(o.get("id") == tid for o in row.outbox):
                    return False
                row.outbox = [o for o in row.outbox if o.get("id") != tid]
                return True

            if self._edit_row(pk, fid, clear_one):
                cleared += 1
        return cleared

    def undelivered(self, older_than_s: float, now: datetime | None = None) -> list[Transition]:
        """Outbox entries whose row was last written more than `older_than_s` ago (the store's Timestamp),
        with their history rows (re)written: what the re-driver must send again. Oldest first."""
        from core.store.clock import store_now

        cutoff = store_now(self.findings_table, now) - timedelta(seconds=older_than_s)
        out: list[tuple[int, Transition]] = []
        with storage_call("query", FINDINGS_TABLE):
            entities = list(self.findings_table.query_entities("outbox_n gt 0"))
        for e in entities:
            stamp = e.metadata.get("timestamp") if hasattr(e, "metadata") else None
            if isinstance(stamp, datetime) and utc(stamp) > cutoff:
                continue  # its writer may still be delivering it
            for item in self._row(e).outbox:
                t = Transition.from_message(item["message"])
                self._append_history(t, int(item["seq"]))  # idempotent: an existing row is left as it was
                out.append((int(item["seq"]), t))
        return [t for _, t in sorted(out, key=lambda p: (p[1].at, p[0]))]

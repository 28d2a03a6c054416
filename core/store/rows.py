"""The findings store's rows: its tables, the row codec, and the reads and ETag-checked edits of rows.

The job modules (`notify_state`, `leases`, `outbox`, `queries`) build on `FindingRows`;
`TableFindingsStore` (core/store/findings.py) puts them together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.arm_ids import arm_fold
from core.findings.model import Finding
from core.store.connection import FINDINGS_TABLE, HISTORY_TABLE, SCANS_TABLE, StorageConnection, storage_call
from core.store.etag import Write, WriteConflict, conditional_update, replace_all
from core.store.keys import MAX_JSON_PARTS, get_json, put_json, resource_key, utc
from core.store.summary import SummaryCounters

if TYPE_CHECKING:
    from azure.data.tables import TableClient


@dataclass
class _Row:
    """A stored finding row: the finding plus bookkeeping and the ETag the decision is based on."""

    finding: Finding
    etag: str
    seq: int
    notify_state: str | None
    notified_at: datetime | None
    notify_error: str | None
    last_transition: str | None
    last_transition_at: datetime | None
    outbox: list[dict[str, Any]] = field(default_factory=list)
    """Transitions recorded in this row but not yet confirmed delivered (history rows + queue message):
    written in the same atomic entity write as the change itself, cleared after delivery."""


def _json_columns(name: str) -> tuple[str, ...]:
    """The columns `put_json` may store `name` in (inline, or compressed in numbered parts)."""
    return (name, f"{name}_parts", *(f"{name}_z{i}" for i in range(MAX_JSON_PARTS)))


ROW_COLUMNS = ("RowKey", "seq", "notify_state", "notified_at", "notify_error", "last_transition",
               "last_transition_at", "outbox_n", *_json_columns("finding"), *_json_columns("outbox"))
"""The columns `_row` reads (with the ETag, which every answer carries)."""


class FindingRows:
    """The tables of the findings store and its row-level reads and writes."""

    def __init__(self, connection: StorageConnection) -> None:
        self.connection = connection
        self._findings: TableClient | None = None
        self._history: TableClient | None = None
        self._scans: TableClient | None = None
        self._counters: SummaryCounters | None = None

    @property
    def counters(self) -> SummaryCounters:
        """The maintained summary counters (core/store/summary.py)."""
        if self._counters is None:
            self._counters = SummaryCounters(self.connection, self.findings_table)
        return self._counters

    @property
    def findings_table(self) -> TableClient:
        if self._findings is None:
            self._findings = self.connection.table(FINDINGS_TABLE)
        return self._findings

    @property
    def history_table(self) -> TableClient:
        if self._history is None:
            self._history = self.connection.table(HISTORY_TABLE)
        return self._history

    @property
    def coverage_table(self) -> TableClient:
        return self._locks

    @property
    def _locks(self) -> TableClient:
        if self._scans is None:
            self._scans = self.connection.table(SCANS_TABLE)
        return self._scans

    # ---------------------------------------------------------------- entities

    @staticmethod
    def _entity(row: _Row) -> dict[str, Any]:
        f = row.finding
        e: dict[str, Any] = {
            "PartitionKey": resource_key(f.resource_id),
            "RowKey": f.id,
            "status": f.status,
            "severity": f.severity,
            "rule_id": f.rule_id,
            "resource_id": arm_fold(f.resource_id),
            "subscription_id": arm_fold(f.subscription_id),
            "workspace_name": f.workspace_name,
            "workspace_name_lc": arm_fold(f.workspace_name),
            "first_seen": utc(f.first_seen),
            "last_seen": utc(f.last_seen),
            "seq": row.seq,
        }
        if f.resolved_at is not None:
            e["resolved_at"] = utc(f.resolved_at)
        for name in ("notify_state", "notify_error", "last_transition"):
            if getattr(row, name) is not None:
                e[name] = getattr(row, name)
        if row.notified_at is not None:
            e["notified_at"] = utc(row.notified_at)
        if row.last_transition_at is not None:
            e["last_transition_at"] = utc(row.last_transition_at)
        put_json(e, "finding", f.to_json_dict())
        e["outbox_n"] = len(row.outbox)
        if row.outbox:
            put_json(e, "outbox", row.outbox)
        return e

    @staticmethod
    def _row(entity: Mapping[str, Any]) -> _Row:
        def dt(name: str) -> datetime | None:
            v = entity.get(name)
            return utc(v) if isinstance(v, datetime) else None

        return _Row(
            finding=Finding.from_json_dict(get_json(entity, "finding")),
            etag=entity.metadata["etag"] if hasattr(entity, "metadata") else "",
            seq=int(entity.get("seq") or 0),
            notify_state=entity.get("notify_state"),
            notified_at=dt("notified_at"),
            notify_error=entity.get("notify_error"),
            last_transition=entity.get("last_transition"),
            last_transition_at=dt("last_transition_at"),
            outbox=list(get_json(entity, "outbox") or []) if entity.get("outbox_n") else [],
        )

    # ---------------------------------------------------------------- reads

    def _load_partition(self, pk: str) -> dict[str, _Row]:
        # Only what `_row` reads: the query columns (status, times, names...) repeat the finding's JSON, and
        # decoding them (datetimes above all) cost as much as the rest of the answer.
        with storage_call("query", FINDINGS_TABLE):
            entities = list(self.findings_table.query_entities("PartitionKey eq @pk", parameters={"pk": pk},
                                                               select=list(ROW_COLUMNS)))
        return {e["RowKey"]: self._row(e) for e in entities}

    def _load_one(self, pk: str, finding_id: str) -> _Row | None:
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("get", FINDINGS_TABLE):
            try:
                return self._row(self.findings_table.get_entity(pk, finding_id))
            except ResourceNotFoundError:
                return None

    def _locate(self, finding_id: str) -> str | None:
        """Partition key of a finding, from its history (cheap) or a RowKey scan (fallback)."""
        with storage_call("query", HISTORY_TABLE):
            for e in self.history_table.query_entities("PartitionKey eq @id", parameters={"id": finding_id},
                                                       select=["resource_id"], results_per_page=1):
                return resource_key(e["resource_id"])
        with storage_call("query", FINDINGS_TABLE):
            for e in self.findings_table.query_entities("RowKey eq @id", parameters={"id": finding_id},
                                                        select=["PartitionKey"]):
                return str(e["PartitionKey"])
        return None

    # ---------------------------------------------------------------- bookkeeping edits

    def _edit_row(self, pk: str, finding_id: str, change: Callable[[_Row], bool]) -> bool:
        """Load one row, let `change` edit it in place (False: nothing to write), write it back ETag-checked.

        Reloads and edits again when another writer got there first; gives up quietly (False) after
        `MAX_CONFLICT_RETRIES` lost writes, leaving the row as the other writers made it."""
        def decide(row: _Row | None) -> Write[bool] | None:
            if row is None or not change(row):
                return None
            return Write(self._entity(row), row.etag, True)

        def load() -> _Row | None:
            return self._load_one(pk, finding_id)

        try:
            written = conditional_update(self.findings_table, FINDINGS_TABLE, state=load(), reload=load,
                                         decide=decide, what=f"finding {finding_id}")
            return written is True
        except WriteConflict:
            return False

    def _replace_batched(self, pk: str, ids: Iterable[str], change: Callable[[_Row], bool]) -> tuple[int, list[str]]:
        """Apply `change` to rows of one partition: one read, one ETag-checked transaction per 100 rows.

        `change` edits a row in place and says whether it should be written. Returns (rows written, ids to
        decide again one at a time): a transaction is all or nothing, so when any row of it changed or went
        since the read, none of it is written and the caller's one-by-one path decides those rows afresh."""
        rows = self._load_partition(pk)
        wanted = [rows[fid] for fid in dict.fromkeys(ids) if fid in rows and change(rows[fid])]
        written, retry = 0, []
        for i in range(0, len(wanted), 100):
            chunk = wanted[i:i + 100]
            if replace_all(self.findings_table, FINDINGS_TABLE,
                           [Write(self._entity(r), r.etag, r.finding.id) for r in chunk]) is None:
                retry += [r.finding.id for r in chunk]
                continue
            written += len(chunk)
        return written, retry

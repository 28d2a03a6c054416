"""Maintained summary counters: `/api/summary` without scanning the findings table.

Layout: partition `findings-summary` of the `scans` table (beside the `notify-lock` partition; no new
table name, and the `findings` table keeps only finding rows, so none of its queries changes).
- one row per workspace, RowKey = `resource_key(workspace id)`: `counts` (JSON: by_status, by_severity,
  open_by_severity, by_rule, by_workspace of that workspace's finding rows) and `pending`
  (JSON: token -> lease expiry of every writer that may have changed the workspace's findings since
  `counts` was taken);
- one row RowKey `~meta`: `workspaces`, how many workspace rows exist (a deleted row is noticed).

Writers (reconcile, resolve_workspace, import_findings) follow an intent protocol instead of a
cross-table transaction: before the first write that changes a finding's status, severity or rule
they add a token to the workspace row (ETag-conditional); after their writes they recount the
workspace's partition (one partition query) and store the counts while removing their token, again
ETag-conditional, so a publish that raced another writer's registration is redone. A workspace row
without tokens therefore always equals a recount taken after every committed change; a row with a
token (a writer in flight, or one that crashed) is recounted from its partition by the reader.
A writer's token outlives a crash until its lease expires; the next publish drops expired tokens.

Readers take one partition query. No `~meta` (counters never built), a row count that does not match
it, or a row that cannot be parsed, and the reader answers None: the caller counts from the
findings table (never a silently wrong answer) and `driftwatch findings rebuild-summary` restores
the rows from the findings table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.store.connection import FINDINGS_TABLE, SCANS_TABLE, StorageConnection, storage_call
from core.store.keys import get_json, iso_z, put_json
from core.terms import SEVERITIES, STATUSES

if TYPE_CHECKING:
    from azure.data.tables import TableClient

log = logging.getLogger(__name__)

SUMMARY_SCHEMA = "driftwatch.findings-summary/v1"
SUMMARY_PARTITION = "findings-summary"
META_ROW = "~meta"
"""Not a hex digest, so it never collides with a workspace row's `resource_key`."""
LEASE = timedelta(minutes=15)
"""How long a writer's token stands for it; it is renewed before a write when a third has passed."""
COUNTED_FIELDS = ("status", "severity", "rule_id", "resource_id")
MAX_RETRIES = 50
ROW_FORMAT = 1


class CountersUnavailable(Exception):
    """The counters cannot answer (not built, a row missing or unreadable); the reason says which."""


# ------------------------------------------------------------------ counts (pure)

def empty_counts() -> dict[str, Counter[str]]:
    return {k: Counter() for k in ("by_status", "by_severity", "open_by_severity", "by_rule", "by_workspace")}


def count_rows(entities: Iterable[Mapping[str, Any]]) -> dict[str, Counter[str]]:
    """What `summary` reports, over finding rows (the same definitions as the full scan)."""
    c = empty_counts()
    for e in entities:
        c["by_status"][e["status"]] += 1
        c["by_severity"][e["severity"]] += 1
        c["by_rule"][e["rule_id"]] += 1
        c["by_workspace"][e["resource_id"]] += 1
        if e["status"] == "open":
            c["open_by_severity"][e["severity"]] += 1
    return c


def add_counts(into: dict[str, Counter[str]], other: Mapping[str, Mapping[str, int]]) -> None:
    for k, counter in into.items():
        counter.update(dict(other.get(k) or {}))


def summary_doc(c: Mapping[str, Counter[str]]) -> dict[str, Any]:
    """The `driftwatch.findings-summary/v1` document of these counts."""
    return {
        "schema": SUMMARY_SCHEMA,
        "total": sum(c["by_status"].values()),
        "by_status": {s: c["by_status"][s] for s in STATUSES},
        "by_severity": {s: c["by_severity"][s] for s in SEVERITIES},
        "open_by_severity": {s: c["open_by_severity"][s] for s in SEVERITIES},
        "by_rule": dict(sorted((k, v) for k, v in c["by_rule"].items() if v)),
        "by_workspace": dict(sorted((k, v) for k, v in c["by_workspace"].items() if v)),
    }


def _parse_counts(raw: Any) -> dict[str, dict[str, int]]:
    if not isinstance(raw, dict):
        raise ValueError("counts is not an object")
    out: dict[str, dict[str, int]] = {}
    for k in ("by_status", "by_severity", "open_by_severity", "by_rule", "by_workspace"):
        part = raw.get(k)
        if not isinstance(part, dict) or not all(isinstance(n, str) and type(v) is int and v >= 0
                                                 for n, v in part.items()):
            raise ValueError(f"counts.{k} is missing or not a map of counts")
        out[k] = part
    return out


def _parse_pending(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ValueError("pending is not a map of token -> expiry")
    return raw


@dataclass
class _WorkspaceRow:
    key: str
    etag: str
    counts: dict[str, dict[str, int]]
    pending: dict[str, str]
    indexed: bool
    """Counted in `~meta.workspaces` (so its deletion is noticed)."""


def _read_row(entity: Mapping[str, Any]) -> _WorkspaceRow:
    """Parse a workspace row; ValueError names what is wrong."""
    try:
        if entity.get("v") != ROW_FORMAT:
            raise ValueError(f"unknown row format {entity.get('v')!r}")
        counts = _parse_counts(get_json(entity, "counts"))
        pending = _parse_pending(get_json(entity, "pending"))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__})") from None
    etag = entity.metadata["etag"] if hasattr(entity, "metadata") else ""
    return _WorkspaceRow(str(entity["RowKey"]), etag, counts, pending, entity.get("indexed") is True)


def _plain(c: Mapping[str, Counter[str]]) -> dict[str, dict[str, int]]:
    return {k: {n: v for n, v in sorted(counter.items()) if v} for k, counter in c.items()}


# ------------------------------------------------------------------ storage

class SummaryCounters:
    """The counter rows: read them, keep them (writer sessions), rebuild them from the findings table."""

    def __init__(self, connection: StorageConnection, findings: TableClient | None = None) -> None:
        self.connection = connection
        self._table: TableClient | None = None
        self._findings = findings

    @property
    def table(self) -> TableClient:
        if self._table is None:
            self._table = self.connection.table(SCANS_TABLE)
        return self._table

    @property
    def findings(self) -> TableClient:
        if self._findings is None:
            self._findings = self.connection.table(FINDINGS_TABLE)
        return self._findings

    # ---- reading

    def recount_partition(self, pk: str) -> dict[str, Counter[str]]:
        """Counts of one workspace's finding rows, straight from the findings table."""
        with storage_call("query", FINDINGS_TABLE):
            return count_rows(self.findings.query_entities("PartitionKey eq @pk", parameters={"pk": pk},
                                                           select=list(COUNTED_FIELDS)))

    def read(self) -> dict[str, Any]:
        """The summary from the counters (one partition query, plus a partition recount per workspace
        with a writer in flight). Raises CountersUnavailable when they cannot be trusted."""
        with storage_call("query", SCANS_TABLE):
            entities = list(self.table.query_entities("PartitionKey eq @pk", parameters={"pk": SUMMARY_PARTITION}))
        meta = next((e for e in entities if e["RowKey"] == META_ROW), None)
        if meta is None:
            raise CountersUnavailable("summary counters were never built")
        rows: list[_WorkspaceRow] = []
        for e in entities:
            if e["RowKey"] == META_ROW:
                continue
            try:
                rows.append(_read_row(e))
            except ValueError as exc:
                raise CountersUnavailable(f"summary counter row {e['RowKey']} is {exc}") from None
        expected = meta.get("workspaces")
        indexed = sum(r.indexed for r in rows)
        if type(expected) is not int or expected != indexed:
            raise CountersUnavailable(f"summary counters list {indexed} workspaces, the index says {expected!r}")
        total = empty_counts()
        for row in rows:
            if row.pending:
                add_counts(total, self.recount_partition(row.key))  # a writer in flight (or crashed)
            else:
                add_counts(total, row.counts)
        return summary_doc(total)

    def status(self) -> dict[str, Any]:
        """What `rebuild-summary --check` prints: rows, rows with writers in flight, whether usable."""
        try:
            self.read()
            usable, reason = True, None
        except CountersUnavailable as exc:
            usable, reason = False, str(exc)
        with storage_call("query", SCANS_TABLE):
            entities = list(self.table.query_entities("PartitionKey eq @pk", parameters={"pk": SUMMARY_PARTITION}))
        in_flight = 0
        for e in entities:
            with_tokens = e["RowKey"] != META_ROW and e.get("pending") not in (None, "{}")
            in_flight += 1 if with_tokens else 0
        return {"usable": usable, "reason": reason, "workspace_rows": sum(e["RowKey"] != META_ROW for e in entities),
                "rows_with_writers_in_flight": in_flight}

    # ---- writing

    def _get_row(self, pk: str) -> _WorkspaceRow | None:
        """The row, or None; a row that cannot be parsed comes back empty with its ETag, so the caller
        overwrites it (ETag-checked) with what it recounts."""
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("get", SCANS_TABLE):
            try:
                e = self.table.get_entity(SUMMARY_PARTITION, pk)
            except ResourceNotFoundError:
                return None
        try:
            return _read_row(e)
        except ValueError:
            return _WorkspaceRow(pk, e.metadata["etag"], _plain(empty_counts()), {}, e.get("indexed") is True)

    def _get_meta(self) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("get", SCANS_TABLE):
            try:
                return self.table.get_entity(SUMMARY_PARTITION, META_ROW)
            except ResourceNotFoundError:
                return None

    @staticmethod
    def _entity(pk: str, counts: Mapping[str, Any], pending: Mapping[str, str], now: datetime,
                indexed: bool) -> dict[str, Any]:
        e: dict[str, Any] = {"PartitionKey": SUMMARY_PARTITION, "RowKey": pk, "v": ROW_FORMAT, "counted_at": now,
                             "indexed": indexed}
        put_json(e, "counts", counts)
        put_json(e, "pending", dict(pending))
        return e

    @staticmethod
    def _meta_plus_one(meta: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        n = meta.get("workspaces")  # a non-integer count stays one: readers keep refusing until a rebuild
        return ("update", {"PartitionKey": SUMMARY_PARTITION, "RowKey": META_ROW,
                           "workspaces": n + 1 if type(n) is int else n},
                {"mode": UpdateMode.MERGE, "etag": meta.metadata["etag"],
                 "match_condition": MatchConditions.IfNotModified})

    def _create_row(self, pk: str, counts: Mapping[str, Any], pending: Mapping[str, str], now: datetime) -> bool:
        """Create a workspace row and count it in `~meta` in one transaction; False if it already exists.

        Without `~meta`: on a fresh store (no finding row yet) `~meta` is created first, so counters are
        complete from the first finding on; otherwise (counters not built) the row is created unindexed,
        and indexed as soon as `~meta` exists (here right after, in `register`/`publish`, or by rebuild)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.data.tables import TableErrorCode, TableTransactionError

        for _ in range(MAX_RETRIES):
            meta = self._get_meta()
            if meta is None and self._no_findings_yet():
                with storage_call("write", SCANS_TABLE), contextlib.suppress(ResourceExistsError):
                    self.table.create_entity({"PartitionKey": SUMMARY_PARTITION, "RowKey": META_ROW,
                                              "workspaces": 0, "built_at": now})
                continue
            with storage_call("write", SCANS_TABLE):
                try:
                    if meta is None:
                        self.table.create_entity(self._entity(pk, counts, pending, now, indexed=False))
                    else:
                        self.table.submit_transaction([("create", self._entity(pk, counts, pending, now, indexed=True)),
                                                       self._meta_plus_one(meta)])
                        return True
                except ResourceExistsError:
                    return False
                except TableTransactionError as exc:
                    if str(exc.error_code or "") == TableErrorCode.ENTITY_ALREADY_EXISTS.value:
                        return False
                    continue  # `~meta` changed under us: read it again
            self._index_row(pk)  # `~meta` may have appeared meanwhile
            return True
        raise RuntimeError(f"summary row {pk}: gave up after {MAX_RETRIES} conflicts")

    def _index_row(self, pk: str) -> None:
        """Count an unindexed row in `~meta` (row flag and count in one transaction); no-op without `~meta`."""
        from azure.core import MatchConditions
        from azure.data.tables import TableTransactionError, UpdateMode

        for _ in range(MAX_RETRIES):
            meta = self._get_meta()
            row = self._get_row(pk)
            if meta is None or row is None or row.indexed:
                return
            with storage_call("write", SCANS_TABLE):
                try:
                    self.table.submit_transaction([
                        ("update", {"PartitionKey": SUMMARY_PARTITION, "RowKey": pk, "indexed": True},
                         {"mode": UpdateMode.MERGE, "etag": row.etag, "match_condition": MatchConditions.IfNotModified}),
                        self._meta_plus_one(meta)])
                    return
                except TableTransactionError:
                    continue
        raise RuntimeError(f"summary row {pk}: gave up after {MAX_RETRIES} conflicts")

    def _no_findings_yet(self) -> bool:
        """A fresh deployment: not one finding row."""
        with storage_call("query", FINDINGS_TABLE):
            first = next(iter(self.findings.list_entities(results_per_page=1, select=["PartitionKey"])), None)
        return first is None

    def _replace_row(self, row: _WorkspaceRow, counts: Mapping[str, Any], pending: Mapping[str, str],
                     now: datetime) -> bool:
        """ETag-conditional replace; False when someone else wrote the row first."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        with storage_call("write", SCANS_TABLE):
            try:
                self.table.update_entity(self._entity(row.key, counts, pending, now, indexed=row.indexed),
                                         mode=UpdateMode.REPLACE, etag=row.etag,
                                         match_condition=MatchConditions.IfNotModified)
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
        if not row.indexed:
            self._index_row(row.key)
        return True

    def register(self, pk: str, token: str, now: datetime) -> None:
        """Add (or renew) `token` on the workspace row before a counted change is written."""
        for _ in range(MAX_RETRIES):
            row = self._get_row(pk)
            pending = dict(row.pending) if row is not None else {}
            pending[token] = iso_z(now + LEASE)
            if row is None:
                if self._create_row(pk, _plain(empty_counts()), pending, now):
                    return
            elif self._replace_row(row, row.counts, pending, now):
                return
        raise RuntimeError(f"summary row {pk}: gave up after {MAX_RETRIES} conflicts")

    def publish(self, pk: str, token: str | None, now: datetime) -> None:
        """Recount the workspace and store it, removing `token` and expired tokens, ETag-checked.

        The row is read before the recount: a writer that registers after that read makes our write
        fail, and we recount again; one that registered before keeps its token."""
        for _ in range(MAX_RETRIES):
            row = self._get_row(pk)
            counts = _plain(self.recount_partition(pk))
            cutoff = iso_z(now)
            pending = {t: exp for t, exp in (row.pending if row else {}).items() if t != token and exp > cutoff}
            if row is None:
                if self._create_row(pk, counts, pending, now):
                    return
            elif self._replace_row(row, counts, pending, now):
                return
        raise RuntimeError(f"summary row {pk}: gave up after {MAX_RETRIES} conflicts")

    def session(self, pk: str) -> CounterSession:
        return CounterSession(self, pk)

    # ---- rebuild

    def rebuild(self, *, now: datetime | None = None) -> dict[str, Any]:
        """Recount every workspace from the findings table and rewrite the rows and `~meta`.

        Safe beside running workers: each row is recounted from its partition and written
        ETag-conditionally (as `publish` does, keeping unexpired tokens of writers in flight)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        now = now or datetime.now(UTC)
        with storage_call("query", FINDINGS_TABLE):
            partitions = {str(e["PartitionKey"]) for e in self.findings.list_entities(select=["PartitionKey"])}
        with storage_call("query", SCANS_TABLE):
            existing = {str(e["RowKey"]) for e in self.table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": SUMMARY_PARTITION}, select=["RowKey"])}
        existing.discard(META_ROW)
        for pk in sorted(partitions | existing):
            self._rebuild_row(pk, now)
        for _ in range(MAX_RETRIES):
            meta = self._get_meta()
            with storage_call("query", SCANS_TABLE):
                n = sum(e["RowKey"] != META_ROW and e.get("indexed") is True for e in self.table.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": SUMMARY_PARTITION}, select=["RowKey", "indexed"]))
            entity = {"PartitionKey": SUMMARY_PARTITION, "RowKey": META_ROW, "workspaces": n, "built_at": now}
            with storage_call("write", SCANS_TABLE):
                try:
                    if meta is None:
                        self.table.create_entity(entity)
                    else:
                        self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=meta.metadata["etag"],
                                                 match_condition=MatchConditions.IfNotModified)
                    return {"workspaces": n, "findings_partitions": len(partitions)}
                except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                    continue
        raise RuntimeError(f"summary index: gave up after {MAX_RETRIES} conflicts")

    def _rebuild_row(self, pk: str, now: datetime) -> None:
        """Recount one row and mark it indexed (rebuild then sets `~meta` to the indexed rows)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        for _ in range(MAX_RETRIES):
            row = self._get_row(pk)
            counts = _plain(self.recount_partition(pk))
            cutoff = iso_z(now)
            pending = {t: exp for t, exp in row.pending.items() if exp > cutoff} if row is not None else {}
            entity = self._entity(pk, counts, pending, now, indexed=True)
            with storage_call("write", SCANS_TABLE):
                try:
                    if row is None:
                        self.table.create_entity(entity)
                    else:
                        self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=row.etag,
                                                 match_condition=MatchConditions.IfNotModified)
                    return
                except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                    continue
        raise RuntimeError(f"summary row {pk}: gave up after {MAX_RETRIES} conflicts")


@dataclass
class CounterSession:
    """One writer's part in the protocol for one workspace: `before_change()` ahead of every write that
    changes what is counted, `close()` when its writes are done (publishes only if it registered)."""

    counters: SummaryCounters
    pk: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    registered_at: datetime | None = None

    def before_change(self) -> None:
        now = datetime.now(UTC)
        if self.registered_at is None or now - self.registered_at > LEASE / 3:
            self.counters.register(self.pk, self.token, now)
            self.registered_at = now

    def close(self) -> None:
        """Publish the recount. A failure here leaves the token, so readers keep recounting the workspace."""
        from core.store.errors import StoreError

        if self.registered_at is None:
            return
        try:
            self.counters.publish(self.pk, self.token, datetime.now(UTC))
            self.registered_at = None
        except (StoreError, RuntimeError) as exc:
            log.warning("summary counters of partition %s not published (%s); readers recount it", self.pk, exc)


def counted_change(old: Any, new: Any) -> bool:
    """Whether writing `new` over `old` (Findings; `old` None for a new row) changes what is counted."""
    return old is None or any(getattr(old, n) != getattr(new, n) for n in ("status", "severity", "rule_id",
                                                                             "resource_id"))

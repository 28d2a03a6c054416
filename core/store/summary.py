"""Maintained summary counters: `/api/summary` without scanning the findings table.

Layout: partition `findings-summary` of the `scans` table (beside the `notify-lock` partition: no new
table name, and the `findings` table keeps only finding rows, so none of its queries changes).
- a workspace row, RowKey = `resource_key(workspace id)` (the workspace's findings partition):
  `counts` (by_status, by_severity, open_by_severity, by_rule, by_workspace of its finding rows),
  `pending` (token -> lease expiry of each writer that may have changed its findings since `counts`);
- SHARDS shard rows, RowKey `~shard-NN`: `total` (the sum of its workspaces' `counts`), `dirty`
  (workspace -> the `counts` included in `total`, for each workspace with a token), `members`, `built`.
A workspace row and its shard row share the partition, so every change to a workspace row is one
entity-group transaction with its shard row, both ETag-conditional: `total` always equals the sum.

Writers (reconcile, resolve_workspace, import_findings) follow an intent protocol around their
finding writes: before the first write that changes a finding's status, severity or rule they add a
token (`register`); after their writes they recount the workspace's partition (one partition query)
and store it while removing their token (`publish`). The workspace row is read before the recount, so
a writer that registers meanwhile makes the publish fail and be redone; so a workspace without tokens
equals a recount taken after every committed change. A crashed writer's token stays (its workspace is
recounted by readers) until its lease expires and the next publish drops it.

Readers take one query of SHARDS rows and recount only the workspaces with a writer in flight.
A missing shard row (never built), an unreadable one, or one marked not `built` (a damaged or deleted
workspace row was found, or a rebuild is running) and the reader raises CountersUnavailable: the
caller counts from the findings table instead (never a silently wrong answer), and
`driftwatch findings rebuild-summary` rebuilds the rows from the findings table.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.store.connection import FINDINGS_TABLE, SCANS_TABLE, StorageConnection, storage_call
from core.store.keys import get_json, iso_z, put_json
from core.terms import SEVERITIES, STATUSES

if TYPE_CHECKING:
    from concurrent.futures import Future

    from azure.data.tables import TableClient

log = logging.getLogger(__name__)

SUMMARY_SCHEMA = "driftwatch.findings-summary/v1"
SUMMARY_PARTITION = "findings-summary"
SHARDS = 32
"""Shard rows a reader reads; writers of different shards never contend on one row."""
LEASE = timedelta(minutes=15)
"""How long a writer's token stands for it; it is renewed before a write when a third has passed."""
COUNTED_FIELDS = ("status", "severity", "rule_id", "resource_id")
COUNT_KINDS = ("by_status", "by_severity", "open_by_severity", "by_rule", "by_workspace")
MAX_RETRIES = 100
ROW_FORMAT = 1
Counts = dict[str, dict[str, int]]


class CountersUnavailable(Exception):
    """The counters cannot answer (not built, a row missing or unreadable); the reason says which."""


def shard_key(n: int) -> str:
    return f"~shard-{n:02d}"  # "~" sorts after the hex workspace keys and never equals one


def shard_of(pk: str) -> int:
    return int(pk[:8], 16) % SHARDS if len(pk) >= 8 and all(c in "0123456789abcdef" for c in pk[:8]) else 0


# ------------------------------------------------------------------ counts (pure)

def empty_counts() -> dict[str, Counter[str]]:
    return {k: Counter() for k in COUNT_KINDS}


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
    for k in COUNT_KINDS:
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


def _plain(c: Mapping[str, Mapping[str, int]]) -> Counts:
    return {k: {n: v for n, v in sorted((c.get(k) or {}).items()) if v} for k in COUNT_KINDS}


def combine(a: Mapping[str, Mapping[str, int]], b: Mapping[str, Mapping[str, int]], sign: int = 1) -> Counts:
    """a + sign * b, per kind and key (zeros dropped)."""
    out: dict[str, Counter[str]] = {k: Counter(dict(a.get(k) or {})) for k in COUNT_KINDS}
    for k in COUNT_KINDS:
        for n, v in (b.get(k) or {}).items():
            out[k][n] += sign * v
    return _plain(out)


def _accumulate(into: dict[str, Counter[str]], other: Mapping[str, Mapping[str, int]], sign: int = 1) -> None:
    for k in COUNT_KINDS:
        counter = into[k]
        for n, v in (other.get(k) or {}).items():
            counter[n] += sign * v


def contribution(f: Any) -> Counts:
    """What one finding adds to the counts (as its row is counted by `count_rows`)."""
    from core.arm_ids import arm_fold

    c: Counts = {"by_status": {f.status: 1}, "by_severity": {f.severity: 1}, "by_rule": {f.rule_id: 1},
                 "by_workspace": {arm_fold(f.resource_id): 1}, "open_by_severity": {}}
    if f.status == "open":
        c["open_by_severity"] = {f.severity: 1}
    return c


class _Damaged(ValueError):
    """A counter row that exists but cannot be read."""


def _etag(entity: Any) -> str:
    return entity.metadata["etag"] if hasattr(entity, "metadata") else ""


@dataclass
class _Workspace:
    key: str
    etag: str
    counts: Counts
    pending: dict[str, str]

    @classmethod
    def parse(cls, e: Mapping[str, Any]) -> _Workspace:
        try:
            if e.get("v") != ROW_FORMAT:
                raise ValueError(f"unknown row format {e.get('v')!r}")
            return cls(str(e["RowKey"]), _etag(e), _parse_counts(get_json(e, "counts")),
                       _parse_pending(get_json(e, "pending")))
        except (KeyError, TypeError, ValueError) as exc:
            raise _Damaged(f"counter row {e.get('RowKey')} is unreadable ({exc})") from None

    def entity(self, now: datetime) -> dict[str, Any]:
        e: dict[str, Any] = {"PartitionKey": SUMMARY_PARTITION, "RowKey": self.key, "v": ROW_FORMAT,
                             "shard": shard_of(self.key), "counted_at": now}
        put_json(e, "counts", self.counts)
        put_json(e, "pending", self.pending)
        return e


@dataclass
class _Shard:
    n: int
    etag: str
    built: bool
    total: Counts
    dirty: dict[str, Counts]
    members: set[str]

    @classmethod
    def empty(cls, n: int, *, built: bool, etag: str = "") -> _Shard:
        return cls(n, etag, built, _plain({}), {}, set())

    @classmethod
    def parse(cls, e: Mapping[str, Any]) -> _Shard:
        try:
            if e.get("v") != ROW_FORMAT or not isinstance(e.get("built"), bool):
                raise ValueError(f"unknown row format {e.get('v')!r}")
            dirty = get_json(e, "dirty")
            members = get_json(e, "members")
            if not isinstance(dirty, dict) or not isinstance(members, list):
                raise ValueError("dirty/members malformed")
            return cls(int(str(e["RowKey"])[len("~shard-"):]), _etag(e), e["built"],
                       _parse_counts(get_json(e, "total")), {str(k): _parse_counts(v) for k, v in dirty.items()},
                       {str(m) for m in members})
        except (KeyError, TypeError, ValueError) as exc:
            raise _Damaged(f"counter row {e.get('RowKey')} is unreadable ({exc})") from None

    def entity(self, now: datetime) -> dict[str, Any]:
        e: dict[str, Any] = {"PartitionKey": SUMMARY_PARTITION, "RowKey": shard_key(self.n), "v": ROW_FORMAT,
                             "built": self.built, "counted_at": now}
        put_json(e, "total", self.total)
        put_json(e, "dirty", self.dirty)
        put_json(e, "members", sorted(self.members))
        return e


Change = Callable[[_Workspace | None, _Shard], tuple[_Workspace, _Shard]]
"""(workspace row or None if absent, its shard) -> both as they must be written together."""


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

    def recount_partition(self, pk: str) -> Counts:
        """Counts of one workspace's finding rows, straight from the findings table."""
        with storage_call("query", FINDINGS_TABLE):
            return _plain(count_rows(self.findings.query_entities("PartitionKey eq @pk", parameters={"pk": pk},
                                                                  select=list(COUNTED_FIELDS))))

    def _shard_entities(self) -> list[Any]:
        with storage_call("query", SCANS_TABLE):
            return list(self.table.query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": SUMMARY_PARTITION, "lo": "~shard-", "hi": "~shard."}))

    def read(self) -> dict[str, Any]:
        """The summary from the counters: one query of the shard rows, plus a partition recount per
        workspace with a writer in flight. Raises CountersUnavailable when they cannot be trusted."""
        entities = self._shard_entities()
        if not entities:
            raise CountersUnavailable("summary counters were never built")
        try:
            shards = {s.n: s for s in map(_Shard.parse, entities)}
        except _Damaged as exc:
            raise CountersUnavailable(f"summary {exc}") from None
        missing = [shard_key(n) for n in range(SHARDS) if n not in shards]
        if missing:
            raise CountersUnavailable(f"summary counter row {missing[0]} is missing ({len(missing)} of {SHARDS})")
        unbuilt = [shard_key(n) for n, s in sorted(shards.items()) if not s.built]
        if unbuilt:
            raise CountersUnavailable(f"summary counter row {unbuilt[0]} needs a rebuild ({len(unbuilt)} of {SHARDS})")
        total = empty_counts()
        for s in shards.values():
            _accumulate(total, s.total)
            for pk, included in s.dirty.items():  # a writer in flight (or crashed): count its partition now
                _accumulate(total, included, -1)
                _accumulate(total, self.recount_partition(pk))
        if any(v < 0 for part in total.values() for v in part.values()):
            raise CountersUnavailable("summary counters are inconsistent (a negative count)")
        return summary_doc(total)

    def status(self) -> dict[str, Any]:
        """What `rebuild-summary --check` prints: whether the counters answer, and writers in flight."""
        try:
            self.read()
            usable, reason = True, None
        except CountersUnavailable as exc:
            usable, reason = False, str(exc)
        in_flight = 0
        for e in self._shard_entities():
            with contextlib.suppress(_Damaged):
                in_flight += len(_Shard.parse(e).dirty)
        return {"usable": usable, "reason": reason, "workspaces_with_writers_in_flight": in_flight}

    # ---- writing

    def _get(self, row_key: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("get", SCANS_TABLE):
            try:
                return self.table.get_entity(SUMMARY_PARTITION, row_key)
            except ResourceNotFoundError:
                return None

    def _no_findings_yet(self) -> bool:
        """A fresh deployment: not one finding row (so empty counters are complete)."""
        with storage_call("query", FINDINGS_TABLE):
            first = next(iter(self.findings.list_entities(results_per_page=1, select=["PartitionKey"])), None)
        return first is None

    def _create_missing_shard(self, n: int, now: datetime) -> None:
        """A fresh store gets every shard, built and empty, in one transaction (all or none, so a writer
        never sees some); a store with findings but no shard row gets that one, unbuilt."""
        from azure.core.exceptions import ResourceExistsError
        from azure.data.tables import TableTransactionError

        with storage_call("write", SCANS_TABLE), contextlib.suppress(ResourceExistsError, TableTransactionError):
            if self._no_findings_yet():
                self.table.submit_transaction([("create", _Shard.empty(i, built=True).entity(now))
                                               for i in range(SHARDS)])
            else:
                self.table.create_entity(_Shard.empty(n, built=False).entity(now))

    def _read_pair(self, pk: str, now: datetime, *, create: bool = True) -> tuple[_Workspace | None, _Shard] | None:
        """The workspace row (None if absent) and its shard; None when the shard had to be created first
        (or, without `create`, is missing). A damaged or missing row never stops a writer: its shard is marked
        unbuilt. The two point reads do not depend on each other, so they run at once (the transaction that
        follows checks both ETags)."""
        from core.store import background

        reading_ws = background.start(functools.partial(self._get, pk))
        shard_e = self._get(shard_key(shard_of(pk)))
        ws_e = reading_ws.result()
        if shard_e is None:
            if create:
                self._create_missing_shard(shard_of(pk), now)
            return None
        try:
            shard = _Shard.parse(shard_e)
        except _Damaged:
            shard = _Shard.empty(shard_of(pk), built=False, etag=_etag(shard_e))
        ws: _Workspace | None = None
        if ws_e is not None:
            try:
                ws = _Workspace.parse(ws_e)
            except _Damaged:
                shard.built = False  # what it contributed to `total` is unknown now
                ws = _Workspace(pk, _etag(ws_e), _plain({}), {})
        elif pk in shard.members:
            shard.built = False  # its row was deleted: what it contributed is unknown
        return ws, shard

    def _change(self, pk: str, change: Change, now: datetime,
                first: tuple[_Workspace | None, _Shard] | None = None) -> tuple[_Workspace, _Shard]:
        """Apply `change` to the workspace row and its shard and write both in one ETag-checked
        transaction; on a conflict read both again and redo. `first`: the rows as this writer last wrote
        them (tried without reading; a stale ETag just costs the retry). Returns the rows as written."""
        import copy

        from azure.core import MatchConditions
        from azure.data.tables import TableTransactionError, UpdateMode

        for attempt in range(MAX_RETRIES):
            ws: _Workspace | None
            if attempt == 0 and first is not None:
                ws, shard = copy.deepcopy(first)
            else:
                pair = self._read_pair(pk, now)
                if pair is None:
                    continue
                ws, shard = pair
            ws_etag = ws.etag if ws is not None else ""
            new_ws, new_shard = change(ws, shard)
            new_shard.members.add(pk)
            ops: list[Any] = []
            for old_etag, entity in ((ws_etag, new_ws.entity(now)), (shard.etag, new_shard.entity(now))):
                if old_etag:
                    ops.append(("update", entity, {"mode": UpdateMode.REPLACE, "etag": old_etag,
                                                   "match_condition": MatchConditions.IfNotModified}))
                else:
                    ops.append(("create", entity))
            with storage_call("write", SCANS_TABLE):
                try:
                    result = self.table.submit_transaction(ops)
                except TableTransactionError:
                    continue  # someone else changed one of the two rows: read both again
            new_ws.etag = str((result[0] if result else {}).get("etag") or "")
            new_shard.etag = str((result[1] if len(result) > 1 else {}).get("etag") or "")
            return new_ws, new_shard
        raise RuntimeError(f"summary counters of {pk}: gave up after {MAX_RETRIES} write conflicts")

    def prefetch(self, pk: str, now: datetime) -> Future[tuple[_Workspace | None, _Shard] | None]:
        """Start reading what `register` would read (no write), for a writer that will probably change what
        is counted: its registration then starts from these rows (ETag-checked: stale ones cost a retry)."""
        from core.store import background

        return background.start(functools.partial(self._read_pair, pk, now, create=False))

    def register(self, pk: str, token: str, now: datetime,
                 first: tuple[_Workspace | None, _Shard] | None = None) -> tuple[_Workspace, _Shard]:
        """Add (or renew) `token` on the workspace row before a counted change is written; `first`: the rows
        as read just before (`prefetch`), tried instead of reading them."""
        def change(ws: _Workspace | None, shard: _Shard) -> tuple[_Workspace, _Shard]:
            ws = ws or _Workspace(pk, "", _plain({}), {})
            ws.pending[token] = iso_z(now + LEASE)
            shard.dirty[pk] = ws.counts  # what `total` holds of it, replaced by a recount when read
            return ws, shard

        return self._change(pk, change, now, first=first)

    def publish(self, pk: str, token: str | None, now: datetime, *, delta: Counts | None = None,
                registered: tuple[_Workspace, _Shard] | None = None) -> None:
        """Store the workspace's counts, removing `token` and expired tokens (one transaction with the
        shard's total).

        The counts are a recount of the partition, taken after the rows were read, so a writer that
        registers meanwhile makes the transaction fail and the recount be redone. Shortcut: when the
        workspace row is still exactly as this writer registered it (`registered`, same ETag: nobody
        registered or published since) and holds no other token (nobody else was in flight then, so its
        counts were exact), those counts plus this writer's own changes (`delta`, from its ETag-checked
        finding writes) are exact without the recount."""
        cutoff = iso_z(now)
        mine = registered[0].etag if registered is not None and registered[0].etag else None

        def change(ws: _Workspace | None, shard: _Shard) -> tuple[_Workspace, _Shard]:
            pending_all = ws.pending if ws is not None else {}
            alone = set(pending_all) == {token}  # nobody else in flight since (the row is as we left it)
            if delta is not None and mine is not None and ws is not None and ws.etag == mine and alone:
                counts = combine(ws.counts, delta)
            else:
                counts = self.recount_partition(pk)
            old = ws.counts if ws is not None else _plain({})
            pending = {t: exp for t, exp in pending_all.items() if t != token and exp > cutoff}
            shard.total = combine(combine(shard.total, old, -1), counts)
            if pending:
                shard.dirty[pk] = counts
            else:
                shard.dirty.pop(pk, None)
            return _Workspace(pk, "", counts, pending), shard

        self._change(pk, change, now, first=registered if mine else None)

    def session(self, pk: str, *, blind: bool = False,
                prefetched: Future[tuple[_Workspace | None, _Shard] | None] | None = None) -> CounterSession:
        return CounterSession(self, pk, blind=blind, prefetched=prefetched)

    # ---- rebuild

    def rebuild(self, *, now: datetime | None = None) -> dict[str, Any]:
        """Recount every workspace from the findings table, then sum every shard from its workspace rows.

        Safe beside running workers: shards are marked unbuilt first (readers count from the table
        meanwhile); each workspace is recounted like a `publish` without a token of its own (one
        transaction with its shard, unexpired tokens of writers in flight kept); a shard is summed and
        marked built only if no writer changed it meanwhile (ETag)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        now = now or datetime.now(UTC)

        def write(entity: dict[str, Any], etag: str) -> bool:
            with storage_call("write", SCANS_TABLE):
                try:
                    if etag:
                        self.table.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                                 match_condition=MatchConditions.IfNotModified)
                    else:
                        self.table.create_entity(entity)
                    return True
                except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                    return False

        def unbuild(n: int) -> bool:
            e = self._get(shard_key(n))
            try:
                shard = _Shard.parse(e) if e is not None else _Shard.empty(n, built=False)
            except _Damaged:
                shard = _Shard.empty(n, built=False, etag=_etag(e))
            shard.built = False
            return write(shard.entity(now), shard.etag)

        def resum(n: int) -> bool:
            e = self._get(shard_key(n))  # read first: a writer's transaction after this makes our write fail
            with storage_call("query", SCANS_TABLE):
                rows = list(self.table.query_entities("PartitionKey eq @pk and shard eq @n",
                                                      parameters={"pk": SUMMARY_PARTITION, "n": n}))
            shard = _Shard.empty(n, built=True, etag=_etag(e) if e is not None else "")
            for r in rows:
                ws = _Workspace.parse(r)  # each was just rewritten by this rebuild
                shard.total = combine(shard.total, ws.counts)
                shard.members.add(ws.key)
                if ws.pending:
                    shard.dirty[ws.key] = ws.counts
            return write(shard.entity(now), shard.etag)

        def retry(step: Callable[[int], bool], n: int) -> None:
            for _ in range(MAX_RETRIES):
                if step(n):
                    return
            raise RuntimeError(f"summary counters ({shard_key(n)}): gave up after {MAX_RETRIES} write conflicts")

        def all_shards(build: Callable[[dict[int, Any], list[Any]], list[_Shard]]) -> bool:
            """One transaction over every shard (the quiet case); False when any of them changed."""
            from azure.data.tables import TableTransactionError

            with storage_call("query", SCANS_TABLE):
                rows = list(self.table.query_entities("PartitionKey eq @pk", parameters={"pk": SUMMARY_PARTITION}))
            current = {int(str(e["RowKey"])[len("~shard-"):]): e for e in rows
                       if str(e["RowKey"]).startswith("~shard-") and str(e["RowKey"])[7:].isdigit()}
            try:
                shards = build(current, [e for e in rows if not str(e["RowKey"]).startswith("~")])
            except _Damaged:
                return False
            ops: list[Any] = [("update", sh.entity(now), {"mode": UpdateMode.REPLACE, "etag": sh.etag,
                                                          "match_condition": MatchConditions.IfNotModified})
                              if sh.etag else ("create", sh.entity(now)) for sh in shards]
            with storage_call("write", SCANS_TABLE):
                try:
                    self.table.submit_transaction(ops)
                    return True
                except TableTransactionError:
                    return False

        def unbuilt_all(current: dict[int, Any], _ws: list[Any]) -> list[_Shard]:
            out = []
            for n in range(SHARDS):
                e = current.get(n)
                try:
                    sh = _Shard.parse(e) if e is not None else _Shard.empty(n, built=False)
                except _Damaged:
                    sh = _Shard.empty(n, built=False, etag=_etag(e))
                sh.built = False
                out.append(sh)
            return out

        def summed_all(current: dict[int, Any], ws_rows: list[Any]) -> list[_Shard]:
            out = {n: _Shard.empty(n, built=True, etag=_etag(current[n]) if n in current else "")
                   for n in range(SHARDS)}
            for r in ws_rows:
                ws = _Workspace.parse(r)
                sh = out[shard_of(ws.key)]
                sh.total = combine(sh.total, ws.counts)
                sh.members.add(ws.key)
                if ws.pending:
                    sh.dirty[ws.key] = ws.counts
            return list(out.values())

        if not all_shards(unbuilt_all):
            for n in range(SHARDS):
                retry(unbuild, n)
        with storage_call("query", FINDINGS_TABLE):
            partitions = {str(e["PartitionKey"]) for e in self.findings.list_entities(select=["PartitionKey"])}
        with storage_call("query", SCANS_TABLE):
            existing = {str(e["RowKey"]) for e in self.table.query_entities(
                "PartitionKey eq @pk and RowKey lt @hi", parameters={"pk": SUMMARY_PARTITION, "hi": "~"},
                select=["RowKey"])}
        for pk in sorted(partitions | existing):
            self.publish(pk, None, now)
        if not all_shards(summed_all):
            for n in range(SHARDS):
                retry(resum, n)
        return {"workspaces": len(partitions | existing), "findings_partitions": len(partitions)}


@dataclass
class CounterSession:
    """One writer's part in the protocol for one workspace: `before_change()` ahead of every write that
    changes what is counted, `written(old, new)` after each such write succeeded, `close()` when its
    writes are done (publishes only if it registered). `blind`: the writer does not know what it
    overwrote (bulk import), so its publish always recounts."""

    counters: SummaryCounters
    pk: str
    blind: bool = False
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    registered_at: datetime | None = None
    registered: tuple[_Workspace, _Shard] | None = None
    delta: Counts = field(default_factory=dict)
    prefetched: Future[tuple[_Workspace | None, _Shard] | None] | None = None
    """`SummaryCounters.prefetch` of this workspace's rows, started before the writer knew it would change
    anything: the first registration starts from them."""

    def before_change(self) -> None:
        from core.store.errors import StoreError

        now = datetime.now(UTC)
        if self.registered_at is None or now - self.registered_at > LEASE / 3:
            if self.registered_at is not None:
                self.blind = True  # a renewal: others may have published in between, so recount at the end
            first = None
            if self.prefetched is not None:
                with contextlib.suppress(StoreError):  # then read as without it
                    first = self.prefetched.result()
                self.prefetched = None
            self.registered = self.counters.register(self.pk, self.token, now, first=first)
            self.registered_at = now

    def written(self, old: Any, new: Any) -> None:
        """A finding write that changed what is counted succeeded (`old` None: the row was created)."""
        self.delta = combine(self.delta, contribution(new))
        if old is not None:
            self.delta = combine(self.delta, contribution(old), -1)

    def close(self) -> None:
        """Publish. A failure here leaves the token, so readers keep recounting the workspace."""
        from core.store.errors import StoreError

        if self.registered_at is None:
            return
        try:
            self.counters.publish(self.pk, self.token, datetime.now(UTC), delta=None if self.blind else self.delta,
                                  registered=self.registered)
            self.registered_at = self.registered = None
        except (StoreError, RuntimeError) as exc:
            log.warning("summary counters of partition %s not published (%s); readers recount it", self.pk, exc)


def counted_change(old: Any, new: Any) -> bool:
    """Whether writing `new` over `old` (Findings; `old` None for a new row) changes what is counted."""
    return old is None or any(getattr(old, n) != getattr(new, n) for n in ("status", "severity", "rule_id",
                                                                             "resource_id"))

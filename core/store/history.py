"""Reading `findinghistory`: posture as of an instant, what changed in a period, rule coverage.

Layout (ARCHITECTURE 4.6, `findinghistory` append-only). Each transition is written twice:
- per finding: PartitionKey = finding id, RowKey = `{at}-{seq:06d}-{transition}` (the original
  layout; `GET /api/findings/{id}` reads one partition);
- per workspace, the time index: PartitionKey = `ws-{resource_key}`, RowKey =
  `{at}-{finding id}-{seq:06d}-{transition}`. A workspace's history is one partition in time
  order, so "as of T" is the key range `RowKey < T~` and "since S until U" is `S <= RowKey < U~`.
  Coverage (which rules a scan actually checked) is kept in the same partition: a row
  `{at}-~coverage` each time it changes. The *current* coverage is a pointer row that is replaced in place,
  so it lives in the mutable `scans` table (same PartitionKey, RowKey `coverage`), not here: every write
  to `findinghistory` is an Insert Entity, which is all the app identity's role on this table allows
  (infra/modules/custom-roles.bicep, "history appender"). Pointer rows that older versions wrote here are
  still read (the newer of the two wins; reconcile looks here only while scans has none) and never
  written again.
- per workspace, history checkpoints (core/store/checkpoints.py): PartitionKey = `cp-{resource_key}`,
  RowKey = the checkpoint time inverted (newest first), each row the state of every finding of the
  workspace at that instant (the message of its latest index row then) with a sha256 of it. Written
  (inserted) by reconcile every max(25, findings) transitions of the workspace, never covering the last
  hour nor a transition still in an outbox, and by `driftwatch findings migrate-history` over existing
  history.
As of T, a finding unchanged since T comes from its current row; the others are rebuilt per workspace
(in parallel) from the newest checkpoint at or before T (one request, one row) plus the index rows after
it up to T: at most one interval of rows instead of the whole partition up to T. A missing, unreadable or
mismatching checkpoint is not used: that workspace's partition is replayed from the start instead.
Changes in a period (`since`/`until`) read the index key range of the period: estate-wide from the estate
index's day partitions when the newest estate snapshot before `since` proves them complete
(core/store/estate_period.py `period_rows`), otherwise with one query of every workspace index partition.
Rows written before the index existed have only the per-finding row: single-finding reads still see
them; `backfill_workspace_index` (CLI `driftwatch findings migrate-history`) adds their index rows once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.arm_ids import arm_fold
from core.findings.model import Finding
from core.store.checkpoints import CHECKPOINT_PREFIX, MIN_INTERVAL, SETTLE, extend_checkpoints, latest_checkpoint
from core.store.connection import FINDINGS_TABLE, HISTORY_TABLE, SCANS_TABLE, storage_call
from core.store.estate import (
    ESTATE_INDEX_PREFIX,
    ESTATE_MIN_WORKSPACES,
    SNAPSHOT_BODY,
    SNAPSHOT_HEADS,
    estate_rebuild,
)
from core.store.estate_period import period_rows
from core.store.keys import get_json, put_json, resource_key, utc

if TYPE_CHECKING:
    from azure.data.tables import TableClient

    from core.store.findings import Transition

INDEX_PREFIX = "ws-"
INDEX_END = "ws."
"""`.` sorts right after `-`: PartitionKey ge 'ws-' and lt 'ws.' is exactly the index partitions."""
DERIVED_PREFIXES = (INDEX_PREFIX, CHECKPOINT_PREFIX, ESTATE_INDEX_PREFIX, SNAPSHOT_HEADS, SNAPSHOT_BODY)
"""Partitions that are not one finding's own history (those are its 32-hex id)."""
CURRENT_COVERAGE = "coverage"
TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"
TIME_KEYS_END = ":"
"""Time RowKeys start with a digit; ':' sorts after '9' and before letters (the `coverage` row)."""


def index_partition(resource_id: str) -> str:
    return INDEX_PREFIX + resource_key(resource_id)


def time_key(dt: datetime) -> str:
    return f"{utc(dt):{TIME_FORMAT}}"


def workspace_index_entity(finding_row: Mapping[str, Any], finding: Finding, seq: int) -> dict[str, Any]:
    """The time-index copy of a per-finding history entity."""
    e = {k: v for k, v in finding_row.items() if k not in ("PartitionKey", "RowKey")}
    e.update({
        "PartitionKey": index_partition(finding.resource_id),
        "RowKey": f"{time_key(finding_row['at'])}-{finding.id}-{seq:06d}-{finding_row['transition']}",
        "kind": "transition",
        "finding_id": finding.id,
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "subscription_id": arm_fold(finding.subscription_id),
        "workspace_name": finding.workspace_name,
        "subject": finding.subject or "",
    })
    return e


def record_coverage(store: Any, resource_id: str, checked_rules: Iterable[str], now: datetime,
                    baseline_sha256: str | None, scope: Iterable[str] | None = None) -> bool:
    """Record which rules were checked on the workspace; writes only when that set changed.

    `scope`: the rules a partial (family-scoped) scan could have checked; the coverage of every other rule
    stays as it was, since that scan observed nothing about them. None = a full scan replaces it.
    """
    from azure.core.exceptions import ResourceExistsError
    from azure.data.tables import UpdateMode

    table: TableClient = store.history_table
    pointers: TableClient = store.coverage_table
    pk = index_partition(resource_id)
    rules = sorted(set(checked_rules))
    current = _current_coverage_row(pointers, table, pk)
    if scope is not None:
        kept = set(json.loads(current.get("rules") or "[]")) - set(scope) if current is not None else set()
        rules = sorted(kept | set(rules))
    if current is not None:
        same = json.loads(current.get("rules") or "[]") == rules and current.get("baseline_sha256") == baseline_sha256
        at = current.get("at")
        if same or (isinstance(at, datetime) and utc(at) > now):
            return False  # unchanged, or an older evaluation arriving late
    entity: dict[str, Any] = {"PartitionKey": pk, "RowKey": f"{time_key(now)}-~coverage", "kind": "coverage",
                              "at": now, "resource_id": arm_fold(resource_id), "rules": json.dumps(rules),
                              "baseline_sha256": baseline_sha256 or ""}
    with storage_call("append", HISTORY_TABLE), contextlib.suppress(ResourceExistsError):
        table.create_entity(entity)  # insert only: findinghistory is append-only
    with storage_call("upsert", SCANS_TABLE):
        pointers.upsert_entity({**entity, "RowKey": CURRENT_COVERAGE}, mode=UpdateMode.REPLACE)
    return True


def _current_coverage_row(pointers: TableClient, history: TableClient, pk: str) -> Any:
    """The current-coverage pointer (scans table), or the one an older version left in findinghistory.

    The findinghistory pointer is read only while the workspace has none in scans: the first coverage
    write of this version puts one there, so a steady scan makes one read here, not two. (Only an older
    version still running beside this one could leave a newer pointer in findinghistory; the readers in
    `coverage()` still take the newer of the two.)"""
    from azure.core.exceptions import ResourceNotFoundError

    for table, name in ((pointers, SCANS_TABLE), (history, HISTORY_TABLE)):
        with storage_call("get", name), contextlib.suppress(ResourceNotFoundError):
            return table.get_entity(pk, CURRENT_COVERAGE)
    return None


def _coverage_of(e: Mapping[str, Any]) -> dict[str, Any]:
    return {"resource_id": e["resource_id"], "at": utc(e["at"]), "rules": json.loads(e.get("rules") or "[]"),
            "baseline_sha256": e.get("baseline_sha256") or None}


class HistoryQueries:
    """History reads of `TableFindingsStore` (mixed in; uses its `history_table` and `findings_table`)."""

    history_checkpoints: bool = True
    """Start as-of replays at the workspace's checkpoint (core/store/checkpoints.py); False = full replay."""
    estate_snapshots: bool = True
    """Rebuild many workspaces at once from the estate snapshot + estate index (core/store/estate.py)."""
    estate_min_workspaces: int = ESTATE_MIN_WORKSPACES
    """Fewer workspaces to rebuild than this: the per-workspace path (fewer bytes read)."""
    checkpoint_lookup_from: int = MIN_INTERVAL
    """Transitions a workspace needs before an as-of read looks for its checkpoint (shorter: replayed)."""

    @property
    def history_table(self) -> TableClient:
        raise NotImplementedError

    @property
    def findings_table(self) -> TableClient:
        raise NotImplementedError

    @property
    def coverage_table(self) -> TableClient:
        """Where the current-coverage pointer rows live (the mutable `scans` table)."""
        raise NotImplementedError

    # ------------------------------------------------------------ raw index rows

    def workspace_ids(self, workspace: str | None) -> list[str] | None:
        """Workspace ARM ids a `workspace` filter names (an ARM id, or a name looked up in `findings`)."""
        if workspace is None:
            return None
        ws = workspace.strip()
        if "/" in ws:
            return [arm_fold(ws)]
        with storage_call("query", FINDINGS_TABLE):
            found = {str(e["resource_id"]) for e in self.findings_table.query_entities(
                "workspace_name_lc eq @n", parameters={"n": arm_fold(ws)}, select=["resource_id"])}
        return sorted(found)

    def current_findings(self, *, workspace_ids: list[str] | None = None, subscription: str | None = None,
                         transitions: dict[str, list[int]] | None = None,
                         seqs: dict[str, int] | None = None) -> list[tuple[Finding, datetime | None]]:
        """Every current finding row as (finding, time of its last transition), reading only those two
        columns (the SDK's per-property decoding dominates a full read); an estate-wide read splits the
        hashed partition keys into 16 ranges read in parallel. `transitions`, when given, is filled with
        workspace id (folded) -> [transitions recorded, findings] (the rows' `seq`, summed; and counted);
        `seqs` with finding id -> its row's `seq` (transitions recorded)."""
        from concurrent.futures import ThreadPoolExecutor

        select = ["PartitionKey", "RowKey", "finding", "finding_parts", "last_transition_at", "seq"]
        clauses, params = [], {}
        if subscription is not None:
            clauses.append("subscription_id eq @sub")
            params["sub"] = arm_fold(subscription)

        def read(flt: str, extra: dict[str, Any]) -> list[tuple[Finding, datetime | None, int]]:
            with storage_call("query", FINDINGS_TABLE):
                rows = list(self.findings_table.query_entities(flt, parameters={**params, **extra}, select=select,
                                                               results_per_page=1000))
            out = []
            for e in rows:
                if e.get("finding") is None and e.get("finding_parts"):  # a large finding stored in chunks
                    with storage_call("get", FINDINGS_TABLE):
                        e = self.findings_table.get_entity(e["PartitionKey"], e["RowKey"])
                at = e.get("last_transition_at")
                changed = utc(at) if isinstance(at, datetime) else None
                out.append((Finding.from_json_dict(get_json(e, "finding")), changed, int(e.get("seq") or 0)))
            return out

        if workspace_ids is not None:
            rows = [x for rid in workspace_ids
                    for x in read(" and ".join(["PartitionKey eq @pk", *clauses]), {"pk": resource_key(rid)})]
        else:
            bounds = [f"{i:x}" for i in range(16)] + ["g"]  # resource_key() is lower-case hex
            jobs = [(" and ".join(["PartitionKey ge @lo and PartitionKey lt @hi", *clauses]), {"lo": lo, "hi": hi})
                    for lo, hi in itertools.pairwise(bounds)]
            with ThreadPoolExecutor(max_workers=8) as pool:
                rows = [x for part in pool.map(lambda j: read(*j), jobs) for x in part]
        if transitions is not None:
            for f, _, seq in rows:
                counts = transitions.setdefault(arm_fold(f.resource_id), [0, 0])
                counts[0] += seq
                counts[1] += 1
        if seqs is not None:
            seqs.update((f.id, seq) for f, _, seq in rows)
        return [(f, changed) for f, changed, _ in rows]

    def change_rows(self, since: datetime | None, until: datetime | None, *,
                    subscription: str | None = None) -> list[dict[str, Any]]:
        """Transitions in [since, until] as small dicts (no finding snapshot), oldest first: for reports."""
        lo = time_key(since) if since is not None else "0"
        hi = time_key(until) + "~" if until is not None else TIME_KEYS_END
        flt = "PartitionKey ge @p0 and PartitionKey lt @p1 and RowKey ge @lo and RowKey lt @hi and kind eq @k"
        params: dict[str, Any] = {"p0": INDEX_PREFIX, "p1": INDEX_END, "lo": lo, "hi": hi, "k": "transition"}
        if subscription is not None:
            flt += " and subscription_id eq @sub"
            params["sub"] = arm_fold(subscription)
        cols = ["PartitionKey", "RowKey", "at", "transition", "finding_id", "rule_id", "severity", "resource_id",
                "workspace_name", "subject"]
        rows = self._estate_period(since, until, None, subscription, cols)
        if rows is None:
            with storage_call("query", HISTORY_TABLE):
                rows = list(self.history_table.query_entities(flt, parameters=params, select=cols,
                                                              results_per_page=1000))
        rows.sort(key=lambda e: (e["RowKey"], e["PartitionKey"]))
        return [{"at": utc(e["at"]), "transition": e["transition"], "finding_id": e["finding_id"],
                 "rule_id": e["rule_id"], "severity": e["severity"],
                 "workspace_name": e.get("workspace_name") or str(e["resource_id"]).rsplit("/", 1)[-1],
                 "subject": e.get("subject") or None} for e in rows]

    def _index_rows(self, *, resource_ids: list[str] | None, since: datetime | None, until: datetime | None,
                    subscription: str | None = None) -> Iterator[Any]:
        lo = time_key(since) if since is not None else "0"
        hi = time_key(until) + "~" if until is not None else TIME_KEYS_END
        params: dict[str, Any] = {"lo": lo, "hi": hi}
        extra = ""
        if subscription is not None:
            extra = " and subscription_id eq @sub"
            params["sub"] = arm_fold(subscription)
        with storage_call("query", HISTORY_TABLE):
            if resource_ids is not None:
                for rid in resource_ids:
                    yield from self.history_table.query_entities(
                        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi" + extra,
                        parameters={**params, "pk": index_partition(rid)}, results_per_page=1000)
            else:
                yield from self.history_table.query_entities(
                    "PartitionKey ge @p0 and PartitionKey lt @p1 and RowKey ge @lo and RowKey lt @hi" + extra,
                    parameters={**params, "p0": INDEX_PREFIX, "p1": INDEX_END}, results_per_page=1000)

    def _estate_period(self, since: datetime | None, until: datetime | None, resource_ids: list[str] | None,
                       subscription: str | None, select: list[str] | None) -> list[Any] | None:
        """The period's transition rows from the estate index's day partitions (core/store/estate.py), for the
        estate (or a subscription), when a snapshot before `since` proves it complete; None: use the query of
        the workspace index (a filtered scan of every `ws-` partition estate-wide)."""
        if not self.estate_snapshots or since is None or resource_ids is not None:
            return None  # a workspace filter reads one key range per workspace partition: no scan to replace
        return period_rows(self, since, until, subscription=subscription, select=select)

    def _index_range(self, resource_id: str, lo: str, hi: str) -> list[Any]:
        """Index rows of one workspace with lo <= RowKey < hi."""
        with storage_call("query", HISTORY_TABLE):
            return list(self.history_table.query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": index_partition(resource_id), "lo": lo, "hi": hi}, results_per_page=1000))

    # ------------------------------------------------------------ reconstructions

    def findings_as_of(self, as_of: datetime, *, workspace: str | None = None,
                       subscription: str | None = None) -> list[Finding]:
        """Every finding as it stood at `as_of`.

        A finding whose last transition is at or before `as_of` stood then as it stands now (its
        current row; `last_seen` capped at `as_of`). Only findings that changed after `as_of` are
        rebuilt from history: the snapshot of their last transition at or before it, read from their
        workspaces' index partitions (in parallel), or from their own partition for history written
        before the index existed. Findings first seen after `as_of` do not appear.
        """
        from concurrent.futures import ThreadPoolExecutor

        as_of = utc(as_of)
        out: list[Finding] = []
        pending: dict[str, set[str]] = {}
        recorded: dict[str, list[int]] = {}
        seqs: dict[str, int] = {}
        latest_change: dict[str, datetime] = {}
        for f, changed_at in self.current_findings(workspace_ids=self.workspace_ids(workspace),
                                                   subscription=subscription, transitions=recorded, seqs=seqs):
            if utc(f.first_seen) > as_of:
                continue
            if changed_at is None or changed_at <= as_of:
                if utc(f.last_seen) > as_of:
                    f = f.model_copy(update={"last_seen": as_of})
                out.append(f)
            else:
                pending.setdefault(arm_fold(f.resource_id), set()).add(f.id)
                latest_change[f.id] = changed_at

        def rebuild(rid: str) -> list[Finding]:
            from core.store.findings import Transition

            wanted = pending[rid]
            # A workspace with few transitions has a short partition: one read of all of it up to T is
            # cheaper than looking for a checkpoint first (its findings' rows `seq` count its transitions).
            short = recorded.get(rid, [0, 0])[0] < self.checkpoint_lookup_from
            cp = latest_checkpoint(self, rid, as_of) if self.history_checkpoints and not short else None
            at_checkpoint = {fid: v for fid, v in cp.latest.items() if fid in wanted} if cp is not None else {}
            latest: dict[str, tuple[str, Any]] = {}  # finding id -> (RowKey, index row) after the checkpoint
            for e in self._index_range(rid, cp.covers + "~" if cp is not None else "0", time_key(as_of) + "~"):
                fid = e.get("finding_id")
                if e.get("kind") != "transition" or fid not in wanted:
                    continue
                if fid not in latest or e["RowKey"] > latest[fid][0]:
                    latest[fid] = (e["RowKey"], e)
            messages = [msg for fid, (rk, msg) in at_checkpoint.items() if fid not in latest or latest[fid][0] < rk]
            messages += [get_json(e, "message") for fid, (rk, e) in latest.items()
                         if fid not in at_checkpoint or at_checkpoint[fid][0] < rk]
            found = [Transition.from_message(m).finding for m in messages]
            for fid in wanted - set(latest) - set(at_checkpoint):  # history from before the index: its own partition
                hist = self.finding_history(fid, until=as_of)
                if hist:
                    found.append(hist[-1].finding)
            return found

        per_workspace = sorted(pending)
        if self.estate_snapshots and len(pending) >= self.estate_min_workspaces:
            from core.store.findings import Transition

            # Many workspaces to rebuild: one estate snapshot + the estate index after it (core/store/estate.py)
            # instead of two requests per workspace; the workspaces it cannot vouch for go the per-workspace way.
            last = max(changed for changed in latest_change.values())
            messages, fallback = estate_rebuild(self, as_of, pending, seqs, last)
            out.extend(Transition.from_message(m).finding for m in messages.values())
            per_workspace = sorted(fallback)
        with ThreadPoolExecutor(max_workers=8) as pool:
            for found in pool.map(rebuild, per_workspace):
                out.extend(found)
        return sorted(out, key=lambda f: (arm_fold(f.resource_id), f.rule_id, f.subject or "", f.id))

    def changes(self, since: datetime | None, until: datetime | None, *, workspace: str | None = None,
                subscription: str | None = None) -> list[Transition]:
        """Transitions with `since <= at <= until`, oldest first."""
        from core.store.findings import Transition

        resource_ids = self.workspace_ids(workspace)
        rows = self._estate_period(since, until, resource_ids, subscription, None)
        if rows is None:
            rows = [e for e in self._index_rows(resource_ids=resource_ids, since=since, until=until,
                                                subscription=subscription) if e.get("kind") == "transition"]
        rows.sort(key=lambda e: (e["RowKey"], e["PartitionKey"]))
        return [Transition.from_message(get_json(e, "message")) for e in rows]

    def finding_history(self, finding_id: str, *, until: datetime | None = None,
                        since: datetime | None = None) -> list[Transition]:
        """One finding's transitions (its own partition), optionally within [since, until]."""
        from core.store.findings import Transition

        lo = time_key(since) if since is not None else "0"
        hi = time_key(until) + "~" if until is not None else TIME_KEYS_END
        with storage_call("query", HISTORY_TABLE):
            rows = list(self.history_table.query_entities(
                "PartitionKey eq @id and RowKey ge @lo and RowKey lt @hi",
                parameters={"id": finding_id, "lo": lo, "hi": hi}))
        return [Transition.from_message(get_json(e, "message")) for e in sorted(rows, key=lambda e: e["RowKey"])]

    def coverage(self, as_of: datetime | None = None, *,
                 workspace_ids: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """workspace id (lower case) -> the rules last recorded as checked there (at `as_of`, or now)."""
        out: dict[str, dict[str, Any]] = {}
        if as_of is None:
            rows: list[Any] = []
            # Pointers in the scans table; an older version's pointer in findinghistory counts if newer.
            for table, name in ((self.coverage_table, SCANS_TABLE), (self.history_table, HISTORY_TABLE)):
                with storage_call("query", name):
                    if workspace_ids is not None:
                        rows += [e for rid in workspace_ids for e in table.query_entities(
                            "PartitionKey eq @pk and RowKey eq @rk",
                            parameters={"pk": index_partition(rid), "rk": CURRENT_COVERAGE})]
                    else:
                        rows += list(table.query_entities(
                            "PartitionKey ge @p0 and PartitionKey lt @p1 and RowKey eq @rk",
                            parameters={"p0": INDEX_PREFIX, "p1": INDEX_END, "rk": CURRENT_COVERAGE}))
            for e in rows:
                cur = out.get(e["resource_id"])
                if cur is None or utc(e["at"]) > cur["at"]:
                    out[e["resource_id"]] = _coverage_of(e)
            return out
        cols = ["resource_id", "at", "rules", "baseline_sha256", "kind"]
        params = {"hi": time_key(as_of) + "~", "k": "coverage", "p0": INDEX_PREFIX, "p1": INDEX_END}
        with storage_call("query", HISTORY_TABLE):
            if workspace_ids is not None:
                rows = [e for rid in workspace_ids for e in self.history_table.query_entities(
                    "PartitionKey eq @pk and RowKey lt @hi and kind eq @k",
                    parameters={**params, "pk": index_partition(rid)}, select=cols)]
            else:
                rows = list(self.history_table.query_entities(
                    "PartitionKey ge @p0 and PartitionKey lt @p1 and RowKey lt @hi and kind eq @k",
                    parameters=params, select=cols, results_per_page=1000))
        for e in rows:
            cur = out.get(e["resource_id"])
            if cur is None or utc(e["at"]) >= cur["at"]:
                out[e["resource_id"]] = _coverage_of(e)
        return out

    # ------------------------------------------------------------ migration

    def backfill_workspace_index(self) -> int:
        """Add the time-index row of every per-finding history row that lacks one (idempotent)."""
        from azure.core.exceptions import ResourceExistsError

        from core.store.findings import Transition

        created = 0
        with storage_call("query", HISTORY_TABLE):
            legacy = [e for e in self.history_table.list_entities()
                      if not str(e["PartitionKey"]).startswith(DERIVED_PREFIXES)]
        for e in legacy:
            t = Transition.from_message(get_json(e, "message"))
            try:
                seq = int(str(e["RowKey"]).split("-")[1])
            except (IndexError, ValueError):
                continue
            row = {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"], "transition": t.transition,
                   "at": utc(t.at), "resource_id": arm_fold(t.finding.resource_id), "status": t.finding.status}
            put_json(row, "message", t.message())
            with storage_call("append", HISTORY_TABLE), contextlib.suppress(ResourceExistsError):
                self.history_table.create_entity(workspace_index_entity(row, t.finding, seq))
                created += 1
        return created

    def backfill_estate_index(self) -> int:
        """Add the estate time-index copy of every workspace index transition row (idempotent)."""
        from core.store.estate import backfill_estate_index

        return backfill_estate_index(self)

    def write_estate_snapshot(self, at: datetime | None = None, now: datetime | None = None) -> str | None:
        """Write an estate snapshot (core/store/estate.py) at `at` (default an hour ago); its head's RowKey."""
        from core.store.estate import write_snapshot

        return write_snapshot(self, at, now)

    def estate_snapshot_if_due(self, now: datetime | None = None) -> str | None:
        """The sweep's hook: an estate snapshot when the newest is a day old (never raises)."""
        from core.store.estate import snapshot_if_due

        return snapshot_if_due(self, now)

    def write_checkpoints(self, now: datetime | None = None) -> int:
        """Checkpoint the existing history of every workspace (after `backfill_workspace_index`): up to an
        hour ago, one per interval and one at its last transition. Idempotent; returns how many were added."""
        from concurrent.futures import ThreadPoolExecutor

        from core.store.clock import store_now

        until = store_now(self.findings_table, now) - SETTLE
        with storage_call("query", FINDINGS_TABLE):
            workspaces = sorted({str(e.get("resource_id") or "") for e in self.findings_table.list_entities(
                select=["resource_id"], results_per_page=1000)} - {""})
        with ThreadPoolExecutor(max_workers=8) as pool:
            return sum(pool.map(lambda rid: extend_checkpoints(self, rid, until, final=True), workspaces))

"""The findings store: current findings, append-only history, notification bookkeeping, queries.

`findings` table: PartitionKey = `resource_key(workspace id)`, RowKey = `Finding.id`. One
partition per workspace keeps reconcile to one partition query plus conditional writes.
`findinghistory` table, two rows per transition (see core/store/history.py): PartitionKey =
finding id, RowKey = `{at}-{seq:06d}-{transition}` (one finding's history is one partition), and the
workspace time index PartitionKey = `ws-{resource_key}`, RowKey = `{at}-{finding id}-{seq:06d}-{transition}`
(a workspace's history is one partition, time-ordered, so as-of and since/until reads are key ranges).

Concurrency: every change is a conditional write (create for a new row, update with the ETag
the decision was based on). A loser reloads the row and decides again, so two instances
reconciling one workspace never both open a finding, and only the winner emits a transition.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from core.arm_ids import arm_fold
from core.findings.lifecycle import decide
from core.findings.model import ATTRIBUTION_FIELDS, Attributor, Finding
from core.findings.transition import Transition, transition_id
from core.rules.registry import NotApplicable
from core.store.connection import FINDINGS_TABLE, HISTORY_TABLE, SCANS_TABLE, StorageConnection, storage_call
from core.store.errors import FindingNotFound, InvalidContinuation, InvalidQuery
from core.store.history import HistoryQueries, record_coverage, workspace_index_entity
from core.store.keys import get_json, put_json, resource_key, utc
from core.store.summary import CounterSession, CountersUnavailable, SummaryCounters, counted_change
from core.terms import RULE_ID_RE as RULE_RE
from core.terms import SEVERITIES, STATUSES

if TYPE_CHECKING:
    from azure.data.tables import TableClient

NotifyState = Literal["pending", "notified", "skipped", "failed"]
FINDING_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_CONFLICT_RETRIES = 20
LOCK_PARTITION = "notify-lock"


def outbox_entry(t: Transition, seq: int) -> dict[str, Any]:
    return {"id": transition_id(t.finding.id, t), "seq": seq, "message": t.message()}


CRASH_AT: str | None = None
"""Fault injection for tests/faults (set only by `samples.worker_process --crash-at STEP`)."""


def crash_point(name: str) -> None:
    """The process dies here (no cleanup, like a killed instance) when CRASH_AT names this step."""
    import os

    if name == CRASH_AT:
        os._exit(86)


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


def _encode_token(token: Any, query_hash: str) -> str:
    doc = {"v": 1, "q": query_hash, "t": token}
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True)
    check = hashlib.sha256(raw.encode()).hexdigest()[:16]
    return base64.urlsafe_b64encode(json.dumps({"d": doc, "c": check}, separators=(",", ":")).encode()).decode()


def _decode_token(text: str, query_hash: str) -> dict[str, str]:
    """Parse an opaque token; anything not produced by `_encode_token` for this query is refused."""
    if len(text) > 4096:
        raise InvalidContinuation()
    try:
        outer = json.loads(base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4)))
        doc, check = outer["d"], outer["c"]
        raw = json.dumps(doc, separators=(",", ":"), sort_keys=True)
        if hashlib.sha256(raw.encode()).hexdigest()[:16] != check or doc.get("v") != 1:
            raise InvalidContinuation()
        token = doc["t"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise InvalidContinuation() from None
    if doc.get("q") != query_hash:
        raise InvalidContinuation("continuation token belongs to a different query")
    if not isinstance(token, dict) or not token or not set(token) <= {"PartitionKey", "RowKey", "offset"} \
            or not all(isinstance(v, str) and len(v) <= 1024 for v in token.values()):
        raise InvalidContinuation()
    return token


class TableFindingsStore(HistoryQueries):
    """Findings in Table Storage (ARCHITECTURE 4.6): reconcile, history, notify state, queries."""

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

    @classmethod
    def from_connection_string(cls, connection_string: str, **client_options: Any) -> TableFindingsStore:
        return cls(StorageConnection.from_connection_string(connection_string, **client_options))

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

    def _load_partition(self, pk: str) -> dict[str, _Row]:
        with storage_call("query", FINDINGS_TABLE):
            entities = list(self.findings_table.query_entities("PartitionKey eq @pk", parameters={"pk": pk}))
        return {e["RowKey"]: self._row(e) for e in entities}

    def _load_one(self, pk: str, finding_id: str) -> _Row | None:
        from azure.core.exceptions import ResourceNotFoundError

        with storage_call("get", FINDINGS_TABLE):
            try:
                return self._row(self.findings_table.get_entity(pk, finding_id))
            except ResourceNotFoundError:
                return None

    # ---------------------------------------------------------------- reconcile

    def _apply(self, pk: str, finding_id: str, stored: _Row | None, new: Finding | None, *,
               evaluated_rules: frozenset[str] | None, now: datetime, source: str,
               attribution: Attributor | None = None,
               not_applicable: Iterable[NotApplicable] = (), reason: str | None = None,
               counts: CounterSession | None = None) -> Transition | None:
        """Decide and write one finding; on a lost conditional write reload and decide again.

        `reason` goes into the history of the transition (e.g. "workspace deleted"); `counts` is told
        before a write that changes what the summary counts."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        not_applicable = tuple(not_applicable)
        for _ in range(MAX_CONFLICT_RETRIES):
            na = None
            if new is None and stored is not None:
                na = next((n for n in not_applicable
                           if n.covers(stored.finding.rule_id, stored.finding.subject)), None)
            merged, kind = decide(stored.finding if stored else None, new, evaluated_rules=evaluated_rules, now=now,
                                  source=source, attribution=attribution, not_applicable=na is not None)
            if merged is None:
                return None
            if stored is None:
                row = _Row(merged, "", 1, "pending", None, None, kind, now)
            else:
                row = _Row(merged, stored.etag, stored.seq, stored.notify_state, stored.notified_at,
                           stored.notify_error, stored.last_transition, stored.last_transition_at,
                           list(stored.outbox))
                if kind is not None:
                    row.seq += 1
                    row.notify_state, row.notify_error = "pending", None
                    row.last_transition, row.last_transition_at = kind, now
            transition = None
            if kind is not None:
                transition = Transition(kind, now, merged, reason=na.reason if na is not None else reason)
                row.outbox.append(outbox_entry(transition, row.seq))
            entity = self._entity(row)
            counted = counts is not None and counted_change(stored.finding if stored else None, merged)
            if counts is not None and counted:
                counts.before_change()
            with storage_call("write", FINDINGS_TABLE):
                try:
                    if stored is None:
                        self.findings_table.create_entity(entity)
                    else:
                        self.findings_table.update_entity(entity, mode=UpdateMode.REPLACE, etag=stored.etag,
                                                          match_condition=MatchConditions.IfNotModified)
                    won = True
                except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                    won = False
            if not won:
                stored = self._load_one(pk, finding_id)  # someone else won: redo the decision on fresh data
                continue
            if counts is not None and counted:
                counts.written(stored.finding if stored else None, merged)
            if transition is None:
                return None
            crash_point("after-finding-write")
            self._append_history(transition, row.seq)
            return transition
        raise RuntimeError(f"finding {finding_id}: gave up after {MAX_CONFLICT_RETRIES} write conflicts")

    def _append_history(self, t: Transition, seq: int) -> None:
        """Append-only: create, never update. A duplicate key (a replayed write) is left as it was."""
        from azure.core.exceptions import ResourceExistsError

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
        with storage_call("append", HISTORY_TABLE), contextlib.suppress(ResourceExistsError):
            self.history_table.create_entity(entity)
        crash_point("between-history-rows")
        index_entity = workspace_index_entity(entity, t.finding, seq)
        with storage_call("append", HISTORY_TABLE), contextlib.suppress(ResourceExistsError):
            self.history_table.create_entity(index_entity)

    def reconcile(self, evaluation_findings: list[Finding], *, resource_id: str, evaluated_rules: frozenset[str],
                  now: datetime, source: str, attribution: Attributor | None = None,
                  not_applicable: Iterable[NotApplicable] = (), checked_rules: frozenset[str] | None = None,
                  baseline_sha256: str | None = None,
                  coverage_scope: frozenset[str] | None = None) -> list[Transition]:
        """Bring the workspace's stored findings in line with one evaluation; return the transitions.

        Absent findings resolve only when their rule is in `evaluated_rules` (observed this time), or when
        `not_applicable` says the rule (or that subject of it) cannot apply to this workspace: that is an
        observation too (e.g. `computeMode: Serverless`), and the reason goes into the history.
        `attribution(rule_id)` names the change behind a transition (event-driven scans).
        `checked_rules` (rules actually checked: observed, applicable, enabled) is recorded as the
        workspace's coverage, which controls need to tell "pass" from "not evaluated"; a scan of only some
        families (`coverage_scope`: the rules it could have checked) updates only that part of it.
        """
        not_applicable = tuple(not_applicable)
        if checked_rules is not None:
            record_coverage(self, resource_id, checked_rules, utc(now), baseline_sha256, scope=coverage_scope)
        now = utc(now)
        pk = resource_key(resource_id)
        for f in evaluation_findings:
            if resource_key(f.resource_id) != pk:
                raise ValueError(f"finding {f.id} belongs to {f.resource_id}, not {resource_id}")
        new = {f.id: f for f in evaluation_findings}
        stored = self._load_partition(pk)
        out: list[Transition] = []
        counts = self.counters.session(pk)
        try:
            for fid in sorted(set(new) | set(stored)):
                t = self._apply(pk, fid, stored.get(fid), new.get(fid), evaluated_rules=evaluated_rules,
                                now=now, source=source, attribution=attribution, not_applicable=not_applicable,
                                counts=counts)
                if t is not None:
                    out.append(t)
        finally:
            counts.close()
        return out

    def resolve_workspace(self, resource_id: str, now: datetime, source: str,
                          attribution: Attributor | None = None, reason: str | None = None) -> list[Transition]:
        """The workspace was deleted: resolve all its open and exempted findings (`reason` in their history)."""
        now = utc(now)
        pk = resource_key(resource_id)
        out: list[Transition] = []
        counts = self.counters.session(pk)
        try:
            for fid, row in sorted(self._load_partition(pk).items()):
                t = self._apply(pk, fid, row, None, evaluated_rules=None, now=now, source=source,
                                attribution=attribution, reason=reason, counts=counts)
                if t is not None:
                    out.append(t)
        finally:
            counts.close()
        return out

    def import_findings(self, findings: Iterable[Finding]) -> int:
        """Bulk-load findings as they are (seeding, restores, benchmarks): no transitions, no history.

        Entity-group transactions of up to 100 upserts per workspace partition.
        """
        from azure.data.tables import UpdateMode

        by_pk: dict[str, list[dict[str, Any]]] = {}
        for f in findings:
            row = _Row(f, "", 0, None, None, None, None, None)
            by_pk.setdefault(resource_key(f.resource_id), []).append(self._entity(row))
        n = 0
        for pk, entities in by_pk.items():
            counts = self.counters.session(pk, blind=True)
            counts.before_change()
            try:
                with storage_call("import", FINDINGS_TABLE):
                    for i in range(0, len(entities), 100):
                        batch = entities[i:i + 100]
                        self.findings_table.submit_transaction([("upsert", e, {"mode": UpdateMode.REPLACE})
                                                                for e in batch])
                        n += len(batch)
            finally:
                counts.close()
        return n

    # ---------------------------------------------------------------- notifications

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

    def _replace_batched(self, pk: str, ids: Iterable[str], change: Callable[[_Row], bool]) -> tuple[int, list[str]]:
        """Apply `change` to rows of one partition: one read, one ETag-checked transaction per 100 rows.

        `change` edits a row in place and says whether it should be written. Returns (rows written, ids to
        decide again one at a time): a transaction is all or nothing, so when any row of it changed or went
        since the read, none of it is written and the caller's one-by-one path decides those rows afresh."""
        from azure.core import MatchConditions
        from azure.data.tables import TableTransactionError, UpdateMode

        rows = self._load_partition(pk)
        wanted = [rows[fid] for fid in dict.fromkeys(ids) if fid in rows and change(rows[fid])]
        written, retry = 0, []
        for i in range(0, len(wanted), 100):
            chunk = wanted[i:i + 100]
            ops = [("update", self._entity(r), {"mode": UpdateMode.REPLACE, "etag": r.etag,
                                                "match_condition": MatchConditions.IfNotModified}) for r in chunk]
            with storage_call("write", FINDINGS_TABLE):
                try:
                    self.findings_table.submit_transaction(ops)
                except TableTransactionError as exc:
                    if exc.status_code not in (404, 412):  # only "changed or gone since read" is decided again
                        raise
                    retry += [r.finding.id for r in chunk]
                    continue
            written += len(chunk)
        return written, retry

    def _set_notify_batched(self, pk: str, ids: list[str], state: NotifyState, *, at: datetime | None,
                            error: str | None, recorded_before: datetime | None) -> tuple[int, list[str]]:
        """A digest marks its whole burst at once (see `_replace_batched`)."""
        def change(row: _Row) -> bool:
            if row.notify_state not in ("pending", "failed"):
                return False
            if recorded_before is not None and row.last_transition_at and row.last_transition_at > utc(recorded_before):
                return False  # a newer transition arrived after the digest was built: keep it pending
            row.notify_state, row.notify_error = state, error
            if at is not None:
                row.notified_at = utc(at)
            return True

        return self._replace_batched(pk, ids, change)

    def _set_notify(self, finding_ids: Iterable[str], state: NotifyState, *, at: datetime | None,
                    error: str | None, resource_id: str | None, recorded_before: datetime | None) -> int:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        ids = list(dict.fromkeys(finding_ids))
        changed = 0
        if resource_id and len(ids) > 1:
            changed, ids = self._set_notify_batched(resource_key(resource_id), ids, state, at=at, error=error,
                                                    recorded_before=recorded_before)
        for fid in ids:
            pk = resource_key(resource_id) if resource_id else self._locate(fid)
            if pk is None:
                continue
            for _ in range(MAX_CONFLICT_RETRIES):
                row = self._load_one(pk, fid)
                if row is None or row.notify_state not in ("pending", "failed"):
                    break
                if recorded_before is not None and row.last_transition_at and row.last_transition_at > utc(
                        recorded_before):
                    break  # a newer transition arrived after the digest was built: keep it pending
                row.notify_state, row.notify_error = state, error
                if at is not None:
                    row.notified_at = utc(at)
                with storage_call("write", FINDINGS_TABLE):
                    try:
                        self.findings_table.update_entity(self._entity(row), mode=UpdateMode.REPLACE, etag=row.etag,
                                                          match_condition=MatchConditions.IfNotModified)
                        won = True
                    except (ResourceModifiedError, ResourceNotFoundError):
                        won = False
                if not won:
                    continue
                changed += 1
                break
        return changed

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

    def claim_notify_lock(self, resource_id: str, owner: str, ttl_s: float, *, now: datetime | None = None) -> bool:
        """Claim the workspace's digest lock; True for exactly one claimant until it expires or is released."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        now = utc(now or datetime.now(UTC))
        key = resource_key(resource_id)
        entity = {"PartitionKey": LOCK_PARTITION, "RowKey": key, "owner": owner,
                  "expires_at": now + timedelta(seconds=ttl_s)}
        with storage_call("lock", SCANS_TABLE):
            try:
                current = self._locks.get_entity(LOCK_PARTITION, key)
            except ResourceNotFoundError:
                try:
                    self._locks.create_entity(entity)
                    return True
                except ResourceExistsError:
                    return False
            expires = current.get("expires_at")
            if current.get("owner") != owner and isinstance(expires, datetime) and utc(expires) > now:
                return False
            try:
                self._locks.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                          match_condition=MatchConditions.IfNotModified)
                return True
            except (ResourceModifiedError, ResourceNotFoundError):
                return False

    def release_notify_lock(self, resource_id: str, owner: str) -> bool:
        """Release the lock if `owner` still holds it (ETag-checked so a new holder is never evicted)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        with storage_call("unlock", SCANS_TABLE):
            try:
                current = self._locks.get_entity(LOCK_PARTITION, resource_key(resource_id))
            except ResourceNotFoundError:
                return False
            if current.get("owner") != owner:
                return False
            try:
                self._locks.delete_entity(LOCK_PARTITION, resource_key(resource_id), etag=current.metadata["etag"],
                                          match_condition=MatchConditions.IfNotModified)
                return True
            except (ResourceModifiedError, ResourceNotFoundError):
                return False

    # ---------------------------------------------------------------- outbox

    def outbox_delivered(self, transitions: Iterable[Transition]) -> int:
        """Clear delivered transitions from their rows' outbox (ETag-checked; a newer write keeps its own).

        Returns how many rows were written. A scan's transitions share the workspace's partition, so they are
        cleared in one read and one transaction per 100 rows; a lone row (or one that changed since the
        read) is cleared by itself."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError
        from azure.data.tables import UpdateMode

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
            for _ in range(MAX_CONFLICT_RETRIES):
                row = self._load_one(pk, fid)
                if row is None or not any(o.get("id") == tid for o in row.outbox):
                    break
                row.outbox = [o for o in row.outbox if o.get("id") != tid]
                with storage_call("write", FINDINGS_TABLE):
                    try:
                        self.findings_table.update_entity(self._entity(row), mode=UpdateMode.REPLACE, etag=row.etag,
                                                          match_condition=MatchConditions.IfNotModified)
                    except ResourceModifiedError:
                        continue
                cleared += 1
                break
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

    def workspaces_with_findings(self) -> dict[str, str]:
        """`arm_fold`ed id -> ARM id of every resource with an open or exempted finding (one query).

        What the sweep checks against its listing to find workspaces whose delete event was lost."""
        with storage_call("query", FINDINGS_TABLE):
            entities = list(self.findings_table.query_entities("status eq 'open' or status eq 'exempted'"))
        out: dict[str, str] = {}
        for e in entities:
            rid = str(get_json(e, "finding").get("resource_id") or e.get("resource_id") or "")
            if rid:
                out.setdefault(arm_fold(rid), rid)
        return out

    # ---------------------------------------------------------------- queries

    @staticmethod
    def _filter(status: str | None, severity: str | None, rule: str | None, workspace: str | None,
                subscription: str | None, since: datetime | None) -> tuple[str, dict[str, Any]]:
        """An OData filter with bound parameters only: user input never becomes filter syntax."""
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if status is not None:
            if status not in STATUSES:
                raise InvalidQuery("status", f"status must be one of {', '.join(STATUSES)}")
            clauses.append("status eq @status")
            params["status"] = status
        if severity is not None:
            if severity not in SEVERITIES:
                raise InvalidQuery("severity", f"severity must be one of {', '.join(SEVERITIES)}")
            clauses.append("severity eq @severity")
            params["severity"] = severity
        if rule is not None:
            if not RULE_RE.match(rule):
                raise InvalidQuery("rule", "rule must look like DBX-XXX-000")
            clauses.append("rule_id eq @rule")
            params["rule"] = rule
        if workspace is not None:
            ws = workspace.strip()
            if not ws or len(ws) > 1024:
                raise InvalidQuery("workspace", "workspace must be a workspace ARM id or name")
            if "/" in ws:
                clauses.append("PartitionKey eq @wspk")
                params["wspk"] = resource_key(ws)
            else:
                clauses.append("workspace_name_lc eq @wsname")
                params["wsname"] = arm_fold(ws)
        if subscription is not None:
            sub = arm_fold(subscription)
            if not sub or len(sub) > 128:
                raise InvalidQuery("subscription", "subscription must be a subscription id")
            clauses.append("subscription_id eq @sub")
            params["sub"] = sub
        if since is not None:
            clauses.append("last_seen ge @since")
            params["since"] = utc(since)
        return " and ".join(clauses), params

    def query(self, status: str | None = None, severity: str | None = None, rule: str | None = None,
              workspace: str | None = None, subscription: str | None = None, since: datetime | None = None,
              top: int = 100, continuation: str | None = None) -> tuple[list[Finding], str | None]:
        """One page of findings matching all given filters, and an opaque token for the next page."""
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 1000:
            raise InvalidQuery("top", "top must be an integer from 1 to 1000")
        flt, params = self._filter(status, severity, rule, workspace, subscription, since)
        qhash = hashlib.sha256(json.dumps([flt, {k: str(v) for k, v in params.items()}],
                                          sort_keys=True).encode()).hexdigest()[:16]
        token = _decode_token(continuation, qhash) if continuation else None
        found: list[Finding] = []
        with storage_call("query", FINDINGS_TABLE):
            while True:
                if flt:
                    pager = self.findings_table.query_entities(flt, parameters=params, results_per_page=top)
                else:
                    pager = self.findings_table.list_entities(results_per_page=top)
                pages = pager.by_page(continuation_token=token)  # type: ignore[arg-type]  # tables use a dict
                page = next(pages, None)
                found = [Finding.from_json_dict(get_json(e, "finding")) for e in (page or [])]
                token = getattr(pages, "continuation_token", None)
                if found or not token:  # the service may return an empty page with a token: keep going
                    break
        return found, (_encode_token(token, qhash) if token else None)

    def export(self, status: str | None = None, severity: str | None = None, rule: str | None = None,
               workspace: str | None = None, subscription: str | None = None,
               since: datetime | None = None) -> Iterator[Finding]:
        """Every matching finding, page by page (for CSV/JSON exports)."""
        token: str | None = None
        while True:
            page, token = self.query(status, severity, rule, workspace, subscription, since, top=1000,
                                     continuation=token)
            yield from page
            if token is None:
                return

    def get(self, finding_id: str) -> tuple[Finding, list[Transition]]:
        """A finding and its history, oldest first."""
        if not FINDING_ID_RE.match(finding_id or ""):
            raise FindingNotFound(finding_id)
        with storage_call("query", HISTORY_TABLE):
            hist = list(self.history_table.query_entities("PartitionKey eq @id", parameters={"id": finding_id}))
        history = [Transition.from_message(get_json(e, "message")) for e in sorted(hist, key=lambda e: e["RowKey"])]
        pk = resource_key(hist[0]["resource_id"]) if hist else self._locate(finding_id)
        row = self._load_one(pk, finding_id) if pk else None
        if row is None:
            raise FindingNotFound(finding_id)
        return row.finding, history

    def history(self, finding_id: str) -> list[Transition]:
        return self.get(finding_id)[1]

    def open_counts(self, resource_id: str) -> tuple[dict[str, int], int]:
        """One workspace's standing now: open findings by severity, and how many are exempted
        (a Teams card states it after each change)."""
        by_severity: Counter[str] = Counter()
        exempted = 0
        with storage_call("query", FINDINGS_TABLE):
            pk = resource_key(resource_id)
            for e in self.findings_table.query_entities("PartitionKey eq @pk", parameters={"pk": pk},
                                                        select=["status", "severity"]):
                if e.get("status") == "open":
                    by_severity[str(e.get("severity"))] += 1
                elif e.get("status") == "exempted":
                    exempted += 1
        return {s: by_severity[s] for s in SEVERITIES}, exempted

    def summary(self) -> dict[str, Any]:
        """Counts by status, severity, rule and workspace, from the maintained counters; when they cannot be
        trusted (never built, a row missing or unreadable) counted from the findings table, with a warning."""
        import logging

        try:
            return self.counters.read()
        except CountersUnavailable as exc:
            logging.getLogger(__name__).warning("%s: counting from the findings table instead "
                                                "(run `driftwatch findings rebuild-summary`)", exc)
        return self.summary_by_scan()

    def summary_by_scan(self) -> dict[str, Any]:
        """The summary counted over the whole findings table (what the counters must equal)."""
        by_status: Counter[str] = Counter()
        by_severity: Counter[str] = Counter()
        by_rule: Counter[str] = Counter()
        by_workspace: Counter[str] = Counter()
        open_by_severity: Counter[str] = Counter()
        with storage_call("query", FINDINGS_TABLE):
            for e in self.findings_table.list_entities(select=["status", "severity", "rule_id", "resource_id"]):
                by_status[e["status"]] += 1
                by_severity[e["severity"]] += 1
                by_rule[e["rule_id"]] += 1
                by_workspace[e["resource_id"]] += 1
                if e["status"] == "open":
                    open_by_severity[e["severity"]] += 1
        return {
            "schema": "driftwatch.findings-summary/v1",
            "total": sum(by_status.values()),
            "by_status": {s: by_status[s] for s in STATUSES},
            "by_severity": {s: by_severity[s] for s in SEVERITIES},
            "open_by_severity": {s: open_by_severity[s] for s in SEVERITIES},
            "by_rule": dict(sorted(by_rule.items())),
            "by_workspace": dict(sorted(by_workspace.items())),
        }

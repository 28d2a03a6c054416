"""The findings store: `TableFindingsStore` (the façade over its job modules) and reconcile.

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

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.findings.lifecycle import decide
from core.findings.model import Attributor, Finding
from core.findings.transition import Transition
from core.rules.registry import NotApplicable
from core.store import background
from core.store.checkpoints import checkpoint_if_due
from core.store.connection import FINDINGS_TABLE, StorageConnection, storage_call
from core.store.etag import Write, conditional_update, replace_all
from core.store.history import HistoryQueries, record_coverage
from core.store.keys import resource_key, utc
from core.store.leases import NotifyLocks
from core.store.notify_state import NotifyBookkeeping
from core.store.outbox import Outbox, crash_point, outbox_entry
from core.store.queries import FindingQueries
from core.store.rows import FindingRows, _Row
from core.store.summary import CounterSession, counted_change

__all__ = ["TableFindingsStore", "Transition"]


@dataclass
class _Decision:
    """What one winning write of `_apply` did: the row written, on which stored row, and its transition."""

    stored: _Row | None
    merged: Finding
    row: _Row
    transition: Transition | None
    counted: bool


HISTORY_APPENDS_AT_ONCE = 4
"""Transitions whose history rows one reconcile appends at once (two requests each, then one)."""


class TableFindingsStore(FindingQueries, NotifyBookkeeping, NotifyLocks, Outbox, FindingRows, HistoryQueries):
    """Findings in Table Storage (ARCHITECTURE 4.6): reconcile, history, notify state, queries.

    The jobs live in their own modules and are mixed in here: rows and tables (core/store/rows.py),
    queries (queries.py), notify bookkeeping (notify_state.py), the digest lock (leases.py), the outbox
    and history append (outbox.py), history reads (history.py); every write goes through core/store/etag.py.
    """

    @classmethod
    def from_connection_string(cls, connection_string: str, **client_options: Any) -> TableFindingsStore:
        return cls(StorageConnection.from_connection_string(connection_string, **client_options))

    # ---------------------------------------------------------------- reconcile

    def _apply(self, pk: str, finding_id: str, stored: _Row | None, new: Finding | None, *,
               evaluated_rules: frozenset[str] | None, now: datetime, source: str,
               attribution: Attributor | None = None,
               not_applicable: Iterable[NotApplicable] = (), reason: str | None = None,
               counts: CounterSession | None = None,
               history: list[tuple[Transition, int]] | None = None) -> Transition | None:
        """Decide and write one finding; on a lost conditional write reload and decide again.

        `reason` goes into the history of the transition (e.g. "workspace deleted"); `counts` is told
        before a write that changes what the summary counts. The transition's history rows are appended
        here, or, given `history`, left there for the caller (`_deliver_history`): its outbox entry, written
        with the change, keeps them owed until then."""
        not_applicable = tuple(not_applicable)

        def decide_row(stored: _Row | None) -> Write[_Decision] | None:
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
            counted = counts is not None and counted_change(stored.finding if stored else None, merged)
            if counts is not None and counted:
                counts.before_change()
            return Write(self._entity(row), stored.etag if stored else None,
                         _Decision(stored, merged, row, transition, counted))

        won = conditional_update(self.findings_table, FINDINGS_TABLE, state=stored,
                                 reload=lambda: self._load_one(pk, finding_id), decide=decide_row,
                                 what=f"finding {finding_id}")
        if won is None:
            return None
        if counts is not None and won.counted:
            counts.written(won.stored.finding if won.stored else None, won.merged)
        if won.transition is None:
            return None
        crash_point("after-finding-write")
        if history is None:
            self._append_history(won.transition, won.row.seq)
        else:
            history.append((won.transition, won.row.seq))
        return won.transition

    def _quiet_refreshes(self, stored: dict[str, _Row], new: dict[str, Finding], *,
                         evaluated_rules: frozenset[str] | None, now: datetime, source: str) -> list[Write[str]]:
        """The findings that are still there and change nothing counted (only `last_seen` and the like
        move): written together by `_refresh_unchanged` instead of one request each."""
        quiet: list[Write[str]] = []
        for fid, f in new.items():
            row = stored.get(fid)
            if row is None:
                continue
            merged, kind = decide(row.finding, f, evaluated_rules=evaluated_rules, now=now, source=source)
            if merged is None or kind is not None or counted_change(row.finding, merged):
                continue
            fresh = _Row(merged, row.etag, row.seq, row.notify_state, row.notified_at, row.notify_error,
                         row.last_transition, row.last_transition_at, list(row.outbox))
            quiet.append(Write(self._entity(fresh), row.etag, fid))
        return quiet

    def _refresh_unchanged(self, quiet: list[Write[str]]) -> set[str]:
        """Write the quiet refreshes in one ETag-checked transaction per 100 rows.

        A sweep of a stable estate is almost only such rows. Returns the ids written; a transaction that
        fails because a row changed since the read writes none of its rows, and those go through `_apply`
        one by one (which reloads and decides again), exactly as before."""
        written: set[str] = set()
        for i in range(0, len(quiet), 100):
            done = replace_all(self.findings_table, FINDINGS_TABLE, quiet[i:i + 100])
            written.update(done or ())
        return written

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
        pk = resource_key(resource_id)
        for f in evaluation_findings:
            if resource_key(f.resource_id) != pk:
                raise ValueError(f"finding {f.id} belongs to {f.resource_id}, not {resource_id}")
        # The coverage is read (and written when it changed) while the partition loads; it is on the
        # store before any finding is written, as when the two ran one after the other.
        now = utc(now)
        coverage = (background.start(functools.partial(record_coverage, self, resource_id, checked_rules, now,
                                                       baseline_sha256, scope=coverage_scope))
                    if checked_rules is not None else None)
        # An event-driven scan usually changes something: what registering a counted change reads is read
        # beside the partition too (a sweep of a stable estate changes nothing, so it reads it only if needed).
        counting = self.counters.prefetch(pk, now) if source == "event" else None
        try:
            new = {f.id: f for f in evaluation_findings}
            stored = self._load_partition(pk)
        finally:
            if coverage is not None:
                coverage.result()
        out: list[Transition] = []
        history: list[tuple[Transition, int]] = []
        counts = self.counters.session(pk, prefetched=counting)
        try:
            quiet = self._quiet_refreshes(stored, new, evaluated_rules=evaluated_rules, now=now, source=source)
            # The quiet rows and the others are disjoint, so their writes do not wait for each other; a quiet
            # row whose transaction lost (the row changed since the read) is decided again afterwards.
            refreshing = background.start(functools.partial(self._refresh_unchanged, quiet)) if quiet else None
            first = sorted((set(new) | set(stored)) - {w.result for w in quiet})
            try:
                self._apply_all(pk, first, stored, new, out, evaluated_rules=evaluated_rules, now=now,
                                source=source, attribution=attribution, not_applicable=not_applicable,
                                counts=counts, history=history)
            finally:
                refreshed = refreshing.result() if refreshing is not None else set()
            lost = sorted({w.result for w in quiet} - refreshed)
            self._apply_all(pk, lost, stored, new, out, evaluated_rules=evaluated_rules, now=now,
                            source=source, attribution=attribution, not_applicable=not_applicable, counts=counts,
                            history=history)
            out.sort(key=lambda t: t.finding.id)  # one per finding: the order of deciding them one by one
        finally:
            self._deliver_history(history, counts)
        before = sum(r.seq for r in stored.values())  # every N transitions: a history checkpoint (history.py)
        checkpoint_if_due(self, resource_id, transitions_before=before, transitions_after=before + len(out),
                          findings=len(set(new) | set(stored)), now=now)
        return out

    def _deliver_history(self, history: list[tuple[Transition, int]], counts: CounterSession) -> None:
        """Every counted write of the reconcile is done: publish the summary counters while the history rows
        of its transitions are appended (they do not depend on each other; event latency is the longer of
        the two, not their sum). Each transition's rows keep their order (`_append_history`); different
        findings' rows are appended a few at once (a first sweep opens dozens per workspace: unbounded, they
        would overrun the client's connection pool)."""
        if not history:
            counts.close()
            return
        publishing = background.start(counts.close)
        try:
            if len(history) == 1:
                self._append_history(*history[0])
            else:
                for i in range(0, len(history), HISTORY_APPENDS_AT_ONCE):
                    for appending in [background.start(functools.partial(self._append_history, t, seq))
                                      for t, seq in history[i:i + HISTORY_APPENDS_AT_ONCE]]:
                        appending.result()
        finally:
            publishing.result()

    def _apply_all(self, pk: str, ids: list[str], stored: dict[str, _Row], new: dict[str, Finding],
                   out: list[Transition], **kw: Any) -> None:
        """`_apply` each of `ids` in turn, collecting the transitions into `out`."""
        for fid in ids:
            t = self._apply(pk, fid, stored.get(fid), new.get(fid), **kw)
            if t is not None:
                out.append(t)

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

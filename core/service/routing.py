"""Routing: Event Grid deliveries and Databricks audit records -> one coalesced scan request per workspace."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.arm_ids import arm_fold
from core.events import RoutingDecision, route_delivery
from core.findings.model import ChangeAttribution
from core.service.messages import ChangeRecord, ScanRequest
from core.service.runtime import Runtime

log = logging.getLogger("driftwatch")


@dataclass
class _Work:
    """What one workspace's scan must cover: the events folded into it, the families and who changed what."""

    workspace_id: str
    event_ids: list[str] = field(default_factory=list)
    families: frozenset[str] | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EventOutcome:
    decisions: list[RoutingDecision]
    enqueued: list[str] = field(default_factory=list)
    coalesced: list[str] = field(default_factory=list)


@dataclass
class AuditOutcome:
    decisions: list[Any]
    counts: dict[str, int]
    enqueued: list[str] = field(default_factory=list)
    coalesced: list[str] = field(default_factory=list)


def _change_record(attribution: ChangeAttribution | None, families: list[str] | None, at: str | None,
                   event_id: str | None) -> dict[str, Any] | None:
    if attribution is None:
        return None
    return ChangeRecord.of(attribution, families, at, event_id).model_dump(mode="json", exclude_none=True)


def _enqueue_coalesced(rt: Runtime, work: dict[str, _Work], now: datetime,
                       outcome: EventOutcome | AuditOutcome) -> None:
    """One claim per workspace; the claimer enqueues the scan, everyone else folds into the pending one."""
    from core.store.pending import merge_changes

    pending, queues = rt.pending(), rt.queues()
    for w in work.values():
        # A delete also goes through a scan: the worker checks the workspace is really gone, so a stale
        # delete delivered after a re-create cannot resolve live findings.
        changes = merge_changes(w.changes)
        delay = pending.claim(w.workspace_id, now, families=w.families, changes=changes)
        if delay is None:
            outcome.coalesced.append(w.workspace_id)
            continue
        req = ScanRequest(workspace_id=w.workspace_id, source="event", requested_at=now, coalesced=True,
                          event_ids=[e for e in w.event_ids if e][:50],
                          families=None if w.families is None else sorted(w.families),
                          changes=[ChangeRecord.model_validate(c) for c in changes])
        try:
            queues.send_scan_request(req.body(), visibility_timeout=delay)
        except Exception:
            # The marker may only suppress a scan that is really queued: give the claim up, so Event
            # Grid's retry of this delivery claims again and sends.
            with contextlib.suppress(Exception):
                pending.abandon(w.workspace_id, now)
            raise
        pending.queued(w.workspace_id, delay, now)
        outcome.enqueued.append(w.workspace_id)


def handle_events(rt: Runtime, payload: Any, now: datetime | None = None) -> EventOutcome:
    """Route a delivery; enqueue one coalesced scan request per affected workspace."""
    now = now or datetime.now(UTC)
    decisions = route_delivery(payload, rt.topology())
    outcome = EventOutcome(decisions=decisions)
    work: dict[str, _Work] = {}
    for d in decisions:
        if d.action in ("scan", "resolve"):
            change = _change_record(d.attribution, d.attribution_families, d.event_time, d.event_id)
            for ws in d.workspaces:
                w = work.setdefault(arm_fold(ws), _Work(ws))
                w.event_ids.append(d.event_id or "")
                if change:
                    w.changes.append(change)
        elif d.action == "reject":
            log.warning("rejected event %s: %s", d.event_id, d.reason)
    _enqueue_coalesced(rt, work, now, outcome)
    return outcome


def handle_audit(rt: Runtime, bodies: Iterable[Any], now: datetime | None = None) -> AuditOutcome:
    """Databricks audit records (Event Hubs bodies) -> one coalesced scan of the affected families per workspace."""
    from core.events.audit import route_audit_batch
    from core.store.pending import merge_families

    now = now or datetime.now(UTC)
    routing = route_audit_batch(bodies)
    outcome = AuditOutcome(decisions=routing.decisions, counts=dict(routing.counts))
    monitored = {arm_fold(sub) for sub in rt.settings.subscriptions}
    work: dict[str, _Work] = {}
    for d in routing.decisions:
        if d.action == "scan" and monitored and arm_fold(d.workspaces[0].split("/")[2]) not in monitored:
            # Any workspace can be pointed at the hub; only DRIFTWATCH_SUBSCRIPTIONS are watched.
            outcome.counts["unmonitored"] = outcome.counts.get("unmonitored", 0) + 1
            continue
        if d.action == "scan":
            ws = d.workspaces[0]
            key = arm_fold(ws)
            prev = work.get(key)
            w = prev or _Work(ws, families=frozenset(d.families))
            if prev is not None:
                w.families = merge_families(prev.families, frozenset(d.families))
            w.event_ids.append(d.event_id or "")
            change = _change_record(d.attribution, d.families, d.event_time, d.event_id)
            if change:
                w.changes.append(change)
            work[key] = w
        elif d.action == "reject":
            log.warning("rejected audit record %s: %s", d.event_id, d.reason[:300])
    _enqueue_coalesced(rt, work, now, outcome)
    return outcome


def parse_event_grid_binding(events: Iterable[Any]) -> list[dict[str, Any]]:
    """azure.functions.EventGridEvent objects back into Event Grid schema dicts for the router."""
    out = []
    for ev in events:
        try:
            data = ev.get_json()
        except ValueError:
            data = None
        out.append({"id": ev.id, "eventType": ev.event_type, "subject": ev.subject, "topic": ev.topic,
                    "eventTime": ev.event_time.isoformat() if ev.event_time else None,
                    "dataVersion": ev.data_version, "data": data})
    return out

"""The imperative shell shared by the Functions and the CLI: route, sweep, scan, reconcile, notify.

`functions/` only parses bindings and calls these; `core/cli/` calls the same code paths, so what
the demo and the tests exercise is what runs in Azure.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.arm_ids import arm_fold, same_arm_id
from core.baseline.load import Baseline, load_baseline
from core.collect import CollectConfig, EstateCollector
from core.collect.arm import ArmReader, ArmReadError
from core.collect.collector import Skipped
from core.events import RoutingDecision, route_delivery
from core.findings.model import ChangeAttribution, Source
from core.rules import evaluate_workspace, read_plan
from core.settings import Settings, load_settings
from core.state.footprint import footprint, subnet_ids, subnet_users
from core.state.lifecycle import SETTLE_RECHECKS_S, not_settled_reason
from core.state.model import WorkspaceArm
from core.state.parse import StateError, parse_workspace_arm
from core.store.poison import keep_rejected

log = logging.getLogger("driftwatch")

SCAN_REQUEST_SCHEMA = "driftwatch.scan-request/v1"
COALESCE_WINDOW_S = 10
"""Minimum gap between two event-driven scans of one workspace (see core/store/pending.py)."""
MAX_DEQUEUE_COUNT = 5
"""host.json `extensions.queues.maxDequeueCount` (a test keeps the two equal)."""
MAX_EMBEDDED_DOC_CHARS = 40_000
"""Queue messages are at most 64 KB after base64; bigger workspace documents are re-read instead."""


class ChangeRecord(BaseModel):
    """One change folded into a scan: attribution plus the families it can explain (None = any)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(default=None, max_length=256)
    at: str | None = Field(default=None, max_length=64)
    families: list[str] | None = Field(default=None, max_length=32)
    changed_by: str | None = Field(default=None, max_length=256)
    changed_from: str | None = Field(default=None, max_length=64)
    summary: str | None = Field(default=None, max_length=200)

    def attribution(self) -> ChangeAttribution:
        return ChangeAttribution(changed_by=self.changed_by, changed_from=self.changed_from,
                                 change_event_id=self.event_id, change_summary=self.summary)


class ScanRequest(BaseModel):
    """A `scan-requests` message: scan one workspace (sweep fan-out or coalesced event)."""

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["driftwatch.scan-request/v1"] = Field(default="driftwatch.scan-request/v1", alias="schema")
    workspace_id: str = Field(min_length=1, max_length=2048, pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/")
    source: Literal["event", "sweep", "cli"]
    requested_at: datetime
    scan_id: str | None = None
    coalesced: bool = False
    workspace: dict[str, Any] | None = None
    """The workspace document as the sweep listed it (saves a GET); absent for events."""
    event_ids: list[str] = Field(default_factory=list, max_length=50)
    subnet_users: dict[str, list[str]] | None = None
    """Lower subnet id -> workspaces injected into it, as the sweep saw the whole estate (saves lookups)."""
    families: list[str] | None = Field(default=None, max_length=32)
    """Rule families to scan (audit-driven scans); absent = every family."""
    changes: list[ChangeRecord] = Field(default_factory=list, max_length=20)
    """Who changed what (attribution for the findings this scan opens or resolves)."""
    settle_attempt: int = Field(default=0, ge=0, le=len(SETTLE_RECHECKS_S))
    """How many times this workspace was re-checked because an ARM operation on it was in flight."""

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


OUTBOX_REDRIVE_AFTER_S = 180.0
"""The sweep re-sends transitions still in a finding row's outbox after this long (their writer died
between the table write and the queue send): delivery is at-least-once, never lost."""


@dataclass
class Runtime:
    """Everything one process needs, built once from the app settings (cold start stays cheap)."""

    settings: Settings
    collect: CollectConfig
    baseline_path: str
    coalesce_window_s: int = COALESCE_WINDOW_S
    outbox_redrive_after_s: float = OUTBOX_REDRIVE_AFTER_S
    settle_delays_s: tuple[int, ...] = SETTLE_RECHECKS_S
    """Visibility delays of the re-checks of a workspace that is not settled (core/state/lifecycle.py)."""
    notifier_options: dict[str, Any] = field(default_factory=dict)
    _baseline: Baseline | None = None
    _connection: Any = None
    _arm: ArmReader | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        from core.collect.config import ConfigError
        from core.findings.model import SEVERITY_ORDER

        if settings.notify_min_severity not in SEVERITY_ORDER:
            raise ConfigError(f"DRIFTWATCH_NOTIFY_MIN_SEVERITY: expected one of {', '.join(SEVERITY_ORDER)}, "
                              f"got {settings.notify_min_severity!r}")
        if settings.public_api_url:
            from core.notify.teams import validate_public_api_url

            try:
                validate_public_api_url(settings.public_api_url, emulator_mode=settings.emulator_mode)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        path = settings.baseline or "baseline.yaml"
        if not os.path.isabs(path) and not os.path.exists(path):
            here = Path(__file__).resolve().parents[1] / path  # the Function App root
            path = str(here)
        return cls(settings=settings, collect=CollectConfig.from_settings(settings), baseline_path=path)

    @property
    def baseline(self) -> Baseline:
        if self._baseline is None:
            self._baseline = load_baseline(self.baseline_path)
        return self._baseline

    @property
    def connection(self) -> Any:
        with self._lock:
            if self._connection is None:
                from core.store import StorageConnection

                self._connection = StorageConnection.from_settings(self.settings)
                self._connection.ensure()
            return self._connection

    @property
    def arm(self) -> ArmReader:
        with self._lock:
            if self._arm is None:
                self._arm = ArmReader(self.collect)
            return self._arm

    def collector(self) -> EstateCollector:
        return EstateCollector(self.collect, self.baseline, arm=self.arm, plan=read_plan)

    def store(self) -> Any:
        from core.store import TableFindingsStore

        return TableFindingsStore(self.connection)

    def queues(self) -> Any:
        from core.store import QueueBus

        return QueueBus(self.connection)

    def topology(self) -> Any:
        from core.store import TopologyStore

        return TopologyStore(self.connection)

    def pending(self) -> Any:
        from core.store.pending import PendingScans

        return PendingScans(self.connection, window_s=self.coalesce_window_s)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """The process-wide runtime (Functions reuse it across invocations)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime.from_settings(load_settings())
        return _runtime


def reset_runtime(rt: Runtime | None = None) -> None:
    """Tests and the local host install their own runtime."""
    global _runtime
    with _runtime_lock:
        _runtime = rt


def decode_message(rt: Runtime, queue: str, raw: bytes) -> str | None:
    """The message text, or None when it is not UTF-8 (then it is kept in the poison queue)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reject_message(rt, queue, raw.decode("utf-8", errors="replace"), f"message is not UTF-8 ({exc.reason})")
        return None


def reject_message(rt: Runtime, queue: str, body: str, reason: str) -> None:
    """Keep a malformed message (nothing is lost) in `{queue}-poison` instead of retrying it forever."""
    log.error("rejected a malformed %s message: %s", queue, reason[:500])
    keep_rejected(rt.connection, queue, body, reason)


# -- Event Grid -------------------------------------------------------------------------------------

@dataclass
class EventOutcome:
    decisions: list[RoutingDecision]
    enqueued: list[str] = field(default_factory=list)
    coalesced: list[str] = field(default_factory=list)


def _change_record(attribution: ChangeAttribution | None, families: list[str] | None, at: str | None,
                   event_id: str | None) -> dict[str, Any] | None:
    if attribution is None:
        return None
    return ChangeRecord(event_id=event_id, at=at, families=families, changed_by=attribution.changed_by,
                        changed_from=attribution.changed_from, summary=attribution.change_summary
                        ).model_dump(mode="json", exclude_none=True)


def _enqueue_coalesced(rt: Runtime, work: dict[str, tuple[str, list[str], frozenset[str] | None, list[dict[str, Any]]]],
                       now: datetime, outcome: Any) -> None:
    """One claim per workspace; the claimer enqueues the scan, everyone else folds into the pending one."""
    from core.store.pending import merge_changes

    pending, queues = rt.pending(), rt.queues()
    for ws, event_ids, families, changes in work.values():
        # A delete also goes through a scan: the worker checks the workspace is really gone, so a stale
        # delete delivered after a re-create cannot resolve live findings.
        changes = merge_changes(changes)
        delay = pending.claim(ws, now, families=families, changes=changes)
        if delay is not None:
            req = ScanRequest(workspace_id=ws, source="event", requested_at=now, coalesced=True,
                              event_ids=[e for e in event_ids if e][:50],
                              families=None if families is None else sorted(families),
                              changes=[ChangeRecord.model_validate(c) for c in changes])
            try:
                queues.send_scan_request(req.body(), visibility_timeout=delay)
            except Exception:
                # The marker may only suppress a scan that is really queued: give the claim up, so Event
                # Grid's retry of this delivery claims again and sends.
                with contextlib.suppress(Exception):
                    pending.abandon(ws, now)
                raise
            pending.queued(ws, delay, now)
            outcome.enqueued.append(ws)
        else:
            outcome.coalesced.append(ws)


def handle_events(rt: Runtime, payload: Any, now: datetime | None = None) -> EventOutcome:
    """Route a delivery; enqueue one coalesced scan request per affected workspace."""
    now = now or datetime.now(UTC)
    decisions = route_delivery(payload, rt.topology())
    outcome = EventOutcome(decisions=decisions)
    work: dict[str, tuple[str, list[str], frozenset[str] | None, list[dict[str, Any]]]] = {}
    for d in decisions:
        if d.action in ("scan", "resolve"):
            change = _change_record(d.attribution, d.attribution_families, d.event_time, d.event_id)
            for ws in d.workspaces:
                entry = work.setdefault(arm_fold(ws), (ws, [], None, []))
                entry[1].append(d.event_id or "")
                if change:
                    entry[3].append(change)
        elif d.action == "reject":
            log.warning("rejected event %s: %s", d.event_id, d.reason)
    _enqueue_coalesced(rt, work, now, outcome)
    return outcome


@dataclass
class AuditOutcome:
    decisions: list[Any]
    counts: dict[str, int]
    enqueued: list[str] = field(default_factory=list)
    coalesced: list[str] = field(default_factory=list)


def handle_audit(rt: Runtime, bodies: Iterable[Any], now: datetime | None = None) -> AuditOutcome:
    """Databricks audit records (Event Hubs bodies) -> one coalesced scan of the affected families per workspace."""
    from core.events.audit import route_audit_batch
    from core.store.pending import merge_families

    now = now or datetime.now(UTC)
    routing = route_audit_batch(bodies)
    outcome = AuditOutcome(decisions=routing.decisions, counts=dict(routing.counts))
    monitored = {arm_fold(sub) for sub in rt.settings.subscriptions}
    work: dict[str, tuple[str, list[str], frozenset[str] | None, list[dict[str, Any]]]] = {}
    for d in routing.decisions:
        if d.action == "scan" and monitored and arm_fold(d.workspaces[0].split("/")[2]) not in monitored:
            # Any workspace can be pointed at the hub; only DRIFTWATCH_SUBSCRIPTIONS are watched.
            outcome.counts["unmonitored"] = outcome.counts.get("unmonitored", 0) + 1
            continue
        if d.action == "scan":
            ws = d.workspaces[0]
            key = arm_fold(ws)
            prev = work.get(key)
            families = frozenset(d.families) if prev is None else merge_families(prev[2], frozenset(d.families))
            entry = (prev[0] if prev else ws, prev[1] if prev else [], families, prev[3] if prev else [])
            entry[1].append(d.event_id or "")
            change = _change_record(d.attribution, d.families, d.event_time, d.event_id)
            if change:
                entry[3].append(change)
            work[key] = entry
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


# -- sweep ------------------------------------------------------------------------------------------

@dataclass
class SweepOutcome:
    scan_id: str
    workspaces: int
    enqueued: int
    errors: list[dict[str, str]]
    skipped: list[dict[str, str]] = field(default_factory=list)
    rechecks: int = 0
    """Workspaces not settled now, re-queued with a visibility delay instead of a scan."""


def sweep(rt: Runtime, now: datetime | None = None) -> SweepOutcome:
    """Discover every workspace and fan out one scan request each (Functions scale out on the queue)."""
    now = now or datetime.now(UTC)
    scan_id = str(uuid.uuid4())
    redeliver_outbox(rt)
    collector = rt.collector()
    docs, found = collector.discover(rt.settings.subscriptions or None)
    topology, queues = rt.topology(), rt.queues()
    parsed: list[tuple[dict[str, Any], str, WorkspaceArm]] = []
    for doc in docs:
        wid = str(doc.get("id") or "")
        try:
            parsed.append((doc, wid, parse_workspace_arm(doc)))
        except StateError as exc:
            found.errors.append({"resource_id": wid, "stage": "parse", "message": str(exc)})
    users = subnet_users((wid, arm) for _, wid, arm in parsed)
    enqueued = rechecks = 0
    for doc, wid, arm in parsed:
        not_settled = not_settled_reason(arm)
        embedded = doc if not_settled is None and len(json.dumps(doc)) <= MAX_EMBEDDED_DOC_CHARS else None
        mine = {arm_fold(sid): users.get(arm_fold(sid), []) for sid, _, _ in subnet_ids(arm)}
        try:
            req = ScanRequest(workspace_id=wid, source="sweep", requested_at=now, scan_id=scan_id, workspace=embedded,
                              subnet_users=mine if embedded is not None else None,
                              settle_attempt=0 if not_settled is None else 1)
        except ValidationError:
            found.errors.append({"resource_id": wid[:300], "stage": "parse", "message": "not a workspace resource id"})
            continue
        # The VNet and subnets come free with the listing: record them so sharing (DBX-NET-006) is known
        # estate-wide before the first worker runs. The sweep does not read subnets, so the footprint
        # says its NSG associations were not observed and the NSG edges the workers found stay.
        topology.save_workspace(wid, footprint(arm, None, wid))
        if not_settled is not None:
            found.skipped.append({"resource_id": wid, "reason": not_settled})
            queues.send_scan_request(req.body(), visibility_timeout=rt.settle_delays_s[0])
            rechecks += 1
            continue
        queues.send_scan_request(req.body())
        enqueued += 1
    enqueued += _safety_net(rt, docs, found, now, scan_id)
    from core.store import ScanLog

    ScanLog(rt.connection).record(scan_id, now, datetime.now(UTC), "sweep", len(docs), found.errors,
                                  rt.baseline.sha256, skipped=found.skipped)
    return SweepOutcome(scan_id=scan_id, workspaces=len(docs), enqueued=enqueued, errors=found.errors,
                        skipped=found.skipped, rechecks=rechecks)


def _safety_net(rt: Runtime, docs: list[dict[str, Any]], found: Any, now: datetime, scan_id: str) -> int:
    """Issue 10 §5 (core/sweep_safety.py): blind spots alert, workspaces whose delete event was lost are
    resolved once ARM confirms them gone. Returns the scans queued for workspaces the listing missed."""
    from core.sweep_safety import discovery_blind_spots, resolve_gone_workspaces, subscription_of

    auto = not rt.settings.subscriptions
    failed_subs = [subscription_of(e["resource_id"]) for e in found.errors
                   if e.get("stage") == "discovery" and subscription_of(e.get("resource_id", ""))]
    listing_failed = any(e.get("stage") == "discovery" and e.get("resource_id") == "/subscriptions"
                         for e in found.errors)
    skipped_subs = [subscription_of(x["resource_id"]) for x in found.skipped if subscription_of(x["resource_id"])]
    transitions = discovery_blind_spots(rt, found.errors, list(found.subscriptions), now, auto_discovery=auto,
                                        listing_failed=listing_failed)
    gone = None
    if not listing_failed:
        gone = resolve_gone_workspaces(rt, [str(d.get("id") or "") for d in docs], found.subscriptions,
                                       failed_subs, skipped_subs, now, auto_discovery=auto)
        transitions += gone.transitions
        found.errors.extend(gone.unconfirmed)
    _send(rt, transitions)
    queued = 0
    for wid in gone.rescans if gone else ():
        rt.queues().send_scan_request(ScanRequest(workspace_id=wid, source="sweep", requested_at=now,
                                                  scan_id=scan_id).body())
        queued += 1
    return queued


# -- scan worker ------------------------------------------------------------------------------------

@dataclass
class ScanWorkerOutcome:
    workspace_id: str | None
    transitions: list[Any] = field(default_factory=list)
    deleted: bool = False
    rejected: str | None = None
    skipped: str | None = None
    """Why the workspace was not evaluated (an ARM operation on it is in flight)."""
    rechecked: bool = False
    """Whether a delayed re-check was queued for it."""
    families: frozenset[str] | None = None
    """The rule families this scan covered (None = all)."""


def record_evaluation(rt: Runtime, state: Any, source: Source, now: datetime, *,
                      families: frozenset[str] | None = None, attribution: Attributor | None = None) -> list[Any]:
    """Evaluate one collected workspace (only `families` when given), reconcile, keep topology current."""
    ev = evaluate_workspace(state, rt.baseline, now=now, source=source, rules=rules_for(state, families))
    return store_evaluation(rt, state, ev, source, now, attribution=attribution,
                            network_read=families is None or "NET" in families, families=families)


def checked_rules(ev: Any) -> frozenset[str]:
    """Rules the evaluation actually checked (observed, applicable, enabled): the workspace's coverage,
    which tells a passing control from one that was not evaluated (core/frameworks)."""
    from core.rules import RULES

    eff = ev.effective
    return frozenset(i for i in ev.evaluated_rules
                     if i in RULES and i not in eff.disabled and RULES[i].applies(eff.settings))


def store_evaluation(rt: Runtime, state: Any, ev: Any, source: Source, now: datetime, *,
                     attribution: Attributor | None = None, network_read: bool = True,
                     families: frozenset[str] | None = None) -> list[Any]:
    """Reconcile an evaluation (new/gone/back/unchanged) and record the workspace's network footprint.

    The footprint itself says what was observed (core/state/footprint.py), so saving it never drops
    an edge on missing data; a scan that did not read the network at all does not save.
    """
    transitions = rt.store().reconcile(ev.findings, resource_id=state.resource_id,
                                       evaluated_rules=ev.evaluated_rules, now=now, source=source,
                                       attribution=attribution, not_applicable=ev.not_applicable,
                                       checked_rules=checked_rules(ev), baseline_sha256=ev.effective.sha256,
                                       coverage_scope=None if families is None
                                       else frozenset(r.id for r in rules_for(state, families) or ()))
    if state.arm is not None and network_read:  # an unreadable workspace document says nothing about its network
        rt.topology().save_workspace(state.resource_id, footprint(state.arm, state.network, state.resource_id))
    return list(transitions)


def resolve_deleted(rt: Runtime, workspace_id: str, source: Source, now: datetime, *,
                    attribution: Attributor | None = None) -> list[Any]:
    transitions = rt.store().resolve_workspace(workspace_id, now, source, attribution=attribution)
    rt.topology().remove_workspace(workspace_id)
    return list(transitions)


def _subnet_users(rt: Runtime, doc: dict[str, Any]) -> dict[str, list[str]]:
    try:
        arm = parse_workspace_arm(doc)
    except StateError:
        return {}
    topo = rt.topology()
    users = {arm_fold(sid): list(topo.workspaces_for(sid)) for sid, _, _ in subnet_ids(arm)}
    for sid in users:
        if str(doc.get("id")) not in users[sid]:
            users[sid].append(str(doc.get("id")))
    return users


def _embedded_document_problem(req: ScanRequest) -> str | None:
    """Why an embedded workspace document makes the message unusable (None when absent or consistent).

    The document is at most a hint: the worker always reads the workspace from ARM. A hint that is not
    even the workspace the message names (`{}`, another id, another type) marks a forged or broken message.
    """
    doc = req.workspace
    if doc is None:
        return None
    rid, rtype = doc.get("id"), doc.get("type")
    if not isinstance(rid, str) or not same_arm_id(rid, req.workspace_id):
        return "workspace: embedded document is not the workspace the message names (id differs or is missing)"
    if not isinstance(rtype, str) or not same_arm_id(rtype, "Microsoft.Databricks/workspaces"):
        return "workspace: embedded document is not a Microsoft.Databricks/workspaces resource"
    return None


def scan_request(rt: Runtime, body: str, now: datetime | None = None) -> ScanWorkerOutcome:
    """Handle one `scan-requests` message end to end; transitions go to `drift-findings`.

    The evaluation is stamped with the store's time (core/store/clock.py), not this instance's clock: a
    clock running ahead must not make the next instance's correct evaluation look older than the row.
    """
    from core.store.clock import store_now

    now = store_now(rt.store().findings_table, now)
    try:
        req = ScanRequest.model_validate_json(body)
    except ValidationError as exc:
        reason = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or '(message)'}: {e['msg']}" for e in exc.errors())
        reject_message(rt, "scan-requests", body, f"not a {SCAN_REQUEST_SCHEMA} message: {reason}")
        return ScanWorkerOutcome(workspace_id=None, rejected=reason)
    from core.store.pending import merge_changes, merge_families

    families = None if req.families is None else frozenset(req.families)
    changes = [c.model_dump(mode="json", exclude_none=True) for c in req.changes]
    if req.coalesced:
        was_pending, folded, folded_changes = rt.pending().started(req.workspace_id, now)
        if was_pending:  # everything coalesced into this scan while it waited
            families = merge_families(families, folded)
            changes = merge_changes(changes, folded_changes)
    attribution = _attributor([ChangeRecord.model_validate(c) for c in changes])
    source: Source = req.source
    collector = rt.collector()
    hint_problem = _embedded_document_problem(req)
    if hint_problem is not None:  # deterministic: retrying cannot fix it, so it is poisoned at once
        reject_message(rt, "scan-requests", body, hint_problem)
        return ScanWorkerOutcome(workspace_id=None, rejected=hint_problem)
    # Anyone who may send to scan-requests can write a message, so an embedded document (and the
    # workspaceUrl in it) is never evaluated: the state, and the host the token goes to, come from ARM.
    doc: dict[str, Any] | None = None
    try:
        doc = rt.arm.get(req.workspace_id)
    except ArmReadError as exc:
        from core.collect.collector import unreadable_state

        transitions = record_evaluation(rt, unreadable_state(req.workspace_id, exc.cause), source, now,
                                        families=families, attribution=attribution)
        _send(rt, transitions)
        return ScanWorkerOutcome(workspace_id=req.workspace_id, transitions=transitions, families=families)
    users: dict[str, list[str]] | None = None  # from the topology the sweep recorded, never from the message
    if doc is not None:
        users = _subnet_users(rt, doc) if families is None or "NET" in families else {}
    state = None if doc is None else collector.collect_workspace(doc, users, families=families)
    if isinstance(state, Skipped):
        return recheck_later(rt, req.model_copy(update={
            "families": None if families is None else sorted(families),
            "changes": [ChangeRecord.model_validate(c) for c in changes]}), state.reason, now)
    if state is None:
        transitions = resolve_deleted(rt, req.workspace_id, source, now, attribution=attribution)
        _send(rt, transitions)
        return ScanWorkerOutcome(workspace_id=req.workspace_id, transitions=transitions, deleted=True)
    transitions = record_evaluation(rt, state, source, now, families=families, attribution=attribution)
    _send(rt, transitions)
    return ScanWorkerOutcome(workspace_id=req.workspace_id, transitions=transitions, families=families)


Attributor = Any
"""Callable[[str], ChangeAttribution | None]: rule id -> the change that explains a transition of it."""


def _attributor(changes: list[ChangeRecord]) -> Attributor | None:
    """The newest change whose families include a rule's family (None families = any rule)."""
    if not changes:
        return None
    from core.rules import RULES

    ordered = sorted(changes, key=lambda c: c.at or "", reverse=True)

    def pick(rule_id: str) -> ChangeAttribution | None:
        rule = RULES.get(rule_id)
        family = rule.family if rule else rule_id.split("-")[1] if rule_id.count("-") >= 2 else ""
        for c in ordered:
            if c.families is None or family in c.families:
                return c.attribution()
        return None

    return pick


def rules_for(state: Any, families: frozenset[str] | None) -> list[Any] | None:
    """The rules an audit-driven scan evaluates: its families; DBX-EVAL-002 only when the workspace API was
    actually called; DBX-EVAL-001 only when the workspace document itself could not be read (it also covers
    the network and diagnostic reads such a scan skips, so it must not resolve there). None = every rule."""
    if families is None:
        return None
    from core.rules import RULES

    api_called = state.workspace_api is not None or any(e.stage == "workspace_api" for e in state.errors)
    return [r for r in RULES.values()
            if r.family in families or (r.id == "DBX-EVAL-001" and state.arm is None)
            or (r.id == "DBX-EVAL-002" and api_called)]


def recheck_later(rt: Runtime, req: ScanRequest, reason: str, now: datetime) -> ScanWorkerOutcome:
    """Not evaluated now (nothing opens or resolves): look again after a visibility delay, a few times.

    After the last re-check the workspace waits for the next sweep, which lists it in `skipped` again.
    """
    outcome = ScanWorkerOutcome(workspace_id=req.workspace_id, skipped=reason)
    if req.settle_attempt >= len(rt.settle_delays_s):
        log.warning("%s is still not settled after %d re-checks (%s); the next sweep looks again",
                    req.workspace_id, req.settle_attempt, reason)
        return outcome
    again = req.model_copy(update={"requested_at": now, "settle_attempt": req.settle_attempt + 1, "workspace": None,
                                   "subnet_users": None, "coalesced": False})
    rt.queues().send_scan_request(again.body(), visibility_timeout=rt.settle_delays_s[req.settle_attempt])
    outcome.rechecked = True
    return outcome


def _send(rt: Runtime, transitions: list[Any]) -> None:
    """Queue each transition, then clear it from its row's outbox (a crash in between re-sends it)."""
    from core.store.findings import crash_point

    if not transitions:
        return
    crash_point("before-queue-send")
    queues, store = rt.queues(), rt.store()
    for t in transitions:
        queues.send_transition(t)
    crash_point("before-outbox-clear")
    store.outbox_delivered(transitions)


def redeliver_outbox(rt: Runtime) -> int:
    """Re-drive transitions whose writer died before delivering them (history rows and queue message)."""
    transitions = rt.store().undelivered(rt.outbox_redrive_after_s)
    if transitions:
        log.warning("re-driving %d undelivered transitions from the outbox", len(transitions))
        _send(rt, transitions)
    return len(transitions)


# -- notifications ----------------------------------------------------------------------------------

class NotifyBusy(Exception):
    """Another instance is posting this workspace's digest: retry the message later."""


NOTIFY_BUSY_DELAY_S = (3, 10)
"""A message that finds the workspace's digest lock taken is sent again, invisible for a random delay in
this range (seconds), and completes: contention is a retry with a delay, never a failed delivery
attempt that counts toward the poison queue. The holder may have read the pending set before this
message's transition was recorded, so the message is kept, not dropped."""


@dataclass
class NotifyOutcome:
    workspace_id: str | None
    posted: int = 0
    skipped: int = 0
    already_notified: bool = False
    rejected: str | None = None
    busy: bool = False
    """The digest lock was taken: the message was re-queued with a delay."""


def notifier(rt: Runtime, url: str | None = None, label: str | None = None) -> Any:
    """The Teams client for `url` (default: TEAMS_WEBHOOK_URL); None when no URL is configured."""
    from core.notify import TeamsNotifier

    url = url if url is not None else rt.settings.teams_webhook_url
    if not url:
        return None
    return TeamsNotifier(url, emulator_mode=rt.settings.emulator_mode, route=label, **rt.notifier_options)


class RoutingUnavailable(Exception):
    """The workspace's tags decide its Teams route and ARM could not be read: retry the message later."""


def notify_route(rt: Runtime, workspace_id: str, workspace_name: str, *, final_attempt: bool) -> Any:
    """The baseline's first matching `notifications.routes` entry for this workspace, else the default.

    Tags are read from ARM only when a route that could match uses them. A deleted workspace has no
    tags. When ARM cannot be read the message is retried; on the last attempt the default route is
    used so the alert is not lost.
    """
    from core.notify.routing import TagsNeeded, WorkspacePlace, choose_route

    routes = rt.baseline.document.notifications.routes
    default = rt.settings.notify_min_severity
    place = WorkspacePlace.from_resource_id(workspace_id, workspace_name)
    try:
        return choose_route(routes, place, default)
    except TagsNeeded:
        pass
    try:
        doc = rt.arm.get(workspace_id)
    except ArmReadError as exc:
        if not final_attempt:
            raise RoutingUnavailable(f"{workspace_id}: tags needed for notifications.routes could not be read "
                                     f"({exc.cause})") from None
        log.warning("%s: tags could not be read for routing (%s); using the default route", workspace_id, exc.cause)
        from core.notify.routing import Route
        from core.settings import TEAMS_WEBHOOK_URL

        return Route(TEAMS_WEBHOOK_URL, default, None)
    raw = (doc or {}).get("tags") if isinstance(doc, dict) else None
    tags = {str(k): str(v) for k, v in raw.items() if v is not None} if isinstance(raw, dict) else {}
    return choose_route(routes, WorkspacePlace.from_resource_id(workspace_id, workspace_name, tags), default)


def notify_workspace(rt: Runtime, workspace_id: str, now: datetime | None = None,
                     owner: str | None = None, final_attempt: bool = True) -> NotifyOutcome:
    """Post one digest with every pending transition of a workspace to its route's channel.

    The route (baseline `notifications.routes`, else `TEAMS_WEBHOOK_URL`) sets the minimum severity;
    the card's banner states the workspace's standing after the change, read from the store.
    """
    from core.findings.model import severity_at_least
    from core.notify import NotifyError, Standing, build_digest

    now = now or datetime.now(UTC)
    store = rt.store()
    owner = owner or str(uuid.uuid4())
    if not store.claim_notify_lock(workspace_id, owner, ttl_s=120, now=now):
        raise NotifyBusy(workspace_id)
    try:
        # Failed ones too: a replayed poison message re-drives what a dead webhook could not take.
        pending = store.pending_notifications(workspace_id, include_failed=True)
        if not pending:
            return NotifyOutcome(workspace_id=workspace_id, already_notified=True)
        name = pending[0].finding.workspace_name
        route = notify_route(rt, workspace_id, name, final_attempt=final_attempt)
        loud = [t for t in pending if severity_at_least(t.finding.severity, route.min_severity)]
        quiet = [t for t in pending if t not in loud]
        if quiet:
            store.mark_skipped([t.finding.id for t in quiet], now, resource_id=workspace_id)
        if not loud:
            return NotifyOutcome(workspace_id=workspace_id, skipped=len(quiet))
        try:
            # A URL off the allow-list is a NotifyError too: on the last attempt the store records it.
            teams = notifier(rt, rt.settings.webhook_url(route.webhook_setting) or "", route.label)
            if teams is None:
                log.warning("%s: app setting %s is not set: %d transitions stay pending", route.label,
                            route.webhook_setting, len(loud))
                return NotifyOutcome(workspace_id=workspace_id, skipped=len(quiet))
            open_by_severity, exempted = store.open_counts(workspace_id)
            card = build_digest(workspace_id, name, [t.message() for t in loud],
                                standing=Standing(open_by_severity, exempted), api_url=rt.settings.public_api_url,
                                max_bytes=teams.max_bytes)
            with teams:
                teams.post(card)
        except NotifyError as exc:
            # Keep them pending while the queue will retry; on the last delivery attempt record the
            # failure, so after the message moves to the poison queue the store says "not notified".
            if final_attempt:
                store.mark_notify_failed([t.finding.id for t in loud], str(exc), resource_id=workspace_id)
            raise
        newest = max(t.at for t in loud)
        store.mark_notified([t.finding.id for t in loud], now, resource_id=workspace_id, recorded_before=newest)
        return NotifyOutcome(workspace_id=workspace_id, posted=1, skipped=len(quiet))
    finally:
        store.release_notify_lock(workspace_id, owner)


def notify_message(rt: Runtime, body: str, now: datetime | None = None, dequeue_count: int = 1) -> NotifyOutcome:
    """Handle one `drift-findings` message: the first message of a burst posts the whole digest."""
    from core.store import Transition

    try:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("schema") != "driftwatch.transition/v1":
            raise ValueError("schema is not driftwatch.transition/v1")
        t = Transition.from_message(data)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, ValidationError) as exc:
        reason = str(exc)[:500]
        reject_message(rt, "drift-findings", body, f"not a driftwatch.transition/v1 message: {reason}")
        return NotifyOutcome(workspace_id=None, rejected=reason)
    try:
        return notify_workspace(rt, t.finding.resource_id, now, final_attempt=dequeue_count >= MAX_DEQUEUE_COUNT)
    except NotifyBusy:
        import random

        delay = random.randint(*NOTIFY_BUSY_DELAY_S)
        rt.queues().send_transition_body(body, visibility_timeout=delay)
        log.info("notify %s: digest lock busy, retrying in %d s", t.finding.resource_id, delay)
        return NotifyOutcome(workspace_id=t.finding.resource_id, busy=True)

"""Scanning one workspace: a `scan-requests` message -> collect, evaluate, reconcile, deliver.

The evaluation is stamped with the store's time (core/store/clock.py), not this instance's clock: a
clock running ahead must not make the next instance's correct evaluation look older than the row.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from core.arm_ids import arm_fold
from core.collect.arm import ArmReadError
from core.collect.collector import Skipped, identity_from_id
from core.collect.workspace_api import ApiRead
from core.findings.model import Attributor, ChangeAttribution, Source
from core.rules import evaluate_workspace
from core.rules.engine import WorkspaceEvaluation
from core.rules.registry import Rule
from core.service.delivery import send_transitions
from core.service.messages import (
    SCAN_REQUEST_SCHEMA,
    ChangeRecord,
    ScanRequest,
    embedded_document_problem,
    reject_message,
    validation_reason,
)
from core.service.runtime import Runtime
from core.state.footprint import footprint, subnet_ids
from core.state.model import WorkspaceState
from core.state.parse import StateError, parse_workspace_arm

if TYPE_CHECKING:
    from concurrent.futures import Future

    from core.collect.collector import EstateCollector
    from core.store import Transition
    from core.store.listed import ListedWorkspace
    from core.store.topology import IndexRow

log = logging.getLogger("driftwatch")

@dataclass
class ScanWorkerOutcome:
    workspace_id: str | None
    transitions: list[Transition] = field(default_factory=list)
    deleted: bool = False
    rejected: str | None = None
    skipped: str | None = None
    """Why the workspace was not evaluated (an ARM operation on it is in flight)."""
    rechecked: bool = False
    """Whether a delayed re-check was queued for it."""
    families: frozenset[str] | None = None
    """The rule families this scan covered (None = all)."""


def rules_for(state: WorkspaceState, families: frozenset[str] | None) -> list[Rule] | None:
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


def checked_rules(ev: WorkspaceEvaluation) -> frozenset[str]:
    """Rules the evaluation actually checked (observed, applicable, enabled): the workspace's coverage,
    which tells a passing control from one that was not evaluated (core/frameworks)."""
    from core.rules import RULES

    eff = ev.effective
    return frozenset(i for i in ev.evaluated_rules
                     if i in RULES and i not in eff.disabled and RULES[i].applies(eff.settings))


def record_evaluation(rt: Runtime, state: WorkspaceState, source: Source, now: datetime, *,
                      families: frozenset[str] | None = None, attribution: Attributor | None = None,
                      known_topology: IndexRow | None = None, api_read: ApiRead | None = None) -> list[Transition]:
    """Evaluate one collected workspace (only `families` when given), reconcile, keep topology current.

    `known_topology`: the workspace's topology index row as read earlier in this scan or by its sweep
    (the save starts from it instead of reading it); `api_read`: how the collection read the workspace
    API, recorded on that row for the next event-driven scan (`EstateCollector.speculate`)."""
    ev = evaluate_workspace(state, rt.baseline, now=now, source=source, rules=rules_for(state, families))
    return store_evaluation(rt, state, ev, source, now, attribution=attribution,
                            network_read=families is None or "NET" in families, families=families,
                            known_topology=known_topology, api_read=api_read)


def store_evaluation(rt: Runtime, state: WorkspaceState, ev: WorkspaceEvaluation, source: Source, now: datetime, *,
                     attribution: Attributor | None = None, network_read: bool = True,
                     families: frozenset[str] | None = None,
                     known_topology: IndexRow | None = None, api_read: ApiRead | None = None) -> list[Transition]:
    """Reconcile an evaluation (new/gone/back/unchanged) and record the workspace's network footprint.

    The footprint itself says what was observed (core/state/footprint.py), so saving it never drops
    an edge on missing data; a scan that did not read the network at all does not save.
    """
    from core.store import background

    saving = None
    if state.arm is not None and network_read:  # an unreadable workspace document says nothing about its network
        # Another table than the findings: saved while the findings reconcile (latency: the longer of the two).
        saving = background.start(functools.partial(rt.topology().save_workspace, state.resource_id,
                                                    footprint(state.arm, state.network, state.resource_id),
                                                    known=known_topology,
                                                    workspace_api=None if api_read is None else api_read.to_doc()))
    try:
        transitions = rt.store().reconcile(ev.findings, resource_id=state.resource_id,
                                           evaluated_rules=ev.evaluated_rules, now=now, source=source,
                                           attribution=attribution, not_applicable=ev.not_applicable,
                                           checked_rules=checked_rules(ev), baseline_sha256=ev.effective.sha256,
                                           coverage_scope=None if families is None
                                           else frozenset(r.id for r in rules_for(state, families) or ()))
    finally:
        if saving is not None:
            saving.result()
    return list(transitions)


def resolve_deleted(rt: Runtime, workspace_id: str, source: Source, now: datetime, *,
                    attribution: Attributor | None = None) -> list[Transition]:
    transitions = rt.store().resolve_workspace(workspace_id, now, source, attribution=attribution)
    rt.topology().remove_workspace(workspace_id)
    return list(transitions)


@dataclass(frozen=True)
class _Prefetched:
    """What an event-driven scan read or started beside its workspace GET (`_prefetch`)."""

    subnets: dict[str, Future[list[str]]] = field(default_factory=dict)
    """Folded subnet id -> its started `workspaces_for` query."""
    index: IndexRow | None = None
    """The workspace's topology index row, which the topology save then starts from."""


def _prefetch(rt: Runtime, collector: EstateCollector, workspace_id: str,
              families: frozenset[str] | None) -> Future[_Prefetched]:
    """While the worker GETs the workspace document, start what the scan will read after it, from what the
    last scan recorded in the workspace's topology index row: the GETs of its VNet and NSGs (joined by the
    collector, so nothing is read twice) and the subnet-sharing queries (used only for subnets the document
    still names), where network rules are on; its diagnostic settings, role assignments and the
    workspace-API reads its last full scan made (`EstateCollector.speculate`, used only when they are what
    the document asks for). The index row is kept for the scan's topology save, which would otherwise read
    it again.

    Otherwise those reads wait for the document: workspace, then VNet, then NSG, one after the other.
    Best effort: without a recorded row, or when the topology cannot be read, only what needs no row starts
    early."""
    from core.store import StoreError, background
    from core.store.topology import is_nsg_id

    topo = rt.topology()
    network = (families is None or "NET" in families) and _network_read(rt, workspace_id)

    def start() -> _Prefetched:
        try:
            index = topo.index_row(workspace_id)
        except StoreError:
            collector.speculate(workspace_id, None, families)
            return _Prefetched()
        collector.speculate(workspace_id, ApiRead.from_doc(index.workspace_api), families)
        if not network:
            return _Prefetched(index=index)
        edges = list(index.edges.values())
        collector.prefetch(e for e in edges if is_nsg_id(e) or _is_vnet_id(e))
        return _Prefetched({arm_fold(e): background.start(functools.partial(topo.workspaces_for, e))
                            for e in edges if "/subnets/" in e.lower()}, index)

    return background.start(start)


def _network_read(rt: Runtime, workspace_id: str) -> bool:
    """Whether network rules are on for this workspace as far as its id tells (its tags are not known before
    its document: a scope that matches on tags alone is not seen, which only means nothing starts early)."""
    from core.rules import network_rules_on

    return network_rules_on(rt.baseline.effective_for(identity_from_id(workspace_id)))


def _is_vnet_id(resource_id: str) -> bool:
    parts = resource_id.rstrip("/").lower().split("/")
    return len(parts) >= 2 and parts[-2] == "virtualnetworks"


def _subnet_users(rt: Runtime, doc: dict[str, Any],
                  started: dict[str, Future[list[str]]] | None = None) -> dict[str, list[str]]:
    """Lower subnet id -> the workspaces injected into it, from the topology table (DBX-NET-006).

    `started`: queries `_prefetch` began for subnets the topology knew; any other subnet the
    document names is queried now."""
    try:
        arm = parse_workspace_arm(doc)
    except StateError:
        return {}
    from core.store import background

    topo = rt.topology()
    started = started or {}
    # One partition query per subnet; they do not depend on each other.
    reads = {arm_fold(sid): started.get(arm_fold(sid)) or background.start(functools.partial(topo.workspaces_for, sid))
             for sid, _, _ in subnet_ids(arm)}
    return _with_self({sid: list(read.result()) for sid, read in reads.items()}, doc)


def _with_self(users: dict[str, list[str]], doc: dict[str, Any]) -> dict[str, list[str]]:
    """The sharing map with the workspace itself among the users of each of its subnets."""
    out = {sid: list(ws) for sid, ws in users.items()}
    for ws in out.values():
        if str(doc.get("id")) not in ws:
            ws.append(str(doc.get("id")))
    return out


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


def scan_request(rt: Runtime, body: str, now: datetime | None = None) -> ScanWorkerOutcome:
    """Handle one `scan-requests` message end to end; transitions go to `drift-findings`."""
    from core.service.handoff import listed_for
    from core.store import background
    from core.store.clock import store_now
    from core.store.pending import merge_changes, merge_families

    now = store_now(rt.store().findings_table, now)
    try:
        req = ScanRequest.model_validate_json(body)
    except ValidationError as exc:
        reason = validation_reason(exc)
        reject_message(rt, "scan-requests", body, f"not a {SCAN_REQUEST_SCHEMA} message: {reason}")
        return ScanWorkerOutcome(workspace_id=None, rejected=reason)
    families = None if req.families is None else frozenset(req.families)
    changes = [c.model_dump(mode="json", exclude_none=True) for c in req.changes]
    # The pending marker is updated while the workspace document is read (they do not depend on each other).
    starting = (background.start(functools.partial(rt.pending().started, req.workspace_id, now))
                if req.coalesced else None)
    hint_problem = embedded_document_problem(req)
    collector = rt.collector()
    prefetching: Future[_Prefetched] | None = None
    doc: dict[str, Any] | None = None
    unreadable: ArmReadError | None = None
    listed: ListedWorkspace | None = None
    try:
        if hint_problem is None:
            # Anyone who may send to scan-requests can write a message, so the state, and the host the token
            # goes to, come from ARM: the worker reads the workspace document itself, or the one its sweep
            # listed through the `scans` table, which only the app writes (core/service/handoff.py; never
            # for a coalesced message, so the pending marker read beside it cannot change that choice).
            listed = listed_for(rt, req, families, now)
            if listed is None:
                prefetching = _prefetch(rt, collector, req.workspace_id, families)
            try:
                doc = listed.workspace if listed is not None else rt.arm.get(req.workspace_id)
            except ArmReadError as exc:
                unreadable = exc
    finally:
        started = starting.result() if starting is not None else None
    if started is not None:
        was_pending, folded, folded_changes = started
        if was_pending:  # everything coalesced into this scan while it waited
            families = merge_families(families, folded)
            changes = merge_changes(changes, folded_changes)
    attribution = _attributor([ChangeRecord.model_validate(c) for c in changes])
    source: Source = req.source
    if hint_problem is not None:  # deterministic: retrying cannot fix it, so it is poisoned at once
        reject_message(rt, "scan-requests", body, hint_problem)
        return ScanWorkerOutcome(workspace_id=None, rejected=hint_problem)
    if unreadable is not None:
        from core.collect.collector import unreadable_state

        transitions = record_evaluation(rt, unreadable_state(req.workspace_id, unreadable.cause), source, now,
                                        families=families, attribution=attribution)
        send_transitions(rt, transitions)
        return ScanWorkerOutcome(workspace_id=req.workspace_id, transitions=transitions, families=families)
    if doc is None:
        transitions = resolve_deleted(rt, req.workspace_id, source, now, attribution=attribution)
        send_transitions(rt, transitions)
        return ScanWorkerOutcome(workspace_id=req.workspace_id, transitions=transitions, deleted=True)
    prefetched = prefetching.result() if prefetching is not None else _Prefetched()
    if families is not None and "NET" not in families:
        users: dict[str, list[str]] = {}
    elif listed is not None and listed.subnet_users is not None:
        users = _with_self(listed.subnet_users, doc)  # as the sweep saw them: no topology query
    else:
        users = _subnet_users(rt, doc, prefetched.subnets)
    if listed is not None:
        collector.prime(listed.network)  # what is not there is GET as before
    state = collector.collect_workspace(doc, users, families=families)
    if isinstance(state, Skipped):
        return recheck_later(rt, req.model_copy(update={
            "families": None if families is None else sorted(families),
            "changes": [ChangeRecord.model_validate(c) for c in changes]}), state.reason, now)
    if state is None:
        transitions = resolve_deleted(rt, req.workspace_id, source, now, attribution=attribution)
        send_transitions(rt, transitions)
        return ScanWorkerOutcome(workspace_id=req.workspace_id, transitions=transitions, deleted=True)
    transitions = record_evaluation(rt, state, source, now, families=families, attribution=attribution,
                                    known_topology=listed.topology_index if listed is not None else prefetched.index,
                                    api_read=collector.api_read(req.workspace_id))
    send_transitions(rt, transitions)
    return ScanWorkerOutcome(workspace_id=req.workspace_id, transitions=transitions, families=families)

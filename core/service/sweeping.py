"""The timer sweep: discover every workspace, fan out one scan request each, and catch what events missed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from core.collect.collector import CollectResult
from core.service.delivery import redeliver_outbox, send_transitions
from core.service.messages import ScanRequest
from core.service.runtime import Runtime
from core.state.footprint import footprint
from core.state.lifecycle import not_settled_reason
from core.state.model import WorkspaceArm
from core.state.parse import StateError, parse_workspace_arm

T = TypeVar("T")


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
    """Discover every workspace and fan out one scan request each (Functions scale out on the queue).

    A request names the workspace only (a queue message is not trusted): what the sweep listed, the
    workspace documents and, per subscription, the VNets and NSGs they use, reaches the workers through
    the `scans` table (core/service/handoff.py), and subnet sharing comes from the topology this sweep
    records before the first worker runs.
    """
    from core.service.handoff import hand_off, remove_stale
    from core.store.clock import TOLERANCE, store_now

    now = now or datetime.now(UTC)
    scan_id = str(uuid.uuid4())
    redeliver_outbox(rt)
    # Before the listing, less the clock tolerance: no listed document is older than this, so an event
    # marker written after it (core/store/listed.py `event_since`) always sends the worker to ARM.
    listed_at = store_now(rt.store().findings_table) - TOLERANCE
    collector = rt.collector()
    docs, found = collector.discover(rt.settings.subscriptions or None)
    topology, queues = rt.topology(), rt.queues()
    parsed: list[tuple[str, WorkspaceArm]] = []
    for doc in docs:
        wid = str(doc.get("id") or "")
        try:
            parsed.append((wid, parse_workspace_arm(doc)))
        except StateError as exc:
            found.errors.append({"resource_id": wid, "stage": "parse", "message": str(exc)})
    by_id = {str(d.get("id") or ""): d for d in docs}
    hand_off(rt, collector, scan_id, listed_at,
             [(by_id[wid], arm) for wid, arm in parsed if not_settled_reason(arm) is None])
    to_send: list[tuple[str, WorkspaceArm, ScanRequest, str | None]] = []
    for wid, arm in parsed:
        not_settled = not_settled_reason(arm)
        try:
            req = ScanRequest(workspace_id=wid, source="sweep", requested_at=now, scan_id=scan_id,
                              settle_attempt=0 if not_settled is None else 1)
        except ValidationError:
            found.errors.append({"resource_id": wid[:300], "stage": "parse", "message": "not a workspace resource id"})
            continue
        to_send.append((wid, arm, req, not_settled))
        if not_settled is not None:
            found.skipped.append({"resource_id": wid, "reason": not_settled})
    # The VNet and subnets come free with the listing: record them all first, so sharing (DBX-NET-006) is
    # known estate-wide before the first worker runs. The sweep does not read subnets, so the footprint
    # says its NSG associations were not observed and the NSG edges the workers found stay.
    # Both steps are storage round trips that do not depend on each other: they run a pool wide.
    _each(lambda item: topology.save_workspace(item[0], footprint(item[1], None, item[0])), to_send)

    def send(item: tuple[str, WorkspaceArm, ScanRequest, str | None]) -> None:
        if item[3] is not None:
            queues.send_scan_request(item[2].body(), visibility_timeout=rt.settle_delays_s[0])
        else:
            queues.send_scan_request(item[2].body())

    queues.scan_requests  # noqa: B018  (one client, built before the threads share it)
    _each(send, to_send)
    rechecks = sum(1 for item in to_send if item[3] is not None)
    enqueued = len(to_send) - rechecks
    enqueued += _safety_net(rt, docs, found, now, scan_id)
    remove_stale(rt, scan_id)
    from core.store import ScanLog

    ScanLog(rt.connection).record(scan_id, now, datetime.now(UTC), "sweep", len(docs), found.errors,
                                  rt.baseline.sha256, skipped=found.skipped)
    # At most once a day the sweep (one instance: a timer) writes the estate history snapshot that as-of
    # reads of the whole estate start from (core/store/estate.py); a failure only costs those reads time.
    rt.store().estate_snapshot_if_due()
    return SweepOutcome(scan_id=scan_id, workspaces=len(docs), enqueued=enqueued, errors=found.errors,
                        skipped=found.skipped, rechecks=rechecks)


SWEEP_STORAGE_THREADS = 16
"""Concurrent topology saves and queue sends of one sweep (storage round trips, no CPU to speak of)."""


def _each(fn: Callable[[T], object], items: list[T]) -> None:
    """`fn` over `items`, SWEEP_STORAGE_THREADS at a time; the first failure is raised once all are done."""
    if len(items) < 2:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(max_workers=min(SWEEP_STORAGE_THREADS, len(items)),
                            thread_name_prefix="driftwatch-sweep") as pool:
        for fut in [pool.submit(fn, item) for item in items]:
            fut.result()


def _safety_net(rt: Runtime, docs: list[dict[str, Any]], found: CollectResult, now: datetime, scan_id: str) -> int:
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
    send_transitions(rt, transitions)
    queued = 0
    for wid in gone.rescans if gone else ():
        rt.queues().send_scan_request(ScanRequest(workspace_id=wid, source="sweep", requested_at=now,
                                                  scan_id=scan_id).body())
        queued += 1
    return queued

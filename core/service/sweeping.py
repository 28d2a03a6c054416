"""The timer sweep: discover every workspace, fan out one scan request each, and catch what events missed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from core.collect.collector import CollectResult
from core.service.delivery import redeliver_outbox, send_transitions
from core.service.messages import ScanRequest
from core.service.runtime import Runtime
from core.state.footprint import footprint
from core.state.lifecycle import not_settled_reason
from core.state.model import WorkspaceArm
from core.state.parse import StateError, parse_workspace_arm


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

    A request names the workspace only: the worker reads its document from ARM (a queue message is not
    trusted), and subnet sharing comes from the topology this sweep records before the first worker runs.
    """
    now = now or datetime.now(UTC)
    scan_id = str(uuid.uuid4())
    redeliver_outbox(rt)
    docs, found = rt.collector().discover(rt.settings.subscriptions or None)
    topology, queues = rt.topology(), rt.queues()
    parsed: list[tuple[str, WorkspaceArm]] = []
    for doc in docs:
        wid = str(doc.get("id") or "")
        try:
            parsed.append((wid, parse_workspace_arm(doc)))
        except StateError as exc:
            found.errors.append({"resource_id": wid, "stage": "parse", "message": str(exc)})
    enqueued = rechecks = 0
    for wid, arm in parsed:
        not_settled = not_settled_reason(arm)
        try:
            req = ScanRequest(workspace_id=wid, source="sweep", requested_at=now, scan_id=scan_id,
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
    # At most once a day the sweep (one instance: a timer) writes the estate history snapshot that as-of
    # reads of the whole estate start from (core/store/estate.py); a failure only costs those reads time.
    rt.store().estate_snapshot_if_due()
    return SweepOutcome(scan_id=scan_id, workspaces=len(docs), enqueued=enqueued, errors=found.errors,
                        skipped=found.skipped, rechecks=rechecks)


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

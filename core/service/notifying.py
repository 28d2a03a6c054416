"""Notifying: a `drift-findings` message -> one Teams digest of the workspace's pending transitions.

The first message of a burst posts the whole digest; the others find nothing pending. Posting is
guarded by a per-workspace lock row, so two instances never post the same digest at once.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.collect.arm import ArmReadError
from core.service.messages import MAX_DEQUEUE_COUNT, parse_transition_message, reject_message
from core.service.runtime import Runtime

if TYPE_CHECKING:
    from core.notify import TeamsNotifier
    from core.notify.routing import Route

log = logging.getLogger("driftwatch")

NOTIFY_BUSY_DELAY_S = (3, 10)
"""A message that finds the workspace's digest lock taken is sent again, invisible for a random delay in
this range (seconds), and completes: contention is a retry with a delay, never a failed delivery
attempt that counts toward the poison queue. The holder may have read the pending set before this
message's transition was recorded, so the message is kept, not dropped."""
NOTIFY_LOCK_TTL_S = 120


class NotifyBusy(Exception):
    """Another instance is posting this workspace's digest: retry the message later."""


class RoutingUnavailable(Exception):
    """The workspace's tags decide its Teams route and ARM could not be read: retry the message later."""


@dataclass
class NotifyOutcome:
    workspace_id: str | None
    posted: int = 0
    skipped: int = 0
    already_notified: bool = False
    rejected: str | None = None
    busy: bool = False
    """The digest lock was taken: the message was re-queued with a delay."""


def notifier(rt: Runtime, url: str | None = None, label: str | None = None) -> TeamsNotifier | None:
    """The Teams client for `url` (default: TEAMS_WEBHOOK_URL); None when no URL is configured."""
    from core.notify import TeamsNotifier

    url = url if url is not None else rt.settings.teams_webhook_url
    if not url:
        return None
    return TeamsNotifier(url, emulator_mode=rt.settings.emulator_mode, route=label, **rt.notifier_options)


def notify_route(rt: Runtime, workspace_id: str, workspace_name: str, *, final_attempt: bool) -> Route:
    """The baseline's first matching `notifications.routes` entry for this workspace, else the default.

    Tags are read from ARM only when a route that could match uses them. A deleted workspace has no
    tags. When ARM cannot be read the message is retried; on the last attempt the default route is
    used so the alert is not lost.
    """
    from core.notify.routing import Route, TagsNeeded, WorkspacePlace, choose_route

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
    # A transition is recorded before its message is sent, so "nothing pending" here means another
    # message of the burst already posted it: no lock round trip needed (most messages of a burst).
    if not store.has_pending_notifications(workspace_id, include_failed=True):
        return NotifyOutcome(workspace_id=workspace_id, already_notified=True)
    owner = owner or str(uuid.uuid4())
    if not store.claim_notify_lock(workspace_id, owner, ttl_s=NOTIFY_LOCK_TTL_S, now=now):
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
            card = build_digest(workspace_id, name, loud,
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
    try:
        t = parse_transition_message(body)
    except ValueError as exc:
        reason = str(exc)[:500]
        reject_message(rt, "drift-findings", body, f"not a driftwatch.transition/v1 message: {reason}")
        return NotifyOutcome(workspace_id=None, rejected=reason)
    try:
        return notify_workspace(rt, t.finding.resource_id, now, final_attempt=dequeue_count >= MAX_DEQUEUE_COUNT)
    except NotifyBusy:
        delay = random.randint(*NOTIFY_BUSY_DELAY_S)
        rt.queues().send_transition_body(body, visibility_timeout=delay)
        log.info("notify %s: digest lock busy, retrying in %d s", t.finding.resource_id, delay)
        return NotifyOutcome(workspace_id=t.finding.resource_id, busy=True)

"""The sweep as safety net (issue 10 §5): lost delete events and blind spots.

- After a complete, successful listing of a subscription, a workspace that still has open findings but
  was not listed is read on its own; only a 404 on that GET (the workspace itself, not a child) resolves
  its findings, with the reason "workspace deleted". A listing that failed or was cut short removes nothing.
- A subscription that cannot be listed, and a sweep that sees no subscription at all, is an evaluation
  problem: DBX-EVAL-001 opens on the subscription (`/subscriptions/{id}`, or `/subscriptions` when none
  is visible) and alerts like any finding; it resolves when a later sweep lists it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.arm_ids import arm_fold
from core.baseline.load import Baseline, WorkspaceIdentity
from core.collect.arm import ArmReadError
from core.findings.model import Finding, finding_id

WORKSPACE_DELETED = "workspace deleted"
DISCOVERY_RULE = "DBX-EVAL-001"
"""ARM state could not be read: the rule catalogue's evaluation problem for anything ARM did not answer."""
NO_SUBSCRIPTION = "/subscriptions"
"""The resource a "no subscription visible at all" finding is recorded on."""
_WORKSPACE_SEGMENT = "/providers/microsoft.databricks/workspaces/"


def subscription_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[2] if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


def subscription_resource(subscription_id: str | None) -> str:
    return f"/subscriptions/{subscription_id}" if subscription_id else NO_SUBSCRIPTION


def discovery_finding(baseline: Baseline, subscription_id: str | None, cause: str, now: datetime) -> Finding | None:
    """DBX-EVAL-001 for a subscription the sweep could not list (None when the baseline disables the rule)."""
    from core.rules import RULES

    rule = RULES[DISCOVERY_RULE]
    rid = subscription_resource(subscription_id)
    sub = subscription_id or ""
    eff = baseline.effective_for(WorkspaceIdentity(resource_id=rid, name=sub, subscription_id=sub, resource_group=""))
    if rule.id in eff.disabled:
        return None
    what = f"subscription {sub}" if sub else "any subscription"
    return Finding(
        id=finding_id(rid, rule.id, None), rule_id=rule.id, title=rule.title,
        severity=eff.severity_for(rule.id, rule.severity),
        resource_id=rid, subscription_id=sub, workspace_name=sub or "(no subscription)",
        expected="listable", actual=cause[:300],
        message=f"The sweep could not list the workspaces of {what} ({cause[:300]}): none of them is evaluated.",
        remediation="Give driftwatch's identity read access to the subscription (the driftwatch reader role) and "
                    "check DRIFTWATCH_SUBSCRIPTIONS and DRIFTWATCH_AUTH; until it can be listed, its workspaces' "
                    "findings stay as they were.",
        first_seen=now, last_seen=now, source="sweep", baseline_sha256=baseline.sha256)


@dataclass
class SafetyNetOutcome:
    transitions: list[Any] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    """Workspaces confirmed gone (GET 404) whose findings were resolved."""
    rescans: list[str] = field(default_factory=list)
    """Workspaces not listed but still there (GET 200): scanned instead."""
    unconfirmed: list[dict[str, str]] = field(default_factory=list)
    """Not listed and the GET failed: nothing removed."""


def discovery_blind_spots(rt: Any, errors: Iterable[Mapping[str, str]], subscriptions: list[str], now: datetime, *,
                          auto_discovery: bool, listing_failed: bool) -> list[Any]:
    """Open DBX-EVAL-001 on every subscription the sweep could not list; resolve it where it could."""
    store = rt.store()
    failed = {arm_fold(str(e.get("resource_id", ""))): str(e.get("message", "")) for e in errors
              if e.get("stage") == "discovery"}
    out: list[Any] = []

    def record(rid: str, sub: str | None, cause: str | None) -> None:
        finding = None if cause is None else discovery_finding(rt.baseline, sub, cause, now)
        if cause is not None and finding is None:
            return  # disabled by the baseline: neither opened nor resolved
        out.extend(store.reconcile([finding] if finding else [], resource_id=rid,
                                   evaluated_rules=frozenset({DISCOVERY_RULE}), now=now, source="sweep"))

    if auto_discovery:
        if listing_failed:
            record(NO_SUBSCRIPTION, None, failed.get(NO_SUBSCRIPTION, "subscriptions could not be listed"))
            return out
        record(NO_SUBSCRIPTION, None, None if subscriptions
               else "no subscription is visible to driftwatch's identity (nothing to monitor)")
    for sub in subscriptions:
        rid = subscription_resource(sub)
        record(rid, sub, failed.get(arm_fold(rid)))
    return out


def resolve_gone_workspaces(rt: Any, listed_ids: Iterable[str], listed_subscriptions: Iterable[str],
                            failed_subscriptions: Iterable[str], skipped_subscriptions: Iterable[str],
                            now: datetime, *, auto_discovery: bool) -> SafetyNetOutcome:
    """Resolve the findings of workspaces a complete listing no longer shows and ARM confirms gone (404).

    Candidates: workspaces with open findings in a subscription listed completely, or (auto-discovery with
    a successful subscription listing) in a subscription ARM no longer lists at all. A subscription whose
    listing failed, or that was skipped for its state, contributes none.
    """
    listed = {arm_fold(i) for i in listed_ids}
    ok = {arm_fold(s) for s in listed_subscriptions} - {arm_fold(s) for s in failed_subscriptions}
    known = {arm_fold(s) for s in (*listed_subscriptions, *skipped_subscriptions)}
    outcome = SafetyNetOutcome()
    for key, rid in sorted(rt.store().workspaces_with_findings().items()):
        if _WORKSPACE_SEGMENT not in key or key in listed:
            continue
        sub = arm_fold(subscription_of(rid))
        if sub not in ok and not (auto_discovery and sub not in known):
            continue
        try:
            doc = rt.arm.get(rid)
        except ArmReadError as exc:
            outcome.unconfirmed.append({"resource_id": rid, "stage": "discovery",
                                        "message": f"not listed and could not be read: {exc.cause}"})
            continue
        if doc is not None:
            outcome.rescans.append(rid)
            continue
        outcome.transitions.extend(rt.store().resolve_workspace(rid, now, "sweep", reason=WORKSPACE_DELETED))
        rt.topology().remove_workspace(rid)
        outcome.deleted.append(rid)
    return outcome

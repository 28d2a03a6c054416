"""Evaluate one workspace: run every applicable rule whose input was observed, build findings.

Pure: no I/O, the clock comes in as `now`. Returns the findings *and* the rules that were actually
evaluated, so reconciliation resolves only what this evaluation observed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core.baseline.load import Baseline, EffectiveBaseline, WorkspaceIdentity
from core.findings.model import Finding, Source, finding_id
from core.rules.plan import read_plan
from core.rules.registry import ARM_PART_NEEDS, RULES, NotApplicable, Rule
from core.state.model import WorkspaceState
from core.state.reads import Read


@dataclass(frozen=True)
class WorkspaceEvaluation:
    resource_id: str
    findings: list[Finding]
    evaluated_rules: frozenset[str]
    """Rules whose input was observed: their absent findings may be resolved."""
    effective: EffectiveBaseline
    not_applicable: tuple[NotApplicable, ...] = ()
    """Rules (or subjects of rules) that cannot apply to this workspace: no finding, never a pass."""


def identity_of(ws: WorkspaceState) -> WorkspaceIdentity:
    return WorkspaceIdentity(resource_id=ws.resource_id, name=ws.name, subscription_id=ws.subscription_id,
                             resource_group=ws.resource_group, tags=ws.tags)


def _observed(ws: WorkspaceState, needs: str) -> bool:
    stages = {e.stage for e in ws.errors}
    if needs == "none":
        return True
    if ws.arm is None or "arm" in stages:
        return False
    if needs == "arm":
        return True
    if needs == "network":
        return "network" not in stages and (ws.arm.vnet_id is None or ws.network is not None)
    if needs == "diagnostics":
        return "diagnostics" not in stages and ws.diagnostics is not None
    if needs == "rbac":
        return "rbac" not in stages and ws.rbac is not None
    if needs == "workspace_api":
        return "workspace_api" not in stages and ws.workspace_api is not None
    if needs in ARM_PART_NEEDS:
        return ws.arm_extras is not None and ws.arm_extras.observed(needs)
    return False


def api_rules_on(effective: EffectiveBaseline) -> bool:
    """Whether the baseline needs the workspace API at all (collectors skip it otherwise)."""
    return "workspace_api" in read_plan(effective).stages


def network_rules_on(effective: EffectiveBaseline) -> bool:
    return Read.NETWORK in read_plan(effective).parts


def rbac_rules_on(effective: EffectiveBaseline) -> bool:
    """Whether the baseline needs the workspace's Azure role assignments (DBX-IAM-002)."""
    return Read.RBAC in read_plan(effective).parts


def diagnostics_rules_on(effective: EffectiveBaseline) -> bool:
    return Read.DIAGNOSTICS in read_plan(effective).parts


def evaluate_workspace(ws: WorkspaceState, baseline: Baseline, *, now: datetime,
                       source: Source = "cli", rules: Iterable[Rule] | None = None) -> WorkspaceEvaluation:
    effective = baseline.effective_for(identity_of(ws))
    today = now.date()
    findings: list[Finding] = []
    evaluated: set[str] = set()
    inapplicable: list[NotApplicable] = []
    stages: frozenset[str] | None = None
    for r in rules if rules is not None else RULES.values():
        if r.id in effective.disabled or not r.applies(effective.settings):
            evaluated.add(r.id)  # nothing to check: stale findings of a switched-off rule may resolve
            continue
        if r.reports_stage is not None:
            if stages is None:
                stages = read_plan(effective).stages
            if r.reports_stage not in stages:
                evaluated.add(r.id)  # that stage is not read at all: nothing to report, stale findings resolve
                continue
        na = r.not_applicable(ws, effective) if r.inapplicable is not None else []
        if na:
            inapplicable.extend(na)
            if any(n.subject is None for n in na):
                continue  # the whole rule cannot apply: not evaluated, so nothing resolves as a pass
        if not _observed(ws, r.needs):
            continue
        if r.api_family is not None and (ws.workspace_api is None or
                                         not all(ws.workspace_api.family_observed(f) for f in r.api_families)):
            continue  # that family was not read (or failed): DBX-EVAL-002 names it, nothing resolves
        if r.incomplete is None or r.incomplete(ws, effective) is None:
            evaluated.add(r.id)  # partial input: findings stand, but nothing unseen resolves (never a pass)
        severity = effective.severity_for(r.id, r.severity)
        for v in r.check(ws, effective):
            if na and any(n.covers(r.id, v.subject) for n in na):
                continue  # the check itself should skip these; never report what cannot apply
            exemption = baseline.exemption_for(r.id, ws.resource_id, v.subject, today)
            status = "open"
            message = v.message
            record = None
            if exemption is not None:
                record = exemption.record()
                if exemption.expired:
                    message += f" (exemption expired on {exemption.exemption.expires.isoformat()})"
                else:
                    status = "exempted"
            findings.append(Finding(
                id=finding_id(ws.resource_id, r.id, v.subject),
                rule_id=r.id,
                title=r.title,
                severity=v.severity or severity,
                status=status,
                resource_id=ws.resource_id,
                subscription_id=ws.subscription_id,
                workspace_name=ws.name,
                related_resource_id=v.related_resource_id,
                subject=v.subject,
                expected=v.expected,
                actual=v.actual,
                message=message,
                remediation=r.remediation,
                first_seen=now,
                last_seen=now,
                source=source,
                baseline_sha256=baseline.sha256,
                exemption=record,
            ))
    return WorkspaceEvaluation(resource_id=ws.resource_id, findings=findings,
                               evaluated_rules=frozenset(evaluated), effective=effective,
                               not_applicable=tuple(inapplicable))

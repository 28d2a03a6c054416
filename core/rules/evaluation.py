"""DBX-EVAL-*: the evaluation itself failed for part of a workspace (failures become findings)."""

from __future__ import annotations

from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.rules.registry import Violation, rule
from core.state.model import WorkspaceState
from core.state.reads import ReadPlan

ARM_STAGES = ("arm", "network", "diagnostics")


@rule(id="DBX-EVAL-001", inputs=ReadPlan(),
      remediation="Check that driftwatch's identity has the driftwatch reader role on the subscription and that "
                  "ARM answers; the findings that need this state stay as they were until it can be read.",
      applies=lambda s: True)
def arm_unreadable(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads the collector's errors for the workspace document, its network resources and diagnostic
    settings: one finding without subject. Role assignments that could not be read (403 without
    `Microsoft.Authorization/roleAssignments/read`, 404, timeout) are one finding with subject
    `role_assignments`; only DBX-IAM-002 goes unevaluated. An extra ARM read (access connector, locks,
    private DNS zone groups) that failed while the document was read is one finding with that part as
    `subject`; only the rules reading it go unevaluated."""
    errs = [e for e in ws.errors if e.stage in ARM_STAGES]
    if ws.arm is None or errs:
        detail = "; ".join(f"{e.stage}: {e.message}" for e in errs) or "workspace document not read"
        related = next((e.related_resource_id for e in errs if e.related_resource_id), None)
        yield Violation(f"ARM state could not be read ({detail}).", expected="readable", actual=detail,
                        related_resource_id=related)
    rbac = [e for e in ws.errors if e.stage == "rbac"]
    if rbac:
        detail = "; ".join(e.message for e in rbac)
        yield Violation(f"Azure role assignments of the workspace could not be read ({detail}); DBX-IAM-002 is "
                        f"not evaluated.", expected="readable", actual=detail, subject="role_assignments",
                        related_resource_id=next((e.related_resource_id for e in rbac if e.related_resource_id),
                                                 None))
    extras = ws.arm_extras
    if extras is not None:
        for part, cause in sorted(extras.part_errors.items()):
            yield Violation(f"ARM {part} could not be read ({cause}); the rules reading it are not evaluated.",
                            expected="readable", actual=cause, subject=part)


@rule(id="DBX-EVAL-002", inputs=ReadPlan(), reports_stage="workspace_api",
      remediation="Check that the workspace is reachable from driftwatch (private access needs VNet "
                  "integration), that its identity is a workspace admin, and that IP access lists allow it.",
      applies=lambda s: True)
def workspace_api_unreadable(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads the collector's errors for the workspace API (unreachable, 401/403, timeout): one finding
    without subject. A single family that failed (403, 404, FEATURE_DISABLED, timeout, time budget) while
    the rest was read is one finding with that family as `subject`; only its rules go unevaluated."""
    errs = [e for e in ws.errors if e.stage == "workspace_api"]
    if errs:
        detail = "; ".join(e.message for e in errs)
        yield Violation(f"Workspace API could not be read ({detail}).", expected="readable", actual=detail)
    api = ws.workspace_api
    if api is not None:
        for family, cause in sorted(api.family_errors.items()):
            yield Violation(f"Workspace API family {family} could not be read ({cause}); its rules are not "
                            f"evaluated.", expected="readable", actual=cause, subject=family)

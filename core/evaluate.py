"""Evaluate many workspaces against a baseline: the step shared by `evaluate`, `scan` and the Functions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.baseline.load import Baseline
from core.findings.model import SEVERITY_ORDER, Finding, Source
from core.rules import evaluate_workspace, read_plan
from core.rules.engine import WorkspaceEvaluation
from core.state.model import WorkspaceState

SCAN_SCHEMA = "driftwatch.scan/v1"


@dataclass
class ScanResult:
    scan_id: str
    started_at: datetime
    finished_at: datetime
    baseline_sha256: str
    evaluations: list[WorkspaceEvaluation] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    """`{resource_id, reason}`: not evaluated on purpose (subscription not served, workspace not settled)."""

    @property
    def findings(self) -> list[Finding]:
        return [f for ev in self.evaluations for f in ev.findings]

    @property
    def not_applicable(self) -> list[dict[str, object]]:
        """Rules that cannot apply to a workspace (ARCHITECTURE 4.1 `not_applicable`), never counted as pass."""
        return [n.record(ev.resource_id) for ev in self.evaluations for n in ev.not_applicable]

    @property
    def workspaces_scanned(self) -> int:
        return len(self.evaluations)

    def document(self) -> dict[str, Any]:
        """The `driftwatch.scan/v1` document of ARCHITECTURE 4.1."""
        return {
            "schema": SCAN_SCHEMA,
            "scan_id": self.scan_id,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "baseline_sha256": self.baseline_sha256,
            "workspaces_scanned": self.workspaces_scanned,
            "findings": [f.to_json_dict() for f in sort_findings(self.findings)],
            "errors": self.errors,
            "not_applicable": self.not_applicable,
            "skipped": self.skipped,
        }


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then workspace, rule and subject: the order people read."""
    return sorted(findings, key=lambda f: (-SEVERITY_ORDER[f.severity], f.workspace_name.lower(), f.rule_id,
                                          (f.subject or "").lower()))


def relevant_errors(ws: WorkspaceState, ev: WorkspaceEvaluation) -> list[dict[str, str]]:
    """Collection errors that left a checked part of this workspace unevaluated."""
    wanted = {"arm"} | (read_plan(ev.effective).stages & {"network", "diagnostics", "workspace_api", "rbac"})
    return [{"resource_id": ws.resource_id, "stage": e.stage, "message": e.message}
            for e in ws.errors if e.stage in wanted]


def evaluate_states(states: Iterable[WorkspaceState], baseline: Baseline, *, source: Source = "cli",
                    now: datetime | None = None, errors: Iterable[dict[str, str]] = (),
                    skipped: Iterable[dict[str, str]] = ()) -> ScanResult:
    started = now or datetime.now(UTC)
    result = ScanResult(scan_id=str(uuid.uuid4()), started_at=started, finished_at=started,
                        baseline_sha256=baseline.sha256, errors=list(errors), skipped=list(skipped))
    for ws in states:
        ev = evaluate_workspace(ws, baseline, now=started, source=source)
        result.evaluations.append(ev)
        result.errors.extend(relevant_errors(ws, ev))
    result.finished_at = datetime.now(UTC) if now is None else started
    return result

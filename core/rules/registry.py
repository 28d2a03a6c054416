"""The rule registry: each rule is a small pure function with its metadata beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from core.baseline.load import EffectiveBaseline
from core.baseline.model import Settings
from core.state.model import WorkspaceState

Needs = Literal["arm", "network", "diagnostics", "workspace_api", "none"]


@dataclass(frozen=True)
class Violation:
    """What a rule reports; the engine turns it into a Finding (ids, times, exemptions)."""

    message: str
    expected: Any = None
    actual: Any = None
    subject: str | None = None
    related_resource_id: str | None = None


Check = Callable[[WorkspaceState, EffectiveBaseline], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    family: str
    needs: Needs
    remediation: str
    reads: str
    """The Azure / Databricks setting the rule reads (for docs and `driftwatch rules`)."""
    applies: Callable[[Settings], bool]
    """True when the baseline asks for this check (its key is set)."""
    check: Check

    def metadata(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "severity": self.severity, "family": self.family,
                "reads": self.reads, "needs": self.needs, "remediation": self.remediation}


RULES: dict[str, Rule] = {}


def rule(*, id: str, title: str, severity: str, needs: Needs, remediation: str,
         applies: Callable[[Settings], bool]) -> Callable[[Check], Check]:
    """Register a check; its docstring says which setting it reads."""

    def register(fn: Check) -> Check:
        if id in RULES:
            raise ValueError(f"duplicate rule id {id}")
        doc = " ".join((fn.__doc__ or "").split())
        RULES[id] = Rule(id=id, title=title, severity=severity, family=id.split("-")[1], needs=needs,
                         remediation=remediation, reads=doc, applies=applies, check=fn)
        return fn

    return register

"""The rule registry: each rule is a small pure function with its metadata beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from typing import Any

from core.arm_ids import arm_fold
from core.baseline.load import EffectiveBaseline
from core.baseline.model import Settings
from core.catalogue import load_catalogue
from core.state.model import WorkspaceState
from core.state.reads import ARM_EXTRAS, ReadPlan, Stage

Needs = Stage
ARM_PART_NEEDS: tuple[str, ...] = tuple(sorted(r.value for r in ARM_EXTRAS))
"""Needs served by `WorkspaceState.arm_extras` (reads beyond the workspace document)."""


@dataclass(frozen=True)
class Violation:
    """What a rule reports; the engine turns it into a Finding (ids, times, exemptions)."""

    message: str
    expected: Any = None
    actual: Any = None
    subject: str | None = None
    related_resource_id: str | None = None
    severity: str | None = None
    """Overrides the rule's (baseline-adjusted) severity for this one finding, e.g. latent NSG exposure at low."""


@dataclass(frozen=True)
class NotApplicable:
    """A rule (or one subject of it, e.g. WS-006's `managed_disk`) that cannot apply to this workspace.

    Not a pass: no finding is made, the scan output lists it, and open findings it covers are resolved
    with `reason` recorded in their history (a workspace cannot change compute mode).
    """

    rule_id: str
    reason: str
    subject: str | None = None

    def covers(self, rule_id: str, subject: str | None) -> bool:
        return rule_id == self.rule_id and (self.subject is None or
                                            arm_fold(subject or "") == arm_fold(self.subject))

    def record(self, resource_id: str) -> dict[str, Any]:
        """The `not_applicable` entry of the scan document (ARCHITECTURE 4.1)."""
        return {"resource_id": resource_id, "rule_id": self.rule_id, "reason": self.reason, "subject": self.subject}


Check = Callable[[WorkspaceState, EffectiveBaseline], Iterable[Violation]]
Inapplicable = Callable[[WorkspaceState, EffectiveBaseline], Iterable[tuple[str | None, str]]]
"""(subject or None for the whole rule, reason) for what cannot apply to this workspace."""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    family: str
    """Title, default severity and family come from the catalogue (core/catalogue/rules.yaml)."""
    needs: Needs
    """The collection stage the rule's input comes from, derived from `inputs` (`ReadPlan.stage`)."""
    remediation: str
    reads: str
    """The Azure / Databricks setting the rule reads (for docs and `driftwatch rules`)."""
    applies: Callable[[Settings], bool]
    """True when the baseline asks for this check (its key is set)."""
    check: Check
    inputs: ReadPlan
    """The parts of the state the rule reads: the collector fetches the union of these for the rules that are
    on (core/rules/plan.py), and nothing else."""
    inapplicable: Inapplicable | None = None
    """What of this rule cannot apply to a given workspace (e.g. classic-compute rules on Serverless)."""
    api_family: str | tuple[str, ...] | None = None
    """The workspace-API family (a `WorkspaceApiState` part, e.g. `token_permissions`) the rule reads
    beyond the core reads; a failure of that family leaves this rule, and only it, unevaluated. A tuple
    names several families, all of which must have been read."""
    incomplete: Callable[[WorkspaceState, EffectiveBaseline], str | None] | None = None
    """Why the input the rule saw is only part of the truth (e.g. a storage-credential list read without
    metastore admin), or None. Its findings are still reported, but the rule does not count as evaluated:
    nothing it did not see resolves, and it is never a pass."""
    more_inputs: Callable[[Settings], ReadPlan] | None = None
    """Inputs that depend on the baseline (the workspace-conf keys it names, an optional sub-check)."""
    reports_stage: Needs | None = None
    """The collection stage whose failures the rule reports: it is on only while some rule that is on reads
    from that stage (no workspace-API rule on -> the API is not called, so DBX-EVAL-002 has nothing to say)."""

    def inputs_for(self, settings: Settings) -> ReadPlan:
        return self.inputs if self.more_inputs is None else self.inputs | self.more_inputs(settings)

    @property
    def api_families(self) -> tuple[str, ...]:
        if self.api_family is None:
            return ()
        return (self.api_family,) if isinstance(self.api_family, str) else self.api_family

    def not_applicable(self, ws: WorkspaceState, b: EffectiveBaseline) -> list[NotApplicable]:
        if self.inapplicable is None or ws.arm is None:
            return []
        return [NotApplicable(self.id, reason, subject) for subject, reason in self.inapplicable(ws, b)]

    def metadata(self) -> dict[str, Any]:
        """What `driftwatch rules --format json` shows of a rule: its catalogue entry and its declarations."""
        entry = load_catalogue().entry(self.id)
        return {"id": self.id, "title": self.title, "severity": self.severity, "family": self.family,
                "risk": entry.risk, "references": list(entry.references),
                "reads": self.reads, "needs": self.needs, "remediation": self.remediation,
                "not_applicable_when": getattr(self.inapplicable, "label", None)}


class RuleRegistry(Mapping[str, Rule]):
    """Registered rules by id, iterated in catalogue order whatever order their modules were imported in."""

    def __init__(self) -> None:
        self._position = {rule_id: i for i, rule_id in enumerate(load_catalogue().ids)}
        self._rules: dict[str, Rule] = {}

    def add(self, r: Rule) -> None:
        if r.id in self._rules:
            raise ValueError(f"duplicate rule id {r.id}")
        if r.id not in self._position:
            raise KeyError(f"{r.id} is not in the rule catalogue (core/catalogue/rules.yaml)")
        rules = {**self._rules, r.id: r}
        self._rules = {i: rules[i] for i in sorted(rules, key=self._position.__getitem__)}  # catalogue order

    def __getitem__(self, rule_id: str) -> Rule:
        return self._rules[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def values(self) -> ValuesView[Rule]:
        return self._rules.values()

    def missing(self) -> list[str]:
        """Catalogue rules without a registered check."""
        return [i for i in self._position if i not in self._rules]


RULES = RuleRegistry()


def rule(*, id: str, inputs: ReadPlan, remediation: str, applies: Callable[[Settings], bool],
         more_inputs: Callable[[Settings], ReadPlan] | None = None, reports_stage: Needs | None = None,
         inapplicable: Inapplicable | None = None,
         api_family: str | tuple[str, ...] | None = None,
         incomplete: Callable[[WorkspaceState, EffectiveBaseline], str | None] | None = None
         ) -> Callable[[Check], Check]:
    """Register a check for catalogue rule `id`; its docstring says which setting it reads, `inputs` which
    parts of the state."""
    entry = load_catalogue().entry(id)  # KeyError: a check for a rule the catalogue does not list

    def register(fn: Check) -> Check:
        doc = " ".join((fn.__doc__ or "").split())
        RULES.add(Rule(id=id, title=entry.title, severity=entry.severity, family=entry.family,
                       needs=inputs.stage(), remediation=remediation, reads=doc, applies=applies, check=fn,
                       inapplicable=inapplicable, api_family=api_family, incomplete=incomplete,
                       inputs=inputs, more_inputs=more_inputs, reports_stage=reports_stage))
        return fn

    return register

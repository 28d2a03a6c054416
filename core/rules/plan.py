"""What to read for a workspace: the union of the inputs the rules that are on declare.

Pure: the shell passes the result to the collector (`core/collect` maps each `Read` to its calls and knows no
rule). A rule counts when the baseline asks for it (`applies`), it is not disabled, and it belongs to the
scan's families (audit-driven scans; None = every family). Given the workspace's ARM document, a rule that
cannot apply to it at all (IP access lists on a private-only workspace) reads nothing, except the network:
the VNet, subnets and NSGs are read whenever a network rule is on, because they also name the resources
event routing maps to the workspace (core/state/footprint.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from core.baseline.load import EffectiveBaseline
from core.rules.registry import RULES, Rule
from core.state.model import WorkspaceArm, WorkspaceState
from core.state.reads import Read, ReadPlan

_READ_EVEN_WHERE_INAPPLICABLE = frozenset({Read.NETWORK})


def rule_is_on(r: Rule, eff: EffectiveBaseline, families: frozenset[str] | None = None) -> bool:
    return (families is None or r.family in families) and r.id not in eff.disabled and r.applies(eff.settings)


def read_plan(eff: EffectiveBaseline, *, arm: WorkspaceArm | None = None, families: frozenset[str] | None = None,
              rules: Iterable[Rule] | None = None) -> ReadPlan:
    """The reads the effective baseline's rules need, in catalogue order (empty = nothing beyond ARM)."""
    state = None if arm is None else WorkspaceState(resource_id="", name="", subscription_id="",
                                                    resource_group="", arm=arm)
    plan = ReadPlan()
    for r in RULES.values() if rules is None else rules:
        if not rule_is_on(r, eff, families):
            continue
        inputs = r.inputs_for(eff.settings)
        if state is not None and any(n.subject is None for n in r.not_applicable(state, eff)):
            inputs = ReadPlan(inputs.parts & _READ_EVEN_WHERE_INAPPLICABLE)
        plan |= inputs
    return plan

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

_READ_EVEN_WHERE_INAPPLICABLE = frozenset({Read.WORKSPACE, Read.NETWORK})
"""Read whether or not the rule can apply (the workspace document is always read)."""


def read_plan(eff: EffectiveBaseline, *, arm: WorkspaceArm | None = None, families: frozenset[str] | None = None,
              rules: Iterable[Rule] | None = None) -> ReadPlan:
    """The reads the effective baseline's rules need, in catalogue order (empty = nothing beyond ARM)."""
    if rules is None:
        key = ("read_plan", families)
        if arm is None and key in eff.derived:
            return eff.derived[key]
        on = _rules_on(eff, families)
    else:
        on = _select(eff, families, rules)
    state = None if arm is None else WorkspaceState(resource_id="", name="", subscription_id="",
                                                    resource_group="", arm=arm)
    parts: set[Read] = set()
    conf_keys: dict[str, None] = {}
    settings_types: dict[str, None] = {}
    for r, inputs in on:
        if (state is not None and r.inapplicable is not None and not inputs.parts <= _READ_EVEN_WHERE_INAPPLICABLE
                and any(n.subject is None for n in r.not_applicable(state, eff))):
            parts |= inputs.parts & _READ_EVEN_WHERE_INAPPLICABLE
            continue
        parts |= inputs.parts
        if inputs.conf_keys:
            conf_keys.update(dict.fromkeys(inputs.conf_keys))
        if inputs.settings_types:
            settings_types.update(dict.fromkeys(inputs.settings_types))
    plan = ReadPlan(frozenset(parts), tuple(conf_keys), tuple(settings_types))
    if rules is None and arm is None:
        eff.derived[("read_plan", families)] = plan
    return plan


def _select(eff: EffectiveBaseline, families: frozenset[str] | None,
            rules: Iterable[Rule]) -> tuple[tuple[Rule, ReadPlan], ...]:
    """The rules that are on (asked for, not disabled, in the families) with their inputs for these settings."""
    settings, disabled = eff.settings, eff.disabled
    return tuple((r, r.inputs if r.more_inputs is None else r.inputs_for(settings)) for r in rules
                 if (families is None or r.family in families) and r.id not in disabled and r.applies(settings))


def _rules_on(eff: EffectiveBaseline, families: frozenset[str] | None) -> tuple[tuple[Rule, ReadPlan], ...]:
    """`_select` over the whole catalogue, once per effective baseline and families."""
    key = ("rules_on", families)
    on = eff.derived.get(key)
    if on is None:
        on = eff.derived[key] = _select(eff, families, RULES.values())
    return on

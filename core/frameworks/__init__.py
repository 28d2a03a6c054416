"""Compliance frameworks: which controls each rule evidences (data in `mappings.yaml`).

A control *passes* for a workspace only when every rule mapped to it was checked there and none
of them has an open finding; a control with an open finding *fails*; otherwise it is *not
evaluated* (a rule was not observed, not applicable or disabled) and never counted as a pass.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.packaged import load_packaged_yaml

FRAMEWORKS_SCHEMA = "driftwatch.frameworks/v1"
FRAMEWORK_NAMES = ("cis", "mcsb", "sat")
"""`sat` is a crosswalk to the Security Analysis Tool's check ids, not a benchmark."""
ControlStatus = Literal["pass", "fail", "not_evaluated"]


class Framework(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    version: str
    source: str
    controls: dict[str, str]


class FrameworkData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: Literal["driftwatch.frameworks/v1"] = Field(alias="schema")
    frameworks: dict[str, Framework]
    mappings: dict[str, dict[str, list[str]]]
    unmapped: dict[str, str]
    unmapped_for: dict[str, dict[str, str]] = Field(default_factory=dict)
    """rule -> framework -> why: a rule mapped for some frameworks and deliberately not for these."""


class ControlRef(BaseModel):
    """One control a rule evidences: the optional `controls` entries of a finding (ARCHITECTURE 4.2)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    framework: str
    control: str
    version: str
    title: str


def _validate(data: FrameworkData) -> FrameworkData:
    for rule_id, per_fw in data.mappings.items():
        for fw, controls in per_fw.items():
            if fw not in data.frameworks:
                raise ValueError(f"mappings.{rule_id}: unknown framework {fw!r}")
            unknown = [c for c in controls if c not in data.frameworks[fw].controls]
            if unknown:
                raise ValueError(f"mappings.{rule_id}.{fw}: control(s) {unknown} not listed under frameworks.{fw}")
    for rule_id, reasons in data.unmapped_for.items():
        if rule_id not in data.mappings:
            raise ValueError(f"unmapped_for.{rule_id}: the rule is mapped for no framework; list it under unmapped")
        for fw in reasons:
            if fw not in data.frameworks or fw in data.mappings[rule_id]:
                raise ValueError(f"unmapped_for.{rule_id}.{fw}: unknown framework or the rule is mapped for it")
    return data


@functools.cache
def load_frameworks() -> FrameworkData:
    """The packaged mapping file, validated (a control must be declared before a rule may name it)."""
    return _validate(FrameworkData.model_validate(load_packaged_yaml("core.frameworks", "mappings.yaml")))


def framework(name: str) -> Framework:
    data = load_frameworks()
    if name not in data.frameworks:
        raise KeyError(name)
    return data.frameworks[name]


def controls_for(rule_id: str, frameworks: Iterable[str] | None = None) -> list[ControlRef]:
    """The controls `rule_id` evidences, in framework then control order (empty when unmapped)."""
    data = load_frameworks()
    wanted = set(frameworks) if frameworks is not None else None
    out = []
    for fw, controls in data.mappings.get(rule_id, {}).items():
        if wanted is not None and fw not in wanted:
            continue
        f = data.frameworks[fw]
        out += [ControlRef(framework=fw, control=c, version=f.version, title=f.controls[c]) for c in controls]
    return out


def rules_for(framework_name: str, control: str | None = None) -> frozenset[str]:
    """Rule ids mapped to the framework (and to `control`, when given)."""
    data = load_frameworks()
    return frozenset(r for r, per_fw in data.mappings.items()
                     if framework_name in per_fw and (control is None or control in per_fw[framework_name]))


def control_rules(framework_name: str) -> dict[str, list[str]]:
    """control id -> the rule ids mapped to it, for every control the framework declares."""
    data = load_frameworks()
    out: dict[str, list[str]] = {c: [] for c in data.frameworks[framework_name].controls}
    for rule_id, per_fw in data.mappings.items():
        for c in per_fw.get(framework_name, []):
            out[c].append(rule_id)
    return out


def unmapped_rules(catalogue: Iterable[str]) -> tuple[list[str], list[str]]:
    """(catalogue rules neither mapped nor listed unmapped, mapped/unmapped ids not in the catalogue)."""
    data = load_frameworks()
    known = set(data.mappings) | set(data.unmapped)
    cat = set(catalogue)
    return sorted(cat - known), sorted(known - cat)


def control_status(rules: Iterable[str], checked: Iterable[str], open_rules: Iterable[str]) -> ControlStatus:
    """pass / fail / not_evaluated of one control for one workspace (see the module docstring)."""
    rules, checked_set, open_set = set(rules), set(checked), set(open_rules)
    if rules & open_set:
        return "fail"
    if rules and rules <= checked_set:
        return "pass"
    return "not_evaluated"


def with_controls(finding_json: Mapping[str, Any], frameworks: Iterable[str] | None = None) -> dict[str, Any]:
    """The finding's wire form with `controls` filled from the mapping (unchanged when already set)."""
    out = dict(finding_json)
    if not out.get("controls"):
        refs = controls_for(str(out.get("rule_id")), frameworks)
        out["controls"] = [r.model_dump() for r in refs]
    return out

"""The rule catalogue (`rules.yaml`): every rule's id, family, default severity and title, in catalogue order.

The one source of rule metadata. The baseline validator reads the ids from here (it cannot import the
rules, which import the baseline), the registry in `core/rules` takes each rule's title, severity and family
from here and lists rules in this order, and the docs are generated in this order. Compliance mappings are
not repeated: `compliance` names the mapping file (`core/frameworks`), and `RuleEntry.controls` reads it.
Pure: a packaged YAML file, no SDK, no network.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.frameworks import ControlRef, controls_for
from core.packaged import load_packaged_yaml
from core.terms import RULE_ID_RE, Severity

CATALOGUE_SCHEMA = "driftwatch.rule-catalogue/v1"
COMPLIANCE_FILE = "core/frameworks/mappings.yaml"


class RuleEntry(BaseModel):
    """One rule's metadata. `risk` and `references` are optional (none is filled in yet)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    family: str
    severity: Severity
    """The default; a baseline may override it (`defaults.severity`)."""
    title: str = Field(min_length=1)
    risk: str | None = None
    """What goes wrong when the check fails, for readers of findings and docs."""
    references: tuple[str, ...] = ()
    """Where the setting is documented (Microsoft Learn / Databricks docs URLs)."""

    @model_validator(mode="after")
    def _id_names_family(self) -> RuleEntry:
        if not RULE_ID_RE.match(self.id) or self.id.split("-")[1] != self.family:
            raise ValueError(f"rule {self.id!r}: the id must be DBX-{self.family}-NNN")
        return self

    @property
    def controls(self) -> list[ControlRef]:
        """The compliance controls this rule evidences (from the mapping file, never from here)."""
        return controls_for(self.id)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["driftwatch.rule-catalogue/v1"] = Field(alias="schema")
    compliance: Literal["core/frameworks/mappings.yaml"]
    """The compliance mapping file (issue 16): rule id -> framework controls."""
    rules: tuple[RuleEntry, ...]

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        seen: set[str] = set()
        for r in self.rules:
            if r.id in seen:
                raise ValueError(f"rule {r.id} is listed twice")
            seen.add(r.id)
        return self

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    def entry(self, rule_id: str) -> RuleEntry:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


@functools.cache
def load_catalogue() -> Catalogue:
    """The packaged catalogue, validated (unknown keys, bad ids and duplicates are errors naming the rule)."""
    return Catalogue.model_validate(load_packaged_yaml("core.catalogue", "rules.yaml"))


RULE_IDS: tuple[str, ...] = load_catalogue().ids
"""Every rule id, in catalogue order (ARCHITECTURE 4.4)."""

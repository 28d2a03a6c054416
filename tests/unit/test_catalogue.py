"""The rule catalogue (core/catalogue/rules.yaml) is the one source of rule metadata and order."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from core.catalogue import RULE_IDS, Catalogue, load_catalogue
from core.docs_gen import render_rules_markdown
from core.frameworks import controls_for, unmapped_rules
from core.rules import RULES
from core.rules.registry import rule
from core.state.reads import ReadPlan

ROOT = Path(__file__).resolve().parents[2]


def test_registry_takes_metadata_and_order_from_the_catalogue() -> None:
    cat = load_catalogue()
    assert RULES.missing() == [] and len(RULES) == len(cat.rules)
    assert list(RULES) == list(RULE_IDS) == [e.id for e in cat.rules]
    for e in cat.rules:
        r = RULES[e.id]
        assert (r.title, r.severity, r.family) == (e.title, e.severity, e.family)


def test_docs_list_rules_in_catalogue_order() -> None:
    table, rest = render_rules_markdown().split("## Compliance frameworks")
    assert re.findall(r"^\| (DBX-[A-Z]+-\d{3}) \|", table, re.MULTILINE) == list(RULE_IDS)
    assert re.findall(r"^### (DBX-[A-Z]+-\d{3}) —", rest, re.MULTILINE) == list(RULE_IDS)  # remediation


def test_compliance_is_referenced_not_repeated() -> None:
    """Controls come from core/frameworks/mappings.yaml; every catalogue rule is mapped or says why not."""
    cat = load_catalogue()
    assert (ROOT / cat.compliance).is_file()
    assert unmapped_rules(cat.ids)[0] == []
    raw = yaml.safe_load((ROOT / "core" / "catalogue" / "rules.yaml").read_text(encoding="utf-8"))
    assert all(set(entry) <= {"id", "family", "severity", "title", "risk", "references"} for entry in raw["rules"])
    assert cat.entry("DBX-WS-002").controls == controls_for("DBX-WS-002") != []


def _doc(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "driftwatch.rule-catalogue/v1", "compliance": "core/frameworks/mappings.yaml",
            "rules": list(rules)}


@pytest.mark.parametrize(("rules", "message"), [
    (({"id": "DBX-WS-001", "family": "WS", "severity": "high", "title": "a"},
      {"id": "DBX-WS-001", "family": "WS", "severity": "low", "title": "b"}), "DBX-WS-001 is listed twice"),
    (({"id": "DBX-WS-001", "family": "NET", "severity": "high", "title": "a"},), "must be DBX-NET-NNN"),
    (({"id": "DBX-WS-001", "family": "WS", "severity": "urgent", "title": "a"},), "severity"),
    (({"id": "DBX-WS-001", "family": "WS", "severity": "high", "title": "a", "sevrity": "low"},), "sevrity"),
])
def test_a_bad_catalogue_is_refused_naming_the_rule(rules: tuple[dict[str, Any], ...], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Catalogue.model_validate(_doc(*rules))


def test_a_check_for_a_rule_the_catalogue_does_not_list_is_refused() -> None:
    with pytest.raises(KeyError, match="DBX-WS-999"):
        rule(id="DBX-WS-999", inputs=ReadPlan(), remediation="-", applies=lambda s: True)

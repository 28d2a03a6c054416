"""Every catalogue rule says why it matters (`risk`) and where its setting is documented (`references`).

Issue 11 §5 / review P7: the metadata Prowler-style checks carry (risk, references) lives in
core/catalogue/rules.yaml and is shown in docs/rules.md. References are official pages only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from core.catalogue import RuleEntry, load_catalogue

OFFICIAL_HOSTS = frozenset({
    "learn.microsoft.com",  # Microsoft Learn: Azure Databricks, ARM, networking, Azure Monitor, REST API
    "docs.databricks.com",  # Databricks documentation and REST API reference
    "kb.databricks.com",  # Databricks knowledge base (vendor-run)
    "www.cisecurity.org",  # CIS benchmarks
})

RULES_WITHOUT_REFERENCES = {
    # These report driftwatch's own read failures (ARM / workspace API not readable), not a platform
    # setting, so no vendor page documents what they check.
    "DBX-EVAL-001",
    "DBX-EVAL-002",
}

MAX_REFERENCES = 3

ENTRIES = load_catalogue().rules


def _problems(entry: RuleEntry) -> list[str]:
    problems = []
    if not (entry.risk or "").strip():
        problems.append("empty risk")
    if not entry.references and entry.id not in RULES_WITHOUT_REFERENCES:
        problems.append("no references (add one, or list the rule in RULES_WITHOUT_REFERENCES with why)")
    if len(entry.references) > MAX_REFERENCES:
        problems.append(f"{len(entry.references)} references (at most {MAX_REFERENCES})")
    if len(set(entry.references)) != len(entry.references):
        problems.append("a reference is listed twice")
    for url in entry.references:
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname not in OFFICIAL_HOSTS or parts.query or parts.username:
            problems.append(f"reference {url!r} is not a plain https URL on an official host")
    return problems


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_rule_has_risk_and_official_references(entry: RuleEntry) -> None:
    assert _problems(entry) == []


def test_the_exception_list_names_only_catalogue_rules_without_references() -> None:
    """An exception that no longer applies (or names a rule that does not exist) is removed, not kept."""
    ids = {e.id for e in ENTRIES}
    assert ids >= RULES_WITHOUT_REFERENCES
    assert {e.id for e in ENTRIES if e.id in RULES_WITHOUT_REFERENCES and e.references} == set()


@pytest.mark.parametrize(("change", "problem"), [
    ({"risk": " "}, "empty risk"),
    ({"references": ()}, "no references"),
    ({"references": ("http://learn.microsoft.com/azure/databricks/",)}, "not a plain https URL"),
    ({"references": ("https://example.com/databricks",)}, "not a plain https URL"),
    ({"references": ("https://learn.microsoft.com/azure/x?wt.mc_id=1",)}, "not a plain https URL"),
    ({"references": ("https://docs.databricks.com/a",) * 2}, "listed twice"),
])
def test_the_check_refuses_a_bad_entry(change: dict[str, object], problem: str) -> None:
    good = load_catalogue().entry("DBX-WS-002")
    bad = good.model_copy(update=change)
    assert any(problem in p for p in _problems(bad)), _problems(bad)

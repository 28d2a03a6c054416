"""Issue 16 §3: every MCSB mapping names the Azure Databricks baseline feature or built-in policy it comes from
(a comment above its line in core/frameworks/mappings.yaml), and the verified mapping is pinned here."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from core.frameworks import FrameworkData, _validate, control_rules, load_frameworks, rules_for


def _mapping_comments() -> dict[str, str]:
    """rule id -> the comment lines directly above its mapping line."""
    lines = resources.files("core.frameworks").joinpath("mappings.yaml").read_text(encoding="utf-8").splitlines()
    out: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = re.match(r"^  (DBX-[A-Z]+-\d{3}): \{", line)
        if not m:
            continue
        j, above = i - 1, []
        while j >= 0 and lines[j].lstrip().startswith("#"):
            above.append(lines[j])
            j -= 1
        out[m.group(1)] = "\n".join(reversed(above))
    return out


def test_every_mcsb_mapping_names_its_source_feature_or_policy() -> None:
    comments = _mapping_comments()
    data = load_frameworks()
    mapped = {r: per["mcsb"] for r, per in data.mappings.items() if "mcsb" in per}
    assert mapped
    for rule_id, controls in mapped.items():
        for control in controls:
            assert re.search(rf"mcsb {control}: (baseline {control} \"|policy [0-9a-f]{{8}} \"|part of )",
                             comments.get(rule_id, "")), f"{rule_id} -> {control}: no source comment"


def test_the_verified_mcsb_mapping() -> None:
    assert rules_for("mcsb", "NS-1") == {"DBX-NET-001", "DBX-NET-002", "DBX-NET-003", "DBX-NET-004", "DBX-NET-005"}
    assert rules_for("mcsb", "NS-2") == {"DBX-WS-002", "DBX-WS-003", "DBX-WS-005", "DBX-NET-001", "DBX-NET-008",
                                         "DBX-IPACL-001", "DBX-IPACL-002", "DBX-IPACL-003", "DBX-IPACL-004"}
    assert rules_for("mcsb", "LT-3") == {"DBX-WS-010"} and rules_for("mcsb", "DP-6") == {"DBX-WS-014"}
    data = load_frameworks()
    assert "IM-1" not in data.frameworks["mcsb"].controls
    assert set(data.unmapped_for) == {"DBX-TOKEN-001", "DBX-TOKEN-002"}
    assert all("mcsb" not in data.mappings[r] and len(why["mcsb"]) > 40 for r, why in data.unmapped_for.items())
    assert all(rules for rules in control_rules("mcsb").values()), "a declared MCSB control no rule evidences"


def test_unmapped_for_cannot_contradict_a_mapping() -> None:
    data = load_frameworks()
    bad = FrameworkData.model_validate({**data.model_dump(by_alias=True),
                                        "unmapped_for": {"DBX-WS-003": {"mcsb": "x" * 50}}})
    with pytest.raises(ValueError, match=r"unmapped_for\.DBX-WS-003\.mcsb"):
        _validate(bad)
    orphan = FrameworkData.model_validate({**data.model_dump(by_alias=True),
                                           "unmapped_for": {"DBX-WS-001": {"mcsb": "x" * 50}}})
    with pytest.raises(ValueError, match="list it under unmapped"):
        _validate(orphan)

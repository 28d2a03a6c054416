"""Issue 10 §7: bad input is an error naming what is wrong, never silently dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.baseline import parse_baseline
from core.baseline.load import BaselineError, load_baseline
from core.rules import evaluate_workspace
from core.state import parse_estate
from core.state.parse import StateError, parse_workspace_api
from samples import factory as f
from tests.support.estates import NOW, STRICT_BASELINE, compliant_estate

BASELINE = parse_baseline(STRICT_BASELINE, "strict-baseline")

ROOT = Path(__file__).resolve().parents[2]
DAY_MS = 86_400_000


@pytest.mark.parametrize("key", ["defaults", "disabled_rules"])
def test_duplicate_top_level_key_names_the_key_and_both_lines(tmp_path: Path, key: str) -> None:
    text = (ROOT / "baseline.example.yaml").read_text()
    p = tmp_path / "b.yaml"
    p.write_text(text + f"\n{key}: {{}}\n" if key == "defaults" else text + f"\n{key}: []\n{key}: [DBX-NET-001]\n")
    with pytest.raises(BaselineError) as err:
        load_baseline(p)
    msg = str(err.value)
    assert f"duplicate key '{key}'" in msg and str(p) in msg
    lines = [i + 1 for i, line in enumerate(p.read_text().splitlines()) if line.startswith(f"{key}:")]
    assert f"line {lines[0]} and line {lines[1]}" in msg


def test_duplicate_nested_key_is_an_error_but_merge_keys_are_not(tmp_path: Path) -> None:
    p = tmp_path / "b.yaml"
    p.write_text("schema: driftwatch.baseline/v1\ndefaults:\n  severity: {}\n  severity: {}\n")
    with pytest.raises(BaselineError, match=r"duplicate key 'severity' on line 3 and line 4"):
        load_baseline(p)
    q = tmp_path / "m.yaml"  # `<<:` is an explicit merge, not a duplicate
    q.write_text("schema: driftwatch.baseline/v1\nx: &a {}\ndefaults:\n  <<: *a\n")
    with pytest.raises(BaselineError) as err:
        load_baseline(q)
    assert "duplicate key" not in str(err.value) and "x: unknown key" in str(err.value)


def _token(**times: object) -> list[dict[str, object]]:
    return [{"token_id": "t1", "created_by_username": "a@example.com", **times}]


def test_float_and_string_creation_times_are_parsed() -> None:
    api = parse_workspace_api({}, [], _token(creation_time=1.7e12, expiry_time="1777760000000.0"))
    assert api.tokens[0].creation_time == 1_700_000_000_000 and api.tokens[0].expiry_time == 1_777_760_000_000


@pytest.mark.parametrize("bad", ["yesterday", "", True, [1], float("nan"), "inf"])
def test_unparseable_creation_time_is_rejected_naming_the_field(bad: object) -> None:
    with pytest.raises(StateError, match=r"tokens\[0\]\.creation_time"):
        parse_workspace_api({}, [], _token(creation_time=bad, expiry_time=1))


@pytest.mark.parametrize("created", [1.795e12 - 900 * DAY_MS, str(int(1.795e12 - 900 * DAY_MS))])
def test_a_900_day_token_with_float_or_string_creation_time_fails_token_002(created: object) -> None:
    api = {**f.api_state(), "tokens": [{"token_id": "t-old", "creation_time": created,
                                        "expiry_time": int(1.795e12), "created_by_username": "a@example.com"}]}
    [ws], _ = parse_estate(compliant_estate(api=api)).workspace_states()
    found = {x.subject for x in evaluate_workspace(ws, BASELINE, now=NOW, source="cli").findings
             if x.rule_id == "DBX-TOKEN-002"}
    assert found == {"t-old"}


def test_a_token_whose_creation_time_is_unknown_is_reported_not_skipped() -> None:
    api = {**f.api_state(), "tokens": [{"token_id": "t-x", "creation_time": 10**400, "expiry_time": int(1.795e12)}]}
    [ws], _ = parse_estate(compliant_estate(api=api)).workspace_states()
    found = [x for x in evaluate_workspace(ws, BASELINE, now=NOW, source="cli").findings if x.rule_id == "DBX-TOKEN-002"]
    assert [x.subject for x in found] == ["t-x"]

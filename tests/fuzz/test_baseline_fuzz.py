"""Baselines: valid ones load, mutated ones fail with a BaselineError naming file, field and value."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from core.baseline import BaselineError, WorkspaceIdentity, load_baseline, parse_baseline
from tests.fuzz import strategies as s

IDENT = WorkspaceIdentity(resource_id=s.WS_ID, name="dbw-fuzz", subscription_id=s.SUB, resource_group=s.RG,
                          tags={"env": "dev"})


@settings(max_examples=150, deadline=None)
@given(s.valid_baselines())
def test_valid_baselines_load_and_resolve(doc: dict[str, Any]) -> None:
    b = parse_baseline(doc, "fuzz-baseline")
    eff = b.effective_for(IDENT)
    assert eff.sha256 == b.sha256 == parse_baseline(json.loads(json.dumps(doc)), "again").sha256
    assert eff.allow_networks is None or all(n.prefixlen >= 0 for n in eff.allow_networks)


@settings(max_examples=200, deadline=None)
@given(s.mutated_baselines())
def test_mutated_baselines_name_the_field(case: tuple[dict[str, Any], str]) -> None:
    doc, field = case
    try:
        parse_baseline(doc, "fuzz-baseline")
    except BaselineError as exc:
        msg = str(exc)
        assert msg.startswith("fuzz-baseline: ") and field in msg and len(msg) < 4000, (field, msg[:500])
    else:
        raise AssertionError(f"accepted a baseline broken at {field}")


@settings(max_examples=60, deadline=None)
@given(st.one_of(s.valid_baselines().map(lambda d: (d, None)), s.mutated_baselines()),
       st.sampled_from(["json", "yaml"]))
def test_baseline_files_round_trip_through_load_baseline(case: tuple[dict[str, Any], str | None], fmt: str) -> None:
    doc, field = case
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / f"b.{fmt}"
        p.write_text(json.dumps(doc) if fmt == "json" else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        try:
            load_baseline(p)
        except BaselineError as exc:
            assert field is not None and str(exc).startswith(str(p)), str(exc)[:300]
        else:
            assert field is None


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300) | s.json_values.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_as_a_baseline_file_is_a_baseline_error_or_loads(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "b.yaml"
        p.write_bytes(raw)
        try:
            load_baseline(p)
        except BaselineError as exc:
            assert str(exc).startswith(f"{p}: ")


def test_ten_thousand_cidrs_in_a_baseline() -> None:
    allow = [f"10.{j >> 8}.{j & 255}.0/24" for j in range(10_000)]
    block = [f"2001:db8:{j:x}::/48" for j in range(10_000)]
    doc = {"schema": "driftwatch.baseline/v1",
           "defaults": {"ip_access_lists": {"enforced": True, "allow": allow, "block": block}}}
    t0 = time.perf_counter()
    eff = parse_baseline(doc, "big").effective_for(IDENT)
    assert len(eff.allow_networks or ()) == 10_000 and len(eff.block_networks or ()) == 10_000
    print(f"10,000+10,000 CIDR baseline: {time.perf_counter() - t0:.2f}s")
    doc["defaults"]["ip_access_lists"]["allow"][7777] = "10.0.0.0/33"
    try:
        parse_baseline(doc, "big")
    except BaselineError as exc:
        assert "defaults.ip_access_lists.allow[7777]" in str(exc)
    else:
        raise AssertionError("accepted")


# -- regressions for defects found by these properties ----------------------------------------------------

def _load(tmp_path: Path, data: str | bytes) -> str:
    p = tmp_path / "b.yaml"
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    try:
        load_baseline(p)
    except BaselineError as exc:
        assert str(exc).startswith(f"{p}: ")
        return str(exc)
    raise AssertionError("accepted")


def test_regression_impossible_yaml_date_is_a_baseline_error(tmp_path: Path) -> None:
    text = ("schema: driftwatch.baseline/v1\nexemptions:\n"
            "  - {rule: DBX-WS-001, resource: x, reason: y, expires: 2027-13-45}\n")
    assert "month must be in 1..12" in _load(tmp_path, text)


def test_regression_integer_over_4300_digits_is_a_baseline_error(tmp_path: Path) -> None:
    assert "4300" in _load(tmp_path, "schema: driftwatch.baseline/v1\ndefaults: {tokens: {max_lifetime_days: "
                           + "9" * 5000 + "}}\n")


def test_regression_deep_nesting_is_a_baseline_error(tmp_path: Path) -> None:
    for text in ("[" * 100_000 + "]" * 100_000, "a: " + "{b: " * 100_000 + "1" + "}" * 100_000):
        t0 = time.perf_counter()
        assert "nested too deeply" in _load(tmp_path, text)
        print(f"deep baseline: {time.perf_counter() - t0:.3f}s")


def test_regression_yaml_alias_bomb_is_reported_quickly(tmp_path: Path) -> None:
    # 9**9 leaves through shared aliases: the error's value excerpt used to repr() every one of them.
    lines = ["schema: driftwatch.baseline/v1", "bomb:", "  a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"  {cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    t0 = time.perf_counter()
    msg = _load(tmp_path, "\n".join(lines) + "\n")
    assert "bomb: unknown key" in msg and len(msg) < 400
    assert time.perf_counter() - t0 < 10


def test_invalid_utf8_is_a_baseline_error(tmp_path: Path) -> None:
    assert "UnicodeDecodeError" in _load(tmp_path, b"schema: driftwatch.baseline/v1\ndefaults: {sku: \xff\xfe}\n")


def test_regression_yaml_booleans_are_not_integers(tmp_path: Path) -> None:
    # `widest_allow_prefix: yes` used to load as 1 (every ALLOW entry but 0.0.0.0/0 "within bounds").
    for key in ("ip_access_lists: {widest_allow_prefix: yes}", "network: {min_subnet_prefix: true}",
                "tokens: {max_lifetime_days: on}"):
        msg = _load(tmp_path, f"schema: driftwatch.baseline/v1\ndefaults:\n  {key}\n")
        assert "expected an integer, got a boolean" in msg and key.split(":")[0] in msg

"""`driftwatch evaluate | route-event | baseline validate` on fuzzed files: exit 0/1/2/3, never a traceback.

`core.cli.main` runs in-process; an exception escaping it is what would print a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from core.cli import main
from tests.fuzz import strategies as s
from tests.support.estates import STRICT_BASELINE, compliant_estate

GOOD_BASELINE = json.dumps(STRICT_BASELINE)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code in (0, 1, 2, 3), code
    if currently_in_test_context():
        event(f"{argv[0]} exit {code}")  # shown by --hypothesis-show-statistics
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


def assert_input_error(code: int, err: str, path: Path) -> None:
    assert code == 2 and err.startswith("driftwatch: error: ") and str(path) in err, err[:300]
    assert len(err) < 20_000


def write(tmp: str, name: str, data: Any) -> Path:
    p = Path(tmp) / name
    p.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return p


@settings(max_examples=60, deadline=None)
@given(st.one_of(s.estates(), s.estates(shape_garbage=False), s.estates(shape_garbage=False)),
       st.one_of(st.just(STRICT_BASELINE), s.valid_baselines(), s.mutated_baselines().map(lambda c: c[0])),
       st.sampled_from(["table", "json", "csv"]),
       st.sampled_from([[], ["--fail-on", "high"]]))
def test_evaluate_on_fuzzed_files(estate: Any, baseline: Any, fmt: str, fail_on: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sp, bp = write(tmp, "snap.json", estate), write(tmp, "b.json", baseline)
        code, out, err = run(["evaluate", "--state", str(sp), "--baseline", str(bp), "--format", fmt, *fail_on])
        if code == 2:
            assert err.startswith("driftwatch: error: ") and (str(sp) in err or str(bp) in err), err[:300]
        else:
            assert out and not err
            if fmt == "json":
                doc = json.loads(out)
                assert doc["schema"] == "driftwatch.scan/v1" and (code == 3) == bool(doc["errors"])


@settings(max_examples=60, deadline=None)
@given(st.one_of(s.deliveries.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200)), st.booleans())
def test_route_event_on_fuzzed_files(events: bytes, with_state: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ep = write(tmp, "events.json", events)
        extra = ["--state", str(write(tmp, "snap.json", compliant_estate()))] if with_state else []
        code, out, err = run(["route-event", str(ep), *extra])
        if code == 2:
            assert_input_error(code, err, ep)
        else:
            assert code == 0 and json.loads(out)["schema"] == "driftwatch.routing/v1"


@settings(max_examples=60, deadline=None)
@given(st.one_of(s.valid_baselines().map(lambda d: json.dumps(d).encode()),
                 s.mutated_baselines().map(lambda c: json.dumps(c[0]).encode()), st.binary(max_size=200)))
def test_baseline_validate_on_fuzzed_files(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = write(tmp, "b.yaml", raw)
        code, out, err = run(["baseline", "validate", str(p)])
        if code == 2:
            assert_input_error(code, err, p)
        else:
            assert code == 0 and "valid driftwatch.baseline/v1" in out


# -- every file the CLI reads: deep nesting, invalid UTF-8, huge numbers ------------------------------------

HOSTILE = {
    "deep-array": ("[" * 100_000 + "]" * 100_000).encode(),
    "deep-object": ('{"a":' * 100_000 + "1" + "}" * 100_000).encode(),
    "invalid-utf8": b'{"schema": "driftwatch.estate/v1", "x": "\xff\xfe\xc3\x28"}',
    "lone-surrogate-utf8": b'{"schema": "\xed\xa0\x80"}',
    "huge-int": b'{"schema": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("role", ["state", "baseline", "events", "route-state", "validate"])
def test_hostile_file_in_every_cli_input_is_exit_2_naming_the_file(tmp_path: Path, role: str, kind: str) -> None:
    bad = tmp_path / f"hostile-{kind}.json"
    bad.write_bytes(HOSTILE[kind])
    good_state = tmp_path / "snap.json"
    good_state.write_text(json.dumps(compliant_estate()))
    good_baseline = tmp_path / "b.json"
    good_baseline.write_text(GOOD_BASELINE)
    good_events = tmp_path / "events.json"
    good_events.write_text("[]")
    argv = {
        "state": ["evaluate", "--state", str(bad), "--baseline", str(good_baseline)],
        "baseline": ["evaluate", "--state", str(good_state), "--baseline", str(bad)],
        "events": ["route-event", str(bad), "--state", str(good_state)],
        "route-state": ["route-event", str(good_events), "--state", str(bad)],
        "validate": ["baseline", "validate", str(bad)],
    }[role]
    t0 = time.perf_counter()
    code, _, err = run(argv)
    elapsed = time.perf_counter() - t0
    print(f"{role} {kind}: exit {code} in {elapsed:.3f}s")
    if role == "events" and kind.startswith("deep"):
        assert code == 2 and "nested too deeply" in err
    assert_input_error(code, err, bad)
    assert elapsed < 30


def test_good_files_still_evaluate(tmp_path: Path) -> None:
    sp, bp = tmp_path / "snap.json", tmp_path / "b.json"
    sp.write_text(json.dumps(compliant_estate()))
    bp.write_text(GOOD_BASELINE)
    code, out, _ = run(["evaluate", "--state", str(sp), "--baseline", str(bp), "--format", "json"])
    assert code == 0 and json.loads(out)["findings"] == []

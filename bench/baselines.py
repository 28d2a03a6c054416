"""Which baseline a benchmark runs: `BENCH_BASELINE=full` (default, baseline.example.yaml) or `issue14`.

`issue14` is the example baseline as it was when issue 14 set its targets (bench/baseline.issue14.yaml):
issues 12 and 13 later added about 24 workspace-API reads per workspace to the example, so both are
printed to compare like for like. Benchmarks name the one they ran in their output.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINES = {"full": ROOT / "baseline.example.yaml", "issue14": ROOT / "bench" / "baseline.issue14.yaml"}
LABELS = {"full": "full example baseline", "issue14": "issue-14-era example baseline"}


def bench_baseline_name() -> str:
    name = os.environ.get("BENCH_BASELINE", "full")
    if name not in BASELINES:
        raise SystemExit(f"BENCH_BASELINE={name!r}: expected one of {', '.join(BASELINES)}")
    return name


def bench_baseline() -> Path:
    """The baseline file the benchmark runs."""
    return BASELINES[bench_baseline_name()]


def bench_baseline_label() -> str:
    return LABELS[bench_baseline_name()]

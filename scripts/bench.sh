#!/usr/bin/env bash
# Benchmarks: print numbers (targets are in each script's docstring); they assert nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== rules engine, routing, CLI start-up (issue 2)"
.venv/bin/python -m bench.bench_rules
for b in bench/bench_*.py; do
  name=$(basename "$b" .py)
  [ "$name" = bench_rules ] && continue
  echo "== $name"
  .venv/bin/python -m "bench.$name"
done
# Issue 14's figures were measured on the example baseline of that time (bench/baseline.issue14.yaml):
# the same benchmarks on it, to compare like for like.
for name in bench_startup bench_sweep bench_worker_cpu; do
  echo "== $name (issue-14-era example baseline)"
  BENCH_BASELINE=issue14 .venv/bin/python -m "bench.$name"
done
echo "== event latency (issue-14-era example baseline)"
BENCH_BASELINE=issue14 .venv/bin/python -m bench.bench_functions --only-event-latency

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

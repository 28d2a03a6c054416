"""Benchmark: the reads of one event-driven scan (issue 14, point 5), apart from the queues and the store.

An Event Grid event scans one workspace: GET its document, then read its network, diagnostic settings, RBAC,
extra ARM parts and workspace API. At 40 ms per call the wall time of that collection is set by how many of
those calls wait for one another, so it is measured here alone (one workspace at a time, the emulator in its
own process), with the HTTP calls it makes. Prints numbers; asserts nothing.

Usage: python -m bench.bench_event_reads [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import requests

from bench.baselines import bench_baseline, bench_baseline_label
from bench.bench_functions import LATENCY_MS, Emulator

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    from core.baseline import load_baseline
    from core.collect import CollectConfig
    from core.collect.collector import EstateCollector
    from core.rules import read_plan
    from samples.factory import sample_estate

    estate = sample_estate()
    ids = [r["id"] for r in estate["resources"] if r["type"] == "Microsoft.Databricks/workspaces"]
    emu = Emulator(estate, LATENCY_MS)
    try:
        baseline = load_baseline(bench_baseline())
        config = CollectConfig.for_emulator(emu.url)
        walls: list[float] = []
        calls = 0
        for _ in range(args.rounds):
            requests.delete(f"{emu.url}/_emulator/requests", timeout=5)
            for wid in ids:
                # a fresh collector per event, as a worker's scan has no cache from an earlier one
                with EstateCollector(config, baseline, plan=read_plan) as c:
                    t0 = time.perf_counter()
                    c.collect_by_id(wid)
                    walls.append(time.perf_counter() - t0)
            calls = requests.get(f"{emu.url}/_emulator/requests", timeout=5).json()["total"]
        walls.sort()
        p95 = walls[max(int(len(walls) * 0.95) - 1, 0)]
        print(f"event-driven collection of one workspace ({len(ids)} workspaces x {args.rounds} rounds, "
              f"{LATENCY_MS} ms per call, {bench_baseline_label()}): median {statistics.median(walls) * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms; {calls / len(ids):.1f} calls per workspace")
    finally:
        emu.close()


if __name__ == "__main__":
    main()

"""Benchmark: evaluate a 10,000-workspace snapshot (rules only, from parsed state); CLI start-up.

Targets (issue 2): evaluation under 2 s on the 2-core machine; `driftwatch --help` under 0.5 s.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from core.baseline import load_baseline
from core.events import Topology, route_delivery
from core.rules import evaluate_workspace
from core.state import parse_estate
from samples.factory import large_estate

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    baseline = load_baseline(ROOT / "baseline.example.yaml")
    t0 = time.perf_counter()
    doc = large_estate(n, 40)
    t1 = time.perf_counter()
    states, errors = parse_estate(doc, "bench").workspace_states()
    t2 = time.perf_counter()
    assert not errors
    now = datetime.now(UTC)
    runs = []
    findings = 0
    for _ in range(3):
        s = time.perf_counter()
        findings = sum(len(evaluate_workspace(ws, baseline, now=now).findings) for ws in states)
        runs.append(time.perf_counter() - s)
    print(f"estate: {n} workspaces, {len(doc['resources'])} ARM documents (generated in {t1 - t0:.2f} s)")
    print(f"parse to WorkspaceState: {t2 - t1:.2f} s")
    print(f"evaluate (rules only, parsed state): best {min(runs):.3f} s, median {statistics.median(runs):.3f} s "
          f"-> {n / min(runs):,.0f} workspaces/s, {findings} findings   [target < 2 s]")

    topo = Topology.from_states(states)
    nsg = next(r["id"] for r in doc["resources"] if r["type"].endswith("networkSecurityGroups"))
    one = ('{"id":"%s","eventType":"Microsoft.Resources.ResourceWriteSuccess","subject":"%s/securityRules/r",'
           '"data":{"operationName":"Microsoft.Network/networkSecurityGroups/securityRules/write",'
           '"status":"Succeeded"}}')
    events = [one % (i, nsg) for i in range(5000)]
    payload = "[" + ",".join(events) + "]"
    while len(payload) > 1_000_000:
        events.pop()
        payload = "[" + ",".join(events) + "]"
    s = time.perf_counter()
    decisions = route_delivery(payload.encode(), topo)
    print(f"route a {len(payload) / 1e6:.2f} MB delivery ({len(decisions)} events): "
          f"{(time.perf_counter() - s) * 1000:.0f} ms   [target well under 1 s]")

    times = []
    for _ in range(5):
        s = time.perf_counter()
        subprocess.run([str(ROOT / ".venv" / "bin" / "driftwatch"), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - s)
    print(f"driftwatch --help: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
          "   [target < 500 ms]")


if __name__ == "__main__":
    main()

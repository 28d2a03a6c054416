"""Benchmark: sweep 2,000 workspaces in 40 subscriptions on the emulator with 40 ms latency per call.

Targets (issue 3): wall time < 60 s on the 2-core machine, peak memory < 400 MB (the scanning process;
the emulator runs in its own process), <= 6 HTTP calls per workspace on average, and for a
property-only baseline one list call per subscription page and nothing more. Also prints efficiency:
ideal time (calls x latency / concurrency) over measured time. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.baselines import bench_baseline, bench_baseline_label
from core.baseline import load_baseline, parse_baseline
from core.collect import CollectConfig
from core.scan import run_scan
from samples.factory import large_estate

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), e.g. the emulator's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    n, subs, latency = 2000, 40, 40
    seed = Path(tempfile.mkdtemp()) / "estate.json"
    seed.write_text(json.dumps(large_estate(n, subs)))
    port = free_port()
    emu = subprocess.Popen([sys.executable, "-m", "emulator", "--seed", str(seed), "--port", str(port),
                            "--latency-ms", str(latency)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           cwd=ROOT)
    try:
        assert emu.stdout is not None
        emu.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        config = CollectConfig.for_emulator(url)
        baseline = load_baseline(bench_baseline())
        requests.delete(f"{url}/_emulator/requests", timeout=5)
        t0, cpu0, emu0 = time.perf_counter(), time.process_time(), _cpu_s(emu.pid)
        out = run_scan(config, baseline)
        wall, cpu, emu_cpu = time.perf_counter() - t0, time.process_time() - cpu0, _cpu_s(emu.pid) - emu0
        counts = requests.get(f"{url}/_emulator/requests", timeout=5).json()
        calls = counts["total"]
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ideal = calls * latency / 1000 / config.concurrency
        print(f"{bench_baseline_label()}: {out.result.workspaces_scanned} workspaces, "
              f"{len(out.result.findings)} findings, {len(out.result.errors)} errors")
        print(f"  wall {wall:.1f} s [target < 60 s]; peak RSS {peak_mb:.0f} MB [target < 400 MB]")
        print(f"  HTTP calls {calls} = {calls / n:.2f} per workspace [target <= 6]; by endpoint: "
              + ", ".join(f"{k}={v}" for k, v in sorted(counts["by_endpoint"].items())))
        print(f"  efficiency: ideal {ideal:.1f} s (calls x {latency} ms / {config.concurrency}) / measured "
              f"{wall:.1f} s = {ideal / wall:.0%}")
        cores = os.cpu_count() or 1
        print(f"  CPU: scanner {cpu:.1f} s ({cpu / n * 1000:.1f} ms per workspace, one interpreter), emulator "
              f"{emu_cpu:.1f} s ({emu_cpu / max(calls, 1) * 1000:.2f} ms per call); on {cores} cores the two need at "
              f"least {max(cpu, (cpu + emu_cpu) / cores):.1f} s of wall")

        props = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {
            "sku": "premium", "public_network_access": "Disabled", "secure_cluster_connectivity": True,
            "allowed_locations": ["westeurope"]}})
        requests.delete(f"{url}/_emulator/requests", timeout=5)
        t0 = time.perf_counter()
        out = run_scan(config, props, subscriptions=[f"{i:08d}-0000-4000-8000-{i:012d}" for i in range(subs)])
        wall = time.perf_counter() - t0
        counts = requests.get(f"{url}/_emulator/requests", timeout=5).json()
        per_sub: dict[str, int] = {}
        for doc in json.loads(seed.read_text())["resources"]:
            if doc["type"] == "Microsoft.Databricks/workspaces":
                per_sub[doc["id"].split("/")[2]] = per_sub.get(doc["id"].split("/")[2], 0) + 1
        pages = sum(-(-count // 50) for count in per_sub.values())
        print(f"property-only baseline: wall {wall:.1f} s; calls {counts['by_endpoint']} "
              f"(expected {pages} list pages and nothing more)")
    finally:
        emu.terminate()
        emu.wait(10)
        os.unlink(seed)


if __name__ == "__main__":
    main()

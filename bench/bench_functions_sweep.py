"""Benchmark (issue 14 §3, §4): the Functions sweep of 2,000 workspaces in 40 subscriptions, 40 ms per call.

`scheduled_sweep`'s use case runs here; separate worker processes (samples.worker_process: the registered
`scan_workspace` over real queue messages, sharing this Azurite and emulator) drain `scan-requests`.
Prints per baseline and instance count: sweep and drain wall time, calls per workspace by endpoint and
by ARM resource type, the network reads against the subscription list pages, and % of ideal
(calls x latency / (instances x threads)). Then the scale-out of 4 instances x 4 threads against one.

Targets (issue 14): network reads at most 2x the list pages; the full example baseline at most 4.2 calls
per workspace (set when it read 5.5 per workspace; see the printout for what is per workspace now);
under 15 s and at least 80 % of ideal; 4 x 4 threads at least 3x one instance. Prints numbers; asserts
nothing.

Usage: python -m bench.bench_functions_sweep [--workspaces 2000] [--baseline network,full] [--instances 1,4]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.baselines import bench_baseline
from bench.bench_functions import LATENCY_MS, Emulator, env_for

ROOT = Path(__file__).resolve().parents[1]
THREADS = 4
IDLE_S = 2.0
NETWORK_BASELINE = """schema: driftwatch.baseline/v1
defaults:
  required_nsg_rules: AllRules
  network:
    vnet_injection: true
    min_subnet_prefix: 26
    egress: nat_gateway_or_route_table
"""
"""Only the network rules (DBX-NET-*): isolates what §3 is about, the VNet and NSG reads."""


def _counts(emu: Emulator) -> dict[str, Counter[str]]:
    raw = requests.get(f"{emu.url}/_emulator/requests", timeout=10).json()
    return {"endpoint": Counter(raw["by_endpoint"]), "type": Counter(raw.get("by_resource_type") or {})}


def _read_costs(rt: Any, scan_id: str, sample: int = 30) -> tuple[float | None, float]:
    """Mean wall time of what a worker reads instead of ARM (its listed row and the event marker), and of
    the ARM GETs it replaces, over `sample` workspaces (after the drain, so the counts above are not touched)."""
    from core.state.parse import parse_workspace_arm
    from core.store.listed import ListedDocuments

    listed = ListedDocuments(rt.connection)
    table = rt.connection.table("scans")
    rows = table.query_entities("PartitionKey eq 'sweep-listed'", select=["workspace_id"], results_per_page=sample)
    ids = [r["workspace_id"] for r in itertools.islice(rows, sample)]
    if not ids:
        return None, 0.0
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    found = []
    for wid in ids:
        row = listed.read(wid, scan_id, now=now, max_age_s=rt.listed_max_age_s)
        listed.event_since(wid, now)
        found.append(row)
    handoff = (time.perf_counter() - t0) / len(ids) * 1000
    t0 = time.perf_counter()
    for wid in ids:
        doc = rt.arm.get(wid)
        arm = parse_workspace_arm(doc)
        vnet = rt.arm.get(arm.vnet_id)
        nsg = next(s["properties"]["networkSecurityGroup"]["id"] for s in vnet["properties"]["subnets"]
                   if s["name"] == arm.public_subnet_name)
        rt.arm.get(nsg)
    return (handoff if any(found) else None), (time.perf_counter() - t0) / len(ids) * 1000


def run(baseline_path: str, workspaces: int, instances: int, subscriptions: int = 40) -> float:
    """One sweep + drain on a fresh Azurite and emulator; prints the figures, returns the drain seconds."""
    from core import service
    from core.settings import load_settings
    from samples.azurite import AzuriteProcess
    from samples.factory import large_estate

    emu = Emulator(large_estate(workspaces, subscriptions), LATENCY_MS)
    try:
        with AzuriteProcess() as az:
            env = {**env_for(emu, az.connection_string), "DRIFTWATCH_BASELINE": baseline_path}
            rt = service.Runtime.from_settings(load_settings(env))
            service.reset_runtime(rt)
            rt.connection.ensure()
            requests.delete(f"{emu.url}/_emulator/requests", timeout=10)
            t0 = time.perf_counter()
            outcome = service.sweep(rt)
            sweep_s = time.perf_counter() - t0
            at_sweep = _counts(emu)
            t1 = time.perf_counter()
            procs = [subprocess.Popen([sys.executable, "-m", "samples.worker_process", "scan-requests",
                                       "scan_workspace", "--threads", str(THREADS), "--idle-s", str(IDLE_S)],
                                      cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
                     for _ in range(instances)]
            done = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
            drain_s = time.perf_counter() - t1 - IDLE_S
            total = _counts(emu)
            handoff_ms, arm_ms = _read_costs(rt, outcome.scan_id)
            service.reset_runtime(None)
    finally:
        emu.close()
    n = workspaces
    calls = sum(total["endpoint"].values())
    sweep_calls = sum(at_sweep["endpoint"].values())
    net = {k: v for k, v in total["type"].items()
           if k.split(" ")[1] in ("microsoft.network/virtualnetworks", "microsoft.network/networksecuritygroups")}
    net_lists = sum(v for k, v in net.items() if k.endswith(" list"))
    net_gets = sum(v for k, v in net.items() if k.endswith(" get"))
    ws_gets = total["type"].get("GET microsoft.databricks/workspaces get", 0)
    ws_lists = total["type"].get("GET microsoft.databricks/workspaces list", 0)
    concurrency = instances * THREADS
    ideal = (calls - sweep_calls) * LATENCY_MS / 1000 / concurrency
    name = Path(baseline_path).name
    print(f"[{name}] {n} workspaces / {subscriptions} subscriptions, {instances} instance(s) x {THREADS} threads: "
          f"sweep {sweep_s:.1f} s ({outcome.enqueued} requests, {sweep_calls} calls), drain {drain_s:.1f} s "
          f"({sum(d['succeeded'] for d in done)} messages, {sum(d['failed_attempts'] for d in done)} failed attempts, "
          f"{sum(d['poisoned'] for d in done)} poisoned)")
    scans = total["endpoint"].get("GET arm:diagnosticSettings.list", 0)
    if scans > n:  # samples/functions_host.py takes 16 messages at a time with a 30 s visibility timeout
        print(f"  note: {scans} scans ran for {n} messages (a message whose visibility ran out under load ran "
              f"twice); per scan: {(calls - sweep_calls) / scans:.2f} worker calls + "
              f"{sweep_calls / n:.2f} sweep calls per workspace")
    print(f"  calls {calls} = {calls / n:.2f} per workspace; workers' ideal {ideal:.1f} s "
          f"(calls x {LATENCY_MS} ms / {concurrency}) / drain {drain_s:.1f} s = {ideal / drain_s:.0%}")
    print(f"  workspace documents: {ws_lists} list pages, {ws_gets} GETs ({ws_gets / n:.2f} per workspace)")
    print(f"  network: {net_lists} list pages, {net_gets} GETs = {net_lists + net_gets} reads "
          f"({(net_lists + net_gets) / max(net_lists, 1):.1f}x the list pages) [target <= 2x]; "
          + ", ".join(f"{k}={v}" for k, v in sorted(net.items())))
    if handoff_ms is not None:
        print(f"  one worker's reads: hand-off row + event marker {handoff_ms:.1f} ms (2 table point reads) vs "
              f"workspace + VNet + NSG from ARM {arm_ms:.1f} ms (3 GETs, each waiting for the one before)")
    print("  by endpoint: " + ", ".join(f"{k}={v}" for k, v in sorted(total["endpoint"].items())))
    return drain_s


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workspaces", type=int, default=2000)
    p.add_argument("--baseline", default="network,full")
    p.add_argument("--instances", default="1,4")
    args = p.parse_args()
    instances = [int(x) for x in args.instances.split(",")]
    tmp = Path(tempfile.mkdtemp()) / "network-only.yaml"
    tmp.write_text(NETWORK_BASELINE)
    paths = {"network": str(tmp), "full": str(bench_baseline())}
    for which in args.baseline.split(","):
        drains = {k: run(paths[which], args.workspaces, k) for k in instances}
        if len(drains) > 1:
            lo, hi = min(drains), max(drains)
            print(f"[{which}] scale-out {hi} instances vs {lo}: {drains[lo] / drains[hi]:.2f}x [target >= 3x]")
    os.unlink(tmp)


if __name__ == "__main__":
    main()

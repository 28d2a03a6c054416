"""Benchmarks for the Functions app (issue 4). Prints numbers; asserts nothing.

Targets: event delivered -> transition on `drift-findings` p95 < 1 s with 40 ms emulator latency;
1,000 write events over 20 workspaces within 10 s -> at most 40 evaluations and 20 Teams posts;
four workers drain a 2,000-workspace sweep at least 3x faster than one; `import function_app`
(cold start) < 1 s. (The 50,000-finding first page is in bench_store.py.)

Usage: python -m bench.bench_functions [--workspaces 2000] [--skip-scale]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.baselines import bench_baseline

ROOT = Path(__file__).resolve().parents[1]
LATENCY_MS = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulator:
    """The estate emulator in its own process (so its CPU does not share our GIL)."""

    def __init__(self, estate: dict[str, Any], latency_ms: int) -> None:
        self.seed = Path(tempfile.mkdtemp()) / "estate.json"
        self.seed.write_text(json.dumps(estate))
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "emulator", "--seed", str(self.seed), "--port",
                                      str(self.port), "--latency-ms", str(latency_ms)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        self.proc.stdout.readline()
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Any:
        return requests.get(f"{self.url}/_emulator/{path}", timeout=10).json()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def env_for(emulator: Emulator, connection_string: str) -> dict[str, str]:
    return {"AzureWebJobsStorage": connection_string, "DRIFTWATCH_BASELINE": str(bench_baseline()),
            "DRIFTWATCH_ARM_ENDPOINT": emulator.url,
            "DRIFTWATCH_WORKSPACE_BASE_URL": f"{emulator.url}/ws/{{workspaceUrl}}",
            "DRIFTWATCH_AUTH": "emulator", "TEAMS_WEBHOOK_URL": f"{emulator.url}/teams/webhook",
            "DRIFTWATCH_NOTIFY_MIN_SEVERITY": "high"}


def cold_start() -> None:
    times = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", "import time; t=time.perf_counter(); import function_app; "
                              "print(time.perf_counter()-t)"], cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    print(f"cold start: import function_app median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms   [target < 1000 ms]")


def event_path(connection_string: str, *, storm: bool = True) -> None:
    import function_app
    from core import service
    from core.settings import load_settings
    from samples.factory import large_estate, nsg_rule
    from samples.functions_host import LocalFunctionsHost

    estate = large_estate(80, 4, shared_network_every=1)
    emu = Emulator(estate, LATENCY_MS)
    try:
        rt = service.Runtime.from_settings(load_settings(env_for(emu, connection_string)))
        service.reset_runtime(rt)
        host = LocalFunctionsHost(function_app.app, connection_string)
        host.fire_timer()
        host.drain("scan-requests", "scan_workspace", workers=8)
        host.drain("drift-findings", "notify_drift", workers=4)
        stop = threading.Event()
        evaluations = {"n": 0}

        def count(_: str) -> None:
            evaluations["n"] += 1

        def workers() -> None:
            while not stop.is_set():
                host.drain("scan-requests", "scan_workspace", workers=4, idle_s=0.2, max_s=5, on_message=count)

        bg = threading.Thread(target=workers, daemon=True)
        bg.start()
        drift_q = rt.connection.queue("drift-findings")
        nsgs = [r for r in estate["resources"] if r["type"].endswith("networkSecurityGroups")]
        latencies = []
        scans: list[tuple[float, float]] = []  # (start, end) of each scan_workspace call, for the breakdown
        delivered: list[float] = []
        call = host.call

        def timed_call(name: str, *a: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(name, *a)
            finally:
                if name == "scan_workspace":
                    scans.append((start, time.perf_counter()))

        host.call = timed_call  # type: ignore[method-assign]
        for i, nsg in enumerate(nsgs[:30]):
            before = {m.id for m in drift_q.peek_messages(max_messages=32)}
            rule = nsg_rule(nsg["id"], f"debug-{i}", "Inbound", 150, "Tcp", "Internet", "*", "22")
            requests.put(f"{emu.url}{rule['id']}?api-version=2025-07-01", json=rule,
                         headers={"Authorization": "Bearer b"}, timeout=10).raise_for_status()
            event = emu.get("events")["events"][-1]
            t0 = time.perf_counter()
            host.deliver_event_grid([event])
            while time.perf_counter() - t0 < 10:
                if any(m.id not in before for m in drift_q.peek_messages(max_messages=32)):
                    break
                time.sleep(0.01)
            latencies.append(time.perf_counter() - t0)
            delivered.append(t0)
            drift_q.clear_messages()
        time.sleep(0.5)  # the last scan returns after its transition is on the queue
        host.call = call  # type: ignore[method-assign]
        parts = [(scan[0] - t0, scan[1] - scan[0]) for t0 in delivered
                 for scan in [min((s for s in scans if s[0] >= t0), default=None)] if scan is not None]
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(f"event -> transition on drift-findings ({len(latencies)} drifts, {LATENCY_MS} ms latency): "
              f"median {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms   "
              "[target p95 < 300 ms (issue 14), < 1000 ms (issue 4)]")
        if parts:
            med = [statistics.median(p[k] for p in parts) * 1000 for k in range(2)]
            print(f"  of which (medians over {len(parts)} drifts): delivery -> its scan_workspace starts "
                  f"{med[0]:.0f} ms "
                  "(the Event Grid handler sends the request, then the test host's poll of scan-requests, every "
                  f"100 ms when idle; Azure's host polls up to host.json maxPollingInterval), scan_workspace "
                  f"{med[1]:.0f} ms; the rest is this benchmark's 10 ms peek of drift-findings")
        if not storm:
            stop.set()
            bg.join()
            return

        # A deployment storm: 1,000 write events over 20 workspaces within 10 s.
        host.drain("drift-findings", "notify_drift", workers=4)
        emu_posts_before = len(emu.get("teams")["posts"])
        evaluations["n"] = 0
        targets = nsgs[30:50]
        events = []
        for i, nsg in enumerate(targets):
            rule = nsg_rule(nsg["id"], f"storm-{i}", "Inbound", 160, "Tcp", "Internet", "*", "3389")
            requests.put(f"{emu.url}{rule['id']}?api-version=2025-07-01", json=rule,
                         headers={"Authorization": "Bearer b"}, timeout=10).raise_for_status()
            events.append(emu.get("events")["events"][-1])
        t0 = time.perf_counter()
        notifier_stop = threading.Event()

        def notifier() -> None:
            while not notifier_stop.is_set():
                host.drain("drift-findings", "notify_drift", workers=2, idle_s=0.2, max_s=5)

        nt = threading.Thread(target=notifier, daemon=True)
        nt.start()
        for k in range(1000):
            ev = dict(events[k % 20], id=f"storm-{k}")
            host.deliver_event_grid([ev])
            time.sleep(max(0.0, t0 + (k + 1) * 0.01 - time.perf_counter()))
        sent = time.perf_counter() - t0
        time.sleep(rt.coalesce_window_s + 3)
        stop.set()
        bg.join()
        notifier_stop.set()
        nt.join()
        host.drain("scan-requests", "scan_workspace", workers=4, on_message=count)
        host.drain("drift-findings", "notify_drift", workers=2)
        posts = len(emu.get("teams")["posts"]) - emu_posts_before
        print(f"storm: 1000 events over 20 workspaces in {sent:.1f} s -> {evaluations['n']} evaluations, "
              f"{posts} Teams posts   [targets <= 40 and <= 20]")
    finally:
        service.reset_runtime(None)
        emu.close()


def scale_out(connection_string: str, workspaces: int, threads: int = 4) -> None:
    import function_app
    from core import service
    from core.settings import load_settings
    from samples.factory import large_estate
    from samples.functions_host import LocalFunctionsHost

    emu = Emulator(large_estate(workspaces, 40), LATENCY_MS)
    try:
        env = env_for(emu, connection_string)
        rt = service.Runtime.from_settings(load_settings(env))
        service.reset_runtime(rt)
        host = LocalFunctionsHost(function_app.app, connection_string)
        timings = {}
        for n_workers in (1, 4):
            rt.store()  # same store; the second run reconciles to "unchanged" (same work per workspace)
            host.fire_timer()
            t0 = time.perf_counter()
            procs = [subprocess.Popen([sys.executable, "-m", "samples.worker_process", "scan-requests",
                                       "scan_workspace", "--threads", str(threads), "--idle-s", "2"], cwd=ROOT,
                                      env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
                     for _ in range(n_workers)]
            done = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
            timings[n_workers] = time.perf_counter() - t0 - 2  # minus the idle wait that ends each worker
            print(f"sweep of {workspaces} workspaces drained by {n_workers} worker(s) x {threads} threads: "
                  f"{timings[n_workers]:.1f} s ({sum(d['succeeded'] for d in done)} messages)")
            host.drain("drift-findings", "notify_drift", workers=4)
        print(f"scale-out speed-up 4 workers vs 1 ({threads} threads each): {timings[1] / timings[4]:.2f}x"
              "   [target >= 3x]")
    finally:
        service.reset_runtime(None)
        emu.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workspaces", type=int, default=2000)
    p.add_argument("--skip-scale", action="store_true")
    p.add_argument("--only-event-latency", action="store_true",
                   help="just event -> transition (no cold start, storm or scale-out)")
    args = p.parse_args()
    from samples.azurite import AzuriteProcess

    if args.only_event_latency:
        with AzuriteProcess() as az:
            event_path(az.connection_string, storm=False)
        return
    cold_start()
    with AzuriteProcess() as az:
        event_path(az.connection_string)
    if not args.skip_scale:
        # Every "instance" here shares the same 2 cores with Azurite and the emulator, so the speed-up
        # is shown for message-at-a-time instances (I/O-bound, as separate machines would be) and for
        # instances that run 4 messages at once (CPU-bound on this machine).
        # (Message-at-a-time on 2,000 workspaces would take ~10 min for the single instance: 400 there.)
        for threads, n in ((4, args.workspaces), (1, min(args.workspaces, 400))):
            with AzuriteProcess() as az:
                scale_out(az.connection_string, n, threads)


if __name__ == "__main__":
    main()

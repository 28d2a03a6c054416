"""Benchmark: CPU per workspace in the worker path (issue 14, point 4), and its top costs.

A sweep of N workspaces is queued (Azurite), then this process handles every `scan-requests` message with
`core.service.scan_request` on one thread (collect + parse + evaluate + reconcile + queue the transitions)
and reads its own CPU (`time.process_time()`): Azurite and the emulator run in other processes, so their
CPU is excluded. Target < 10 ms per workspace on the full example baseline. Prints numbers; asserts nothing.

`--profile FILE` also records the handling of the last sweep (unchanged findings: the steady state) with
py-spy attached to the worker process (collapsed stacks, only threads holding the GIL, so CPU) and prints
the functions with the most samples (self time) and the driftwatch functions with the most inclusive time.

Usage: python -m bench.bench_worker_cpu [--workspaces 200] [--profile /tmp/worker.txt]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.baselines import bench_baseline_label
from bench.bench_functions import Emulator, env_for

if TYPE_CHECKING:
    from core.service import Runtime

ROOT = Path(__file__).resolve().parents[1]


_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame(raw: str) -> str:
    """`func (path/file.py:LINE)` -> `func (path/file.py)`: samples add up per function, not per line."""
    m = _FRAME.match(raw.strip())
    return f"{m['fn']} ({m['file']})" if m else raw.strip()


_OURS = (*(f"core/{p.name}" for p in (ROOT / "core").iterdir() if not p.name.startswith("_")), "functions/")


def _ours(frame: str) -> bool:
    """A driftwatch frame (py-spy shortens paths, so azure/core/... also reads as core/...)."""
    return "(" in frame and frame.rsplit("(", 1)[1].startswith(_OURS)


def _top(collapsed: Path, n: int = 12) -> None:
    self_time: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        k = int(count)
        total += k
        frames = [_frame(f) for f in stack.split(";")]
        if not frames or not frames[-1]:
            continue
        self_time[frames[-1]] += k
        for f in dict.fromkeys(fr for fr in frames if _ours(fr)):
            ours[f] += k
    print(f"py-spy: {total} samples")
    print("  top self time:")
    for frame, k in self_time.most_common(n):
        print(f"    {k / total:6.1%}  {frame}")
    print("  top driftwatch functions (inclusive):")
    for frame, k in ours.most_common(n):
        print(f"    {k / total:6.1%}  {frame}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workspaces", type=int, default=200)
    p.add_argument("--profile", type=Path)
    p.add_argument("--passes", type=int, default=2,
                   help="sweeps to handle: the first opens every finding, later ones reconcile to unchanged")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args.passes)
        return
    from samples.azurite import AzuriteProcess
    from samples.factory import large_estate

    emu = Emulator(large_estate(args.workspaces, 4), 0)
    try:
        with AzuriteProcess() as az:
            env = {**os.environ, **env_for(emu, az.connection_string), "PYTHONPATH": str(ROOT)}
            cmd = [sys.executable, "-m", "bench.bench_worker_cpu", "--child", "--passes", str(args.passes)]
            if args.profile:
                env["DRIFTWATCH_BENCH_PROFILE"] = str(args.profile)
            subprocess.run(cmd, cwd=ROOT, env=env, check=True)
            if args.profile:
                _top(args.profile)
    finally:
        emu.close()


_CALLS: collections.Counter[str] = collections.Counter()


def _count_requests() -> None:
    """Count the worker's HTTP requests by target (every client here sends through requests' HTTPAdapter):
    storage by table or queue, ARM, the workspace API."""
    import requests.adapters

    send = requests.adapters.HTTPAdapter.send

    def counted(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *a: object,
                **kw: object) -> requests.Response:
        path = (request.path_url or "").split("?")[0]
        if "/devstoreaccount1/" in path:
            name = path.split("/devstoreaccount1/", 1)[1].split("/")[0].split("(")[0]
            _CALLS[f"storage {request.method} {name}"] += 1
        elif path.startswith("/ws/"):
            _CALLS["workspace API"] += 1
        else:
            _CALLS["ARM"] += 1
        return send(self, request, *a, **kw)  # type: ignore[arg-type]

    requests.adapters.HTTPAdapter.send = counted  # type: ignore[method-assign]


def _child(passes: int) -> None:
    from core import service
    from core.settings import load_settings

    _count_requests()

    rt = service.Runtime.from_settings(load_settings())
    service.reset_runtime(rt)
    for n in range(passes):
        _one_pass(rt, "first sweep (every finding new)" if n == 0 else "later sweep (unchanged)", first=n == 0,
                  profile=os.environ.get("DRIFTWATCH_BENCH_PROFILE") if n == passes - 1 else None)


def _one_pass(rt: Runtime, what: str, *, first: bool, profile: str | None = None) -> None:
    from core import service

    service.sweep(rt)
    q = rt.connection.queue("scan-requests")
    bodies = []
    while True:
        batch = list(q.receive_messages(max_messages=32, visibility_timeout=600))
        if not batch:
            break
        for m in batch:
            bodies.append(m.content)
            q.delete_message(m)
    # The first message pays the lazy imports (databricks-sdk core, store clients): report it apart.
    split = 1 if first else 0
    for label, todo in (("first message (imports)", bodies[:split]), (what, bodies[split:])):
        spy = _spy(profile) if profile and todo else None
        _CALLS.clear()
        c0, w0 = time.process_time(), time.perf_counter()
        for body in todo:
            service.scan_request(rt, body)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        if todo:
            print(f"worker path, {label}: {len(todo)} workspaces, CPU {cpu * 1000 / len(todo):.1f} ms per workspace, "
                  f"wall {wall * 1000 / len(todo):.1f} ms   [target < 10 ms CPU; {bench_baseline_label()}]")
            print("  HTTP requests per workspace: " + ", ".join(
                f"{k} {v / len(todo):.2f}" for k, v in sorted(_CALLS.items(), key=lambda kv: -kv[1])))


def _spy(out: str) -> subprocess.Popen[bytes]:
    """py-spy attached to this process (its samples are only this pass); started before returning."""
    spy = subprocess.Popen([str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(os.getpid()), "--format",
                            "raw", "--rate", "200", "--gil", "--nonblocking", "-o", out],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches within a few hundred ms
    return spy


if __name__ == "__main__":
    main()

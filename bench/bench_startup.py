"""Benchmark: start-up of the Functions app and of `driftwatch scan` (issue 14, point 1).

Targets: `import function_app` < 300 ms and it imports no databricks-sdk; `driftwatch scan --workspace ID`
on the full example baseline < 1.0 s wall and < 0.7 s CPU (40 ms emulator latency); with an ARM-only
baseline < 0.5 s CPU before the first HTTP request. Prints numbers; asserts nothing.

CPU before the first request is read in the scanning process itself: a wrapper around requests'
`HTTPAdapter.send` (every client here sends through it) records `time.process_time()` at the first send.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.baselines import bench_baseline, bench_baseline_label
from bench.bench_functions import Emulator

ROOT = Path(__file__).resolve().parents[1]
LATENCY_MS = 40

_PROBE = r"""
import sys, time
import requests.adapters as _a
_orig = _a.HTTPAdapter.send
_first = []
def _send(self, *args, **kwargs):
    if not _first:
        _first.append(time.process_time())
    return _orig(self, *args, **kwargs)
_a.HTTPAdapter.send = _send
from core.cli import main
try:
    code = main(sys.argv[1:])
finally:
    sys.stderr.write("BENCH first-request-cpu %.3f sdk %s\n" % (_first[0] if _first else -1,
                     "databricks.sdk" in sys.modules))
sys.exit(code)
"""


_IMPORT = ("import sys, time{pre}; t=time.perf_counter(); c=time.process_time(); import function_app; "
           "print(time.perf_counter()-t, time.process_time()-c, 'databricks.sdk' in sys.modules)")


def _cold_import() -> None:
    """`import function_app` in a fresh interpreter, twice: from nothing, and as the Python worker does it.

    The worker loads azure-functions before it indexes the app (azure_functions_runtime 1.3
    `handle_event.worker_init_request`: `load_binding_registry()`, which imports `azure.functions`, then
    `load_function_metadata` -> `loader.index_function_app` -> `importlib.import_module("function_app")`),
    so in a worker only driftwatch's own imports are paid at indexing; both figures are printed.
    """
    for label, pre in (("from a bare interpreter", ""),
                       ("in the worker (azure.functions already loaded by the runtime)", "; import azure.functions")):
        walls, cpus, sdk = [], [], []
        for _ in range(5):
            out = subprocess.run([sys.executable, "-c", _IMPORT.format(pre=pre)],
                                 cwd=ROOT, capture_output=True, text=True, check=True)
            wall, cpu, loaded = out.stdout.split()
            walls.append(float(wall))
            cpus.append(float(cpu))
            sdk.append(loaded == "True")
        print(f"import function_app {label}: median {statistics.median(walls) * 1000:.0f} ms wall, "
              f"{statistics.median(cpus) * 1000:.0f} ms CPU, max {max(walls) * 1000:.0f} ms, "
              f"databricks.sdk imported: {any(sdk)}   [target < 300 ms, no databricks.sdk]")


def _scan(url: str, baseline: Path, workspace: str) -> tuple[float, float, float, bool]:
    """(wall s, CPU s of the child, CPU s before its first request, databricks.sdk imported)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _PROBE, "scan", "--emulator", url, "--baseline", str(baseline),
                          "--workspace", workspace, "--no-store", "--format", "json"],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next(x for x in out.stderr.splitlines() if x.startswith("BENCH "))
    parts = line.split()
    if out.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({out.returncode}): {out.stderr[-2000:]}")
    return wall, cpu, float(parts[2]), parts[4] == "True"


def main() -> None:
    _cold_import()
    estate = json.loads((ROOT / "samples" / "estate.json").read_text())
    workspace = next(r["id"] for r in estate["resources"] if r["type"] == "Microsoft.Databricks/workspaces"
                     and r.get("properties", {}).get("parameters", {}).get("customVirtualNetworkId"))
    arm_only = Path(tempfile.mkdtemp()) / "arm-only.yaml"
    arm_only.write_text("schema: driftwatch.baseline/v1\ndefaults:\n  sku: premium\n"
                        "  secure_cluster_connectivity: true\n  public_network_access: Disabled\n")
    emu = Emulator(estate, LATENCY_MS)
    try:
        for label, baseline in ((bench_baseline_label(), bench_baseline()),
                                ("ARM-only baseline (SCC)", arm_only)):
            runs = [_scan(emu.url, baseline, workspace) for _ in range(3)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            first = statistics.median(r[2] for r in runs)
            print(f"driftwatch scan --workspace (one workspace, {label}, {LATENCY_MS} ms latency): "
                  f"wall {wall:.2f} s, CPU {cpu:.2f} s, CPU before the first request {first:.2f} s, "
                  f"databricks.sdk imported: {runs[0][3]}"
                  + ("   [target < 1.0 s wall, < 0.7 s CPU]" if "example" in label
                     else "   [target < 0.5 s CPU before the first request, no databricks.sdk]"))
    finally:
        emu.close()
        os.unlink(arm_only)


if __name__ == "__main__":
    main()

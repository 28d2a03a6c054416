"""Issue 14: what a scan loads and what it calls (no timings here: bench/bench_startup.py measures those).

- `import function_app` and a scan whose baseline needs no workspace API load no databricks-sdk; a scan
  that does call workspaces loads its core (`Config`, `ApiClient`, errors) but no service module beyond the one its
  core needs, and not `WorkspaceClient` (databricks/sdk/__init__.py would import all ~50 services).
- No `/.well-known/databricks-config` probe, and every ARM document is read at most once per scan,
  counted through the emulator's request log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from core.baseline import Baseline
from core.scan import run_scan
from emulator.server import EmulatorServer
from samples.factory import sample_estate
from tests.support.collect import fast_config

ROOT = Path(__file__).resolve().parents[3]

_SCANS = r"""
import json, sys
from core.cli import main
def sdk():
    mods = sorted(m for m in sys.modules if m == "databricks.sdk" or m.startswith("databricks.sdk."))
    pkg = sys.modules.get("databricks.sdk")
    return {"loaded": bool(mods), "services": [m for m in mods if m.startswith("databricks.sdk.service")],
            "workspace_client": pkg is not None and "WorkspaceClient" in vars(pkg)}
url, arm_only, full = sys.argv[1:4]
out = {}
for label, baseline in (("arm_only", arm_only), ("full", full)):
    code = main(["scan", "--emulator", url, "--baseline", baseline, "--no-store", "--format", "json"])
    out[label] = {"code": code, **sdk()}
sys.stderr.write("RESULT " + json.dumps(out) + "\n")
"""


def test_function_app_import_loads_no_databricks_sdk() -> None:
    out = subprocess.run([sys.executable, "-c", "import sys, function_app; "
                          "print(sorted(m for m in sys.modules if m.startswith('databricks')))"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_scans_load_only_the_sdk_core_and_only_when_a_workspace_is_called(tmp_path: Path) -> None:
    arm_only = tmp_path / "arm-only.yaml"
    arm_only.write_text("schema: driftwatch.baseline/v1\ndefaults:\n  sku: premium\n"
                        "  secure_cluster_connectivity: true\n")
    with EmulatorServer(sample_estate()) as server:
        out = subprocess.run([sys.executable, "-c", _SCANS, server.url, str(arm_only),
                              str(ROOT / "baseline.example.yaml")], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
        counts = server.request_counts()["by_endpoint"]
    line = next(x for x in out.stderr.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["arm_only"] == {"code": 0, "loaded": False, "services": [], "workspace_client": False}
    assert result["full"]["code"] in (0, 1, 3)  # the sample estate has one workspace the API does not serve
    assert result["full"]["loaded"] is True  # the workspace API was read ...
    # Only what the SDK's own core imports (databricks/sdk/azure.py needs service.provisioning.Workspace).
    assert set(result["full"]["services"]) <= {"databricks.sdk.service", "databricks.sdk.service._internal",
                                               "databricks.sdk.service.provisioning"}
    assert result["full"]["workspace_client"] is False
    assert counts.get("GET ws:workspace-conf", 0) > 0  # ... through the SDK's ApiClient
    assert not any("well-known" in k for k in counts), counts


def test_a_scan_probes_nothing_and_reads_each_arm_document_once(example_baseline: Baseline) -> None:
    with EmulatorServer(sample_estate()) as server:  # one list page per subscription (the log has no query)
        out = run_scan(fast_config(server), example_baseline)
        log = server.request_counts()
        assert out.result.workspaces_scanned > 0
        by_path = Counter(r["path"].lower() for r in log["recent"] if r["method"] == "GET")
        assert log["total"] == len(log["recent"])  # the whole scan is in the log
        assert not any("well-known" in k for k in log["by_endpoint"]), log["by_endpoint"]
        arm = {p: n for p, n in by_path.items() if p.startswith("/subscriptions/")}
        assert arm and max(arm.values()) == 1, {p: n for p, n in arm.items() if n > 1}

        # An event-driven scan of one workspace: its document once, nothing probed either.
        server.reset_requests()
        wid = out.states[0].resource_id
        run_scan(fast_config(server), example_baseline, workspace_ids=[wid])
        log = server.request_counts()
        by_path = Counter(r["path"].lower() for r in log["recent"] if r["method"] == "GET")
        assert by_path[wid.lower()] == 1
        assert max(by_path.values()) == 1 and not any("well-known" in k for k in log["by_endpoint"])


def _net_calls(counts: dict[str, Any]) -> tuple[int, int]:
    """(list pages, GETs) of VNet and NSG documents, from the request log (`recent`): a GET of an access
    connector is `arm:resource` too, so the per-endpoint counts cannot tell them apart."""
    recent = counts["recent"]
    assert len(recent) < 500, "the request log is full: the counts would be short"

    def network(path: str) -> str | None:
        low = path.lower()
        for kind in ("/providers/microsoft.network/virtualnetworks", "/providers/microsoft.network/networksecuritygroups"):
            if kind in low:
                return "list" if low.endswith(kind) else "get"
        return None

    kinds = [network(r["path"]) for r in recent if r["method"] == "GET"]
    return kinds.count("list"), kinds.count("get")


def test_a_sweep_lists_the_network_per_subscription_and_a_failed_list_falls_back_to_gets(
        example_baseline: Baseline) -> None:
    """VNets (with subnets) and NSGs come from one paged list per subscription; when those lists fail
    (403 here), every document is read with its own GET and the findings are exactly the same."""
    def shape(out: object) -> list[tuple[str, str, str]]:
        return sorted((f.id, f.status, json.dumps(f.actual, sort_keys=True, default=str))
                      for f in out.result.findings)  # type: ignore[attr-defined]

    with EmulatorServer(sample_estate(), page_size=3) as server:
        listed = run_scan(fast_config(server), example_baseline)
        pages, gets = _net_calls(server.request_counts())
        assert pages > 0 and pages + gets <= 2 * pages

        server.reset_requests()
        server.set_faults([{"match": "/providers/Microsoft.Network/(virtualNetworks|networkSecurityGroups)$",
                            "action": "403"}])
        fallback = run_scan(fast_config(server), example_baseline)
        _, gets_after = _net_calls(server.request_counts())
        assert gets_after > 0 and not [e for e in fallback.result.errors if e["stage"] == "network"]
        assert shape(fallback) == shape(listed)

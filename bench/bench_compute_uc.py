"""Benchmark: collection cost of one large workspace's compute and Unity Catalog families (issue 13).

One workspace with 5,000 clusters (UI and API, spread over 500 cluster policies, half of which do not pin a
Unity Catalog access mode), 20 global init scripts and 200 storage credentials, on the emulator with 20 ms
latency per call. The baseline turns on DBX-CLU-001..007 and DBX-UC-001..005 only. Target: well under a
minute ("must not take minutes"): about 50 cluster pages + one list-compliance call per policy in use + one
permissions call per unpinned policy, the per-policy calls 8 in parallel. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import requests

from bench.bench_sweep import free_port
from core.baseline import parse_baseline
from core.collect import CollectConfig
from core.scan import run_scan
from samples import factory as f

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS, POLICIES, LATENCY_MS = 5000, 500, 20


def big_workspace_estate() -> dict[str, object]:
    vid, docs = f.network_for(f.SUB_PROD, "rg-big", "big", space="10.1.0.0/16", public="10.1.0.0/24",
                              private="10.1.1.0/24")
    ws = f.workspace_doc(f.SUB_PROD, "rg-big", "dbw-big", 4242, vnet_id=vid, tags={"env": "prod"})
    api = f.api_state()
    pinned = f.UC_POLICY_DEFINITION
    api["cluster_policies"] = [{"policy_id": f"pol-{i:04d}", "name": f"policy-{i:04d}",
                                "definition": pinned if i % 2 else json.dumps({"num_workers": {"type": "range",
                                                                                            "maxValue": i}})}
                               for i in range(POLICIES)]
    api["policy_permissions"] = {}
    api["clusters"] = [f.cluster(f"0101-000000-{i:08d}", f"cluster-{i}", source="UI" if i % 3 else "API",
                                 policy_id=f"pol-{i % POLICIES:04d}") for i in range(CLUSTERS)]
    api["policy_compliance"] = {f"0101-000000-{i:08d}": {"is_compliant": False, "violations": {"num_workers": "x"}}
                                for i in range(0, CLUSTERS, 97)}
    script = api["global_init_scripts"][0]
    api["global_init_scripts"] = [{**script, "script_id": f"S{i:04d}", "name": f"script-{i}", "position": i}
                                  for i in range(20)]
    cred = api["storage_credentials"][0]
    api["storage_credentials"] = [{**cred, "name": f"cred-{i}"} for i in range(200)]
    return {"schema": "driftwatch.estate/v1",
            "subscriptions": [{"subscriptionId": f.SUB_PROD, "displayName": "prod", "state": "Enabled"}],
            "resources": [*docs, ws], "databricks": {ws["properties"]["workspaceUrl"]: api}}


def main() -> None:
    seed = Path(tempfile.mkdtemp()) / "estate.json"
    seed.write_text(json.dumps(big_workspace_estate()))
    port = free_port()
    emu = subprocess.Popen([sys.executable, "-m", "emulator", "--seed", str(seed), "--port", str(port),
                            "--latency-ms", str(LATENCY_MS)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           cwd=ROOT)
    try:
        assert emu.stdout is not None
        emu.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        config = replace(CollectConfig.for_emulator(url), workspace_timeout_s=120)
        baseline = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {
            "compute": {"global_init_scripts": [], "uc_access_mode": True, "min_runtime": "13.3",
                        "require_policy": True, "policies": [], "users_policy_use": "uc_pinned_only",
                        "no_legacy_init_scripts": True, "worker_encryption": True},
            "unity_catalog": {"required": True, "metastore_id": f.METASTORE_ID, "metastore_owner_group": True,
                              "max_recipient_token_lifetime_days": 90,
                              "approved_access_connectors": [f.ACCESS_CONNECTOR_ID], "access_system_schema": True}}})
        requests.delete(f"{url}/_emulator/requests", timeout=5)
        t0 = time.perf_counter()
        out = run_scan(config, baseline, subscriptions=[f.SUB_PROD])
        wall = time.perf_counter() - t0
        counts = requests.get(f"{url}/_emulator/requests", timeout=5).json()
        ws_calls = {k: v for k, v in counts["by_endpoint"].items() if k.startswith("GET ws:")}
        by_rule: dict[str, int] = {}
        for fd in out.result.findings:
            by_rule[fd.rule_id] = by_rule.get(fd.rule_id, 0) + 1
        print(f"one workspace, {CLUSTERS} clusters, {POLICIES} policies, {LATENCY_MS} ms per call: wall {wall:.1f} s "
              f"[target: well under 60 s]; errors {out.result.errors or 'none'}")
        print(f"  workspace-API calls {sum(ws_calls.values())}: "
              + ", ".join(f"{k.removeprefix('GET ws:')}={v}" for k, v in sorted(ws_calls.items())))
        print("  findings: " + ", ".join(f"{k}={v}" for k, v in sorted(by_rule.items())))
    finally:
        emu.terminate()
        emu.wait(10)
        os.unlink(seed)


if __name__ == "__main__":
    main()

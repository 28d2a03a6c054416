"""Compute and Unity Catalog families end to end: databricks-sdk 0.162.0 (`ApiClient.do`, the paths and paging
of `ClustersAPI.list`, `PolicyComplianceForClustersAPI.list_compliance`, `StorageCredentialsAPI.list`, ...)
against the estate emulator, with per-endpoint faults. One scan per test (lean: the suite is at its budget)."""

from __future__ import annotations

from typing import Any

from core.baseline import Baseline
from core.rules import evaluate_workspace
from core.scan import run_scan
from core.state.estate import parse_estate
from emulator.server import EmulatorServer
from samples import factory as f
from tests.support.collect import fast_config
from tests.support.estates import NOW
from tests.support.request_order import workspace_api_depths

ML = "dbw-ml-prod"


def _scan(emulator: EmulatorServer, b: Baseline) -> Any:
    return run_scan(fast_config(emulator), b, subscriptions=[f.SUB_PROD, f.SUB_DEV])


def _ours(findings: Any) -> set[tuple[str, str, str | None]]:
    return {(fd.workspace_name, fd.rule_id, fd.subject) for fd in findings
            if fd.rule_id.startswith(("DBX-CLU", "DBX-UC"))}


def test_live_scan_equals_offline_snapshot_and_pages(emulator: EmulatorServer, example_baseline: Baseline,
                                                     monkeypatch: Any) -> None:
    from core.collect import compute_uc
    from emulator import compute_uc as emu

    monkeypatch.setattr(compute_uc, "CLUSTER_PAGE", 1)  # ml-prod's 4 clusters take 4 pages of page_token
    monkeypatch.setattr(emu, "UC_PAGE", 1)  # storage credentials: 3 pages of max_results=0
    emulator.reset_requests()
    out = _scan(emulator, example_baseline)
    live = _ours(out.result.findings)
    states, _ = parse_estate(f.sample_estate(), "sample").workspace_states()
    offline = _ours(fd for ws in states for fd in evaluate_workspace(ws, example_baseline, now=NOW).findings)
    assert live == offline
    assert {r for _, r, _ in live} == {f"DBX-CLU-00{i}" for i in range(1, 8)} | {f"DBX-UC-00{i}" for i in range(1, 6)}
    assert not any(n == "dbw-analytics-prod" for n, _, _ in live)
    host = "adb-0000000000001003.3.azuredatabricks.net"
    recent = emulator.request_counts()["recent"]
    pages = [r for r in recent if r["path"].endswith(f"{host}/api/2.1/clusters/list")]
    creds = [r for r in recent if r["path"].endswith(f"{host}/api/2.1/unity-catalog/storage-credentials")]
    assert len(pages) == 4 and len(creds) == 3
    assert not any("script" in str(fd.actual) and "curl" in str(fd.actual) for fd in out.result.findings)


def test_one_family_failing_leaves_the_others_evaluated(emulator: EmulatorServer,
                                                        example_baseline: Baseline) -> None:
    emulator.set_faults([{"match": "/api/2.1/clusters/list", "action": "403"},
                         {"match": "/unity-catalog/storage-credentials", "action": "404"},
                         {"match": "/global-init-scripts/A1B2C3D4E5F60002", "action": "500"}])
    out = _scan(emulator, example_baseline)
    ml = {(r, s) for n, r, s in {(fd.workspace_name, fd.rule_id, fd.subject) for fd in out.result.findings}
          if n == ML}
    assert {("DBX-EVAL-002", "clusters"), ("DBX-EVAL-002", "policy_compliance"),
            ("DBX-EVAL-002", "storage_credentials"), ("DBX-EVAL-002", "global_init_scripts")} <= ml
    assert ("DBX-EVAL-002", None) not in ml
    assert not any(r in ("DBX-CLU-001", "DBX-CLU-002", "DBX-CLU-004", "DBX-UC-004") for r, _ in ml)
    assert ("DBX-CLU-005", "users:ml-free-form") in ml and ("DBX-UC-003", "owner") in ml


def test_a_family_that_uses_another_follows_it_directly_two_calls_deep_at_most(
        emulator: EmulatorServer, example_baseline: Baseline) -> None:
    """Event latency (issue 14 §5): clusters -> compliance, policies -> permissions, and the metastore
    assignment -> its summary, the storage credentials, who-am-I and the system schemas start as soon as what
    they use is read, not a wave behind every other family; so the longest chain on the workspace API is two
    calls deep (`workspace_api_depths`; the metastore summary used to hold the system schemas back: three)."""
    ml = next(r["id"] for r in f.sample_estate()["resources"] if r.get("name") == ML)
    host = "adb-0000000000001003.3.azuredatabricks.net"
    emulator.set_faults(latency_ms=100)
    emulator.reset_requests()
    run_scan(fast_config(emulator), example_baseline, workspace_ids=[ml])
    emulator.clear_faults()
    depths = workspace_api_depths(emulator, host)
    by_path = dict(depths)
    assert max(d for _, d in depths) == 2, depths
    for second in ("/api/2.1/unity-catalog/metastore_summary", "/api/2.1/unity-catalog/storage-credentials",
                   "/api/2.0/preview/scim/v2/Me", "/api/2.0/policies/clusters/list-compliance"):
        assert by_path[second] == 2, by_path
    assert any(p.endswith("/systemschemas") and d == 2 for p, d in by_path.items()), by_path


def test_a_failed_metastore_summary_fails_the_metastore_and_leaves_the_system_schemas_unread(
        emulator: EmulatorServer, example_baseline: Baseline) -> None:
    """The system schemas are read beside the metastore summary (both need only the assignment); when the
    summary fails, the metastore family fails with its error and the system schemas are not used, with the
    same cause as when they waited for the whole metastore. The storage credentials, which need only to know
    that a metastore is assigned, are still read."""
    ml = next(r["id"] for r in f.sample_estate()["resources"] if r.get("name") == ML)
    emulator.set_faults([{"match": "/unity-catalog/metastore_summary", "action": "403"}])
    emulator.reset_requests()
    out = run_scan(fast_config(emulator), example_baseline, workspace_ids=[ml])
    emulator.clear_faults()
    (state,) = out.states
    api = state.workspace_api
    assert api is not None and api.metastore is None and api.system_schemas is None
    assert "403" in api.family_errors["metastore"] or "PERMISSION" in api.family_errors["metastore"].upper()
    assert api.family_errors["system_schemas"] == "not read: the metastore assignment could not be read"
    assert api.storage_credentials is not None and "storage_credentials" not in api.family_errors
    assert any(p.endswith("/systemschemas") for p in (r["path"] for r in emulator.request_counts()["recent"]))

"""driftwatch scan over HTTP: real azure-mgmt clients and databricks-sdk against the estate emulator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from core.baseline import Baseline, parse_baseline
from core.cli import main
from core.collect import CollectConfig, ConfigError, EstateCollector
from core.evaluate import evaluate_states
from core.events import Topology, route_delivery
from core.rules import read_plan
from core.scan import run_scan
from core.state import parse_estate
from emulator.server import EmulatorServer
from samples import factory as f
from tests.support.collect import fast_config

ROOT = Path(__file__).resolve().parents[3]


def by_id(findings: list[Any]) -> dict[str, tuple[str, str]]:
    return {fd.id: (fd.rule_id, fd.status) for fd in findings}


def ws_id(name: str) -> str:
    doc = next(r for r in f.sample_estate()["resources"] if r.get("name") == name)
    return str(doc["id"])


def test_live_scan_equals_offline_evaluation(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    live = run_scan(CollectConfig.for_emulator(emulator.url), example_baseline).result
    states, _ = parse_estate(f.sample_estate()).workspace_states()
    offline = evaluate_states(states, example_baseline)
    assert live.workspaces_scanned == 9
    live_ids, offline_ids = by_id(live.findings), by_id(offline.findings)
    # The only difference: the live API answers 404 for dev-shared where the snapshot has no entry.
    assert live_ids == offline_ids
    families = {fd.rule_id.rsplit("-", 1)[0] for fd in live.findings}
    assert families == {"DBX-WS", "DBX-NET", "DBX-IPACL", "DBX-CONF", "DBX-TOKEN", "DBX-SET", "DBX-SEC", "DBX-IAM", "DBX-CLU", "DBX-UC",
                        "DBX-EVAL"}


def test_discovery_pages_through_next_link(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    emulator.reset_requests()
    with EstateCollector(CollectConfig.for_emulator(emulator.url), example_baseline, plan=read_plan) as c:
        docs, result = c.discover()
    assert len(docs) == 9 and not result.errors and len(result.subscriptions) == 2
    counts = emulator.request_counts()["by_endpoint"]
    assert counts["GET arm:workspaces.list"] == 2 + 1  # 6 + 3 workspaces at page size 3: 2 pages + 1 page


def test_property_only_baseline_makes_one_list_call_per_page_and_nothing_else(emulator: EmulatorServer) -> None:
    b = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {
        "sku": "premium", "public_network_access": "Disabled", "secure_cluster_connectivity": True}})
    emulator.reset_requests()
    out = run_scan(CollectConfig.for_emulator(emulator.url), b, subscriptions=[f.SUB_PROD, f.SUB_DEV])
    counts = emulator.request_counts()["by_endpoint"]
    assert counts == {"GET arm:workspaces.list": 3}, counts
    assert {fd.workspace_name for fd in out.result.findings} == {"dbw-legacy", "dbw-bi-prod", "dev-sandbox",
                                                                 "dev-shared"}


def test_shared_vnet_and_nsg_are_read_once() -> None:
    estate = f.large_estate(12, 2, shared_network_every=4)
    b = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {"network": {"vnet_injection": True}}})
    with EmulatorServer(estate) as server:
        out = run_scan(CollectConfig.for_emulator(server.url), b)
        counts = server.request_counts()["by_endpoint"]
    assert out.result.workspaces_scanned == 12
    # 3 VNets + 3 NSGs for 12 workspaces: one GET each at most, fewer where a subscription list (issue 14)
    # returns several of them in one page.
    reads = counts.get("GET arm:resource", 0) + counts.get("GET arm:resources.list", 0)
    assert 0 < reads <= 3 + 3
    assert "GET ws:workspace-conf" not in counts  # no in-workspace rule on: no workspace-API call


def test_429_burst_with_retry_after_is_honoured(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    emulator.set_faults([{"match": "/providers/Microsoft.Databricks/workspaces", "method": "GET", "action": "429",
                          "count": 3, "retry_after": 1}])
    t0 = time.monotonic()
    out = run_scan(fast_config(emulator), example_baseline)
    assert time.monotonic() - t0 >= 1.0
    assert out.result.workspaces_scanned == 9
    assert not [e for e in out.result.errors if e["stage"] == "discovery"]


def test_500_is_retried(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    emulator.set_faults([{"match": "virtualNetworks", "action": "500", "count": 2}])
    out = run_scan(fast_config(emulator), example_baseline)
    assert not [fd for fd in out.result.findings if fd.rule_id == "DBX-EVAL-001"]


def test_hanging_arm_read_is_bounded_and_becomes_eval_001(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    # The subscription's VNet list is refused, so the VNet is read with its own GET, and that GET hangs.
    emulator.set_faults([{"match": "virtualNetworks/vnet-analytics", "action": "hang", "hang_seconds": 30},
                         {"match": "/providers/Microsoft.Network/virtualNetworks$", "action": "403"}])
    t0 = time.monotonic()
    out = run_scan(fast_config(emulator, arm_retries=1), example_baseline)
    elapsed = time.monotonic() - t0
    assert elapsed < 15, elapsed
    evals = [fd for fd in out.result.findings if fd.rule_id == "DBX-EVAL-001"]
    assert [fd.workspace_name for fd in evals] == ["dbw-analytics-prod"]
    assert "timeout" in evals[0].message or "no response" in evals[0].message
    assert any(e["stage"] == "network" for e in out.result.errors)


def test_403_on_workspace_api_gives_eval_002_while_arm_rules_evaluate(emulator: EmulatorServer,
                                                                      example_baseline: Baseline) -> None:
    host = "adb-0000000000001004.4.azuredatabricks.net"  # dbw-legacy
    emulator.set_faults(deny_workspace=host, status=403)
    out = run_scan(fast_config(emulator), example_baseline)
    legacy = [fd for fd in out.result.findings if fd.workspace_name == "dbw-legacy"]
    rules = {fd.rule_id for fd in legacy}
    assert "DBX-EVAL-002" in rules and "DBX-WS-001" in rules
    assert not any(r.startswith(("DBX-IPACL", "DBX-CONF", "DBX-TOKEN")) for r in rules)
    ev = next(fd for fd in legacy if fd.rule_id == "DBX-EVAL-002")
    assert "403" in ev.message or "PermissionDenied" in ev.message
    assert "Bearer" not in json.dumps(ev.to_json_dict())


def test_unreachable_workspace_api_is_bounded(example_baseline: Baseline) -> None:
    estate = f.sample_estate()
    with EmulatorServer(estate) as server:
        server.set_faults([{"match": "/ws/adb-0000000000001001", "action": "hang", "hang_seconds": 60}])
        t0 = time.monotonic()
        out = run_scan(fast_config(server, workspace_timeout_s=2, read_timeout_s=1.0), example_baseline)
        elapsed = time.monotonic() - t0
    assert elapsed < 12, elapsed
    assert "DBX-EVAL-002" in {fd.rule_id for fd in out.result.findings if fd.workspace_name == "dbw-analytics-prod"}


def test_workspace_deleted_between_listing_and_reading(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    with EstateCollector(CollectConfig.for_emulator(emulator.url), example_baseline, plan=read_plan) as c:
        docs, result = c.discover()
        gone = ws_id("dbw-finance-prod")
        r = requests.delete(f"{emulator.url}{gone}?api-version=2026-01-01", headers={"Authorization": "Bearer x"},
                            timeout=5)
        assert r.status_code == 202  # a long-running delete (databricks.json 2026-01-01, WorkspaceDelete.json)
        c.collect(docs, result)
    assert result.deleted == [gone]
    assert len(result.states) == 8 and not result.errors
    with EstateCollector(CollectConfig.for_emulator(emulator.url), example_baseline, plan=read_plan) as c:
        assert c.collect_by_id(gone) is None


def test_drift_injected_then_detected_and_its_event_routes(emulator: EmulatorServer,
                                                           example_baseline: Baseline) -> None:
    cfg = CollectConfig.for_emulator(emulator.url)
    before = run_scan(cfg, example_baseline).result
    assert not [fd for fd in before.findings if fd.workspace_name == "dbw-analytics-prod"]
    nsg = next(r for r in f.sample_estate()["resources"] if r.get("name") == "nsg-analytics")
    rule = f.nsg_rule(nsg["id"], "temp-debug", "Inbound", 150, "Tcp", "Internet", "*", "22")
    emulator.clear_events()
    r = requests.put(f"{emulator.url}{rule['id']}?api-version=2025-07-01", json=rule,
                     headers={"Authorization": "Bearer x"}, timeout=5)
    assert r.status_code in (200, 201)
    after = run_scan(cfg, example_baseline).result
    new = [fd for fd in after.findings if fd.workspace_name == "dbw-analytics-prod"]
    assert [(fd.rule_id, fd.subject) for fd in new] == [("DBX-NET-005", "temp-debug")]
    (event,) = emulator.events()
    topology = Topology.from_states(parse_estate(emulator.state()).workspace_states()[0])
    (decision,) = route_delivery([event], topology)
    assert decision.action == "scan" and decision.workspaces == [ws_id("dbw-analytics-prod")]


def test_scan_by_workspace_id_and_unreadable_workspace(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    cfg = fast_config(emulator, arm_retries=0)
    out = run_scan(cfg, example_baseline, workspace_ids=[ws_id("dbw-bi-prod")])
    assert {fd.workspace_name for fd in out.result.findings} == {"dbw-bi-prod"}
    emulator.set_faults([{"match": "workspaces/dbw-bi-prod", "action": "500"}])
    out = run_scan(cfg, example_baseline, workspace_ids=[ws_id("dbw-bi-prod")])
    assert [fd.rule_id for fd in out.result.findings] == ["DBX-EVAL-001"]


def test_plain_http_refused_outside_emulator_mode() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        CollectConfig(arm_endpoint="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="plain http"):
        CollectConfig(workspace_base_url="http://{workspaceUrl}")
    CollectConfig(arm_endpoint="http://127.0.0.1:1", emulator_mode=True)


def test_cli_scan_json_against_emulator(emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", "--emulator", emulator.url, "--baseline", str(ROOT / "baseline.example.yaml"),
                 "--no-store", "--no-notify", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 3 and doc["workspaces_scanned"] == 9
    assert all(fd["source"] == "cli" for fd in doc["findings"])


def _baseline_with_conf(tmp_path: Path, conf: dict[str, str]) -> Path:
    import yaml

    doc = yaml.safe_load((ROOT / "baseline.example.yaml").read_text())
    doc["defaults"]["workspace_conf"] = conf
    path = tmp_path / "baseline.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_unsupported_workspace_conf_key_is_dropped_and_the_rest_evaluated(emulator: EmulatorServer,
                                                                           tmp_path: Path) -> None:
    """The emulator answers like Databricks (400 INVALID_PARAMETER_VALUE "Invalid keys: [...]"); the collector
    drops the named key, retries once through databricks-sdk, and the other keys are still evaluated."""
    from core.baseline import load_baseline

    b = load_baseline(_baseline_with_conf(tmp_path, {"enableVerboseAuditLogs": "true", "enableDbfsFileBrowser": "false",
                                                     "enableVerboseAuditLog": "true"}))   # a typo
    emulator.reset_requests()
    out = run_scan(fast_config(emulator), b, workspace_ids=[ws_id("dbw-bi-prod")])
    counts = emulator.request_counts()["by_endpoint"]
    assert counts["GET ws:workspace-conf"] == 2  # the rejected read and the retry without the typo
    got = {(fd.rule_id, fd.subject): fd for fd in out.result.findings}
    assert ("DBX-CONF-002", "enableVerboseAuditLog") in got
    assert ("DBX-CONF-001", "enableDbfsFileBrowser") in got     # "true" on dbw-bi-prod: still evaluated
    assert ("DBX-IPACL-001", None) in got and ("DBX-TOKEN-001", None) in got
    assert not [fd for fd in out.result.findings if fd.rule_id == "DBX-EVAL-002"] and not out.result.errors


def test_serverless_and_private_only_are_not_applicable_live(emulator: EmulatorServer,
                                                            example_baseline: Baseline) -> None:
    """The spec-shaped Serverless workspace (WorkspaceCreateServerless.json) is read through azure-mgmt like any
    other; its classic-compute rules and (private only) IP access lists are listed, not findings."""
    emulator.reset_requests()
    out = run_scan(fast_config(emulator), example_baseline, workspace_ids=[ws_id("dbw-serverless-prod")])
    # no ESC on it in the sample (WS-008, WS-017), the baseline expects Hybrid (WS-011), its private endpoint has
    # no DNS zone group (NET-008)
    assert {fd.rule_id for fd in out.result.findings} == {"DBX-WS-008", "DBX-WS-011", "DBX-WS-017", "DBX-NET-008"}
    na = {(n["rule_id"], n["subject"]) for n in out.result.not_applicable}
    assert {("DBX-WS-002", None), ("DBX-NET-005", None), ("DBX-WS-006", "managed_disk"), ("DBX-IPACL-001", None),
            ("DBX-WS-012", None), ("DBX-WS-013", None), ("DBX-WS-014", "dbfs_root")} <= na
    counts = emulator.request_counts()["by_endpoint"]
    assert "GET ws:ip-access-lists" not in counts  # nothing is read for rules that cannot apply


def test_cli_scan_lists_not_applicable_and_unsupported_keys(emulator: EmulatorServer, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    baseline = _baseline_with_conf(tmp_path, {"enableVerboseAuditLogs": "true", "enableByocUi": "true"})
    code = main(["scan", "--emulator", emulator.url, "--baseline", str(baseline), "--no-store", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 3  # dev-shared's workspace API is not in the sample (404), as before
    serverless = ws_id("dbw-serverless-prod")
    mine = [n for n in doc["not_applicable"] if n["resource_id"] == serverless]
    assert {n["rule_id"] for n in mine} >= {"DBX-WS-002", "DBX-WS-004", "DBX-WS-007", "DBX-NET-001", "DBX-NET-004",
                                            "DBX-NET-005", "DBX-IPACL-003"}
    assert all(set(n) == {"resource_id", "rule_id", "reason", "subject"} and n["reason"].startswith("not applicable")
               for n in doc["not_applicable"])
    assert not [fd for fd in doc["findings"] if fd["resource_id"] == serverless and fd["rule_id"] in
                ("DBX-WS-002", "DBX-NET-001", "DBX-NET-005")]
    conf2 = {fd["workspace_name"] for fd in doc["findings"] if fd["rule_id"] == "DBX-CONF-002"}
    assert "dbw-bi-prod" in conf2 and "dbw-serverless-prod" in conf2
    assert not [e for e in doc["errors"] if "Invalid keys" in e["message"]]
    code = main(["scan", "--emulator", emulator.url, "--baseline", str(baseline), "--no-store"])
    table = capsys.readouterr().out
    assert "checks not applicable" in table and "dbw-serverless-prod: DBX-WS-002" in table

def test_cli_scan_ocsf_against_emulator(emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]) -> None:
    """`scan --format ocsf`: one OCSF Compliance Finding per finding, schema-valid (issue 16)."""
    from tests.unit.test_ocsf import assert_valid_ocsf

    code = main(["scan", "--emulator", emulator.url, "--baseline", str(ROOT / "baseline.example.yaml"),
                 "--no-store", "--no-notify", "--format", "ocsf"])
    events = json.loads(capsys.readouterr().out)
    assert code == 3 and events and all(e["class_uid"] == 2003 for e in events)
    assert_valid_ocsf(events)

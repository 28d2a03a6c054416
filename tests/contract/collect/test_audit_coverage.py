"""Nothing drops out of the audit silently, and a wrong api-version cannot pass (issue 9 points 5 and 6).

Real azure-mgmt clients and databricks-sdk against the estate emulator. Sources:
- subscription states: azure-rest-api-specs `specification/resources/resource-manager/Microsoft.Resources/
  subscriptions/stable/2022-12-01/subscriptions.json` (`SubscriptionState`), Microsoft Learn
  "Azure subscription states" for what ARM serves in each.
- provisioningState: `specification/databricks/resource-manager/Microsoft.Databricks/Databricks/stable/
  2026-01-01/databricks.json` (`ProvisioningState`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from core.baseline import Baseline, parse_baseline
from core.cli import main
from core.collect import CollectConfig, EstateCollector
from core.collect import config as collect_config
from core.rules import read_plan
from core.scan import run_scan
from emulator.server import EmulatorServer
from samples import factory as f

ROOT = Path(__file__).resolve().parents[3]
SKU_ONLY = {"schema": "driftwatch.baseline/v1", "defaults": {"sku": "premium"}}
STATES = ("Enabled", "Warned", "PastDue", "Disabled", "Deleted")


def _ws(sub: str, name: str, provisioning: str = "Succeeded") -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/{name}",
            "name": name, "type": "Microsoft.Databricks/workspaces", "location": "westeurope",
            "sku": {"name": "standard"},
            "properties": {"computeMode": "Serverless", "provisioningState": provisioning,
                           "workspaceId": "1", "workspaceUrl": f"adb-{name}.1.azuredatabricks.net"}}


def _estate_in_every_state() -> dict[str, Any]:
    subs = [{"subscriptionId": f"{i:08d}-0000-4000-8000-000000000000", "displayName": state, "state": state}
            for i, state in enumerate(STATES)]
    return {"schema": "driftwatch.estate/v1", "subscriptions": subs,
            "resources": [_ws(s["subscriptionId"], f"ws-{s['state'].lower()}") for s in subs]}


def test_every_served_subscription_state_is_swept_and_the_others_are_skipped() -> None:
    baseline = parse_baseline(SKU_ONLY)
    with EmulatorServer(_estate_in_every_state()) as server:
        result = run_scan(CollectConfig.for_emulator(server.url), baseline).result
    scanned = {f.workspace_name for f in result.findings}
    assert scanned == {"ws-enabled", "ws-warned", "ws-pastdue"}  # each has its standard-SKU finding
    assert result.workspaces_scanned == 3 and not result.errors
    reasons = {s["resource_id"].split("/")[2]: s["reason"] for s in result.skipped}
    assert set(reasons) == {"00000003-0000-4000-8000-000000000000", "00000004-0000-4000-8000-000000000000"}
    assert reasons["00000003-0000-4000-8000-000000000000"].startswith("subscription is Disabled")
    assert reasons["00000004-0000-4000-8000-000000000000"].startswith("subscription is Deleted")


def test_skipped_workspaces_do_not_change_the_exit_code_evaluation_problems_do(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    estate = _estate_in_every_state()
    estate["resources"][0] = _ws(estate["subscriptions"][0]["subscriptionId"], "ws-updating", "Updating")
    baseline = tmp_path / "b.json"
    baseline.write_text(json.dumps(SKU_ONLY))
    with EmulatorServer(estate) as server:
        code = main(["scan", "--emulator", server.url, "--baseline", str(baseline), "--no-store", "--format", "json"])
        doc = json.loads(capsys.readouterr().out)
        assert code == 0 and doc["errors"] == []
        skipped = {s["resource_id"].rsplit("/", 1)[1]: s["reason"] for s in doc["skipped"]}
        assert skipped["ws-updating"].startswith("provisioningState Updating")
        assert "ws-updating" not in {x["workspace_name"] for x in doc["findings"]}  # not evaluated at all
        code = main(["scan", "--emulator", server.url, "--baseline", str(baseline), "--no-store", "--format", "table"])
        assert code == 0 and "3 skipped" in capsys.readouterr().out
    estate["resources"][1] = _ws(estate["subscriptions"][1]["subscriptionId"], "ws-failed", "Failed")
    with EmulatorServer(estate) as server:
        code = main(["scan", "--emulator", server.url, "--baseline", str(baseline), "--no-store", "--format", "json"])
        doc = json.loads(capsys.readouterr().out)
    assert code == 3
    [err] = doc["errors"]
    assert err["resource_id"].endswith("/ws-failed") and err["stage"] == "arm" and "Failed" in err["message"]
    failed = [(x["rule_id"], x["workspace_name"]) for x in doc["findings"] if x["workspace_name"] == "ws-failed"]
    assert failed == [("DBX-EVAL-001", "ws-failed")]  # nothing else is judged on a failed deployment


def test_diagnostic_settings_404_is_an_evaluation_problem_not_a_deletion(
        emulator: EmulatorServer, example_baseline: Baseline) -> None:
    emulator.set_faults([{"match": "diagnosticSettings", "method": "GET", "action": "404"}])
    result = run_scan(CollectConfig.for_emulator(emulator.url), example_baseline).result
    n = 9  # the sample estate's workspaces
    assert result.workspaces_scanned == n  # before: every workspace was taken for deleted
    diag = [e for e in result.errors if e["stage"] == "diagnostics"]
    assert len(diag) == n and all("404" in e["message"] for e in diag)
    rules = {fd.rule_id for fd in result.findings}
    assert "DBX-EVAL-001" in rules and "DBX-WS-010" not in rules  # not judged on missing data
    assert {"DBX-WS-002", "DBX-NET-005", "DBX-IPACL-003"} <= rules  # the other rules still ran
    for ev in result.evaluations:
        assert "DBX-WS-010" not in ev.evaluated_rules  # so none of its findings can resolve


def test_deletion_is_decided_by_the_workspace_itself(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    doc = next(r for r in f.sample_estate()["resources"] if r.get("name") == "dbw-bi-prod")
    with EstateCollector(CollectConfig.for_emulator(emulator.url), example_baseline, plan=read_plan) as collector:
        emulator.set_faults([{"match": "(?i)dbw-bi-prod$", "method": "GET", "action": "404"},
                             {"match": "diagnosticSettings", "method": "GET", "action": "404"}])
        assert collector.collect_workspace(copy.deepcopy(doc)) is None  # the workspace GET says 404: gone


def test_collector_api_versions_are_published_ones() -> None:
    data = json.loads((ROOT / "emulator" / "api_versions.json").read_text())["types"]
    assert collect_config.DATABRICKS_API_VERSION in data["Microsoft.Databricks/workspaces"]["versions"]
    assert collect_config.NETWORK_API_VERSION in data["Microsoft.Network/networkSecurityGroups"]["versions"]
    assert collect_config.DIAGNOSTICS_API_VERSION in data["Microsoft.Insights/diagnosticSettings"]["versions"]


@pytest.mark.parametrize("constant, wrong, stage", [
    ("NETWORK_API_VERSION", "2025-08-01", "network"),
    ("DIAGNOSTICS_API_VERSION", "2026-01-01", "diagnostics"),
    ("DATABRICKS_API_VERSION", "2025-01-01", "arm"),
])
def test_a_wrong_api_version_constant_fails_against_the_emulator(
        emulator: EmulatorServer, example_baseline: Baseline, monkeypatch: pytest.MonkeyPatch,
        constant: str, wrong: str, stage: str) -> None:
    wid = next(r["id"] for r in f.sample_estate()["resources"] if r.get("name") == "dbw-analytics-prod")
    monkeypatch.setattr(collect_config, constant, wrong)
    with EstateCollector(CollectConfig.for_emulator(emulator.url), example_baseline, plan=read_plan) as collector:
        state = collector.collect_by_id(wid)
    assert state is not None and not isinstance(state, str)
    errors = [e for e in state.errors if e.stage == stage]  # type: ignore[union-attr]
    assert errors and "HTTP 400 NoRegisteredProviderFound" in errors[0].message

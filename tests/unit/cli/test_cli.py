"""The CLI contract (ARCHITECTURE 4.1): formats, exit codes, and bad input without tracebacks."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.catalogue import RULE_IDS
from core.cli import main
from tests.support.estates import STRICT_BASELINE, compliant_estate

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = str(ROOT / "samples" / "estate.json")
EXAMPLE = str(ROOT / "baseline.example.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, data: Any) -> str:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(p)


def test_evaluate_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", "--state", SAMPLE, "--baseline", EXAMPLE, "--format", "json")
    doc = json.loads(out)
    assert code == 3  # dev-shared has no workspace-API state in the sample snapshot
    assert doc["schema"] == "driftwatch.scan/v1"
    assert set(doc) == {"schema", "scan_id", "started_at", "finished_at", "baseline_sha256", "workspaces_scanned",
                        "findings", "errors", "not_applicable", "skipped"}
    assert doc["workspaces_scanned"] == 9
    f0 = doc["findings"][0]
    for key in ("id", "rule_id", "title", "severity", "status", "resource_id", "subscription_id", "workspace_name",
                "related_resource_id", "subject", "expected", "actual", "message", "remediation", "first_seen",
                "last_seen", "resolved_at", "source", "baseline_sha256", "exemption"):
        assert key in f0
    assert f0["source"] == "cli" and f0["baseline_sha256"] == doc["baseline_sha256"]
    assert doc["errors"] == [{"resource_id": doc["errors"][0]["resource_id"], "stage": "workspace_api",
                              "message": doc["errors"][0]["message"]}]
    rules = {f["rule_id"] for f in doc["findings"]}
    assert {"DBX-NET-005", "DBX-IPACL-003", "DBX-WS-002", "DBX-TOKEN-002", "DBX-EVAL-002"} <= rules
    exempted = [f for f in doc["findings"] if f["status"] == "exempted"]
    assert exempted and exempted[0]["exemption"]["approved_by"] == "security-team"


def test_evaluate_table_and_csv(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "evaluate", "--state", SAMPLE, "--baseline", EXAMPLE)
    assert "SEVERITY" in out and "DBX-NET-005" in out and "9 workspaces scanned" in out
    _, out, _ = run(capsys, "evaluate", "--state", SAMPLE, "--baseline", EXAMPLE, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and rows[0]["rule_id"].startswith("DBX-") and "remediation" in rows[0]


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "ok.json", compliant_estate())
    bl = write(tmp_path, "b.json", STRICT_BASELINE)
    assert run(capsys, "evaluate", "--state", good, "--baseline", bl, "--fail-on", "info")[0] == 0
    drift = compliant_estate(lambda e: e["resources"][0]["sku"].update(name="standard"))
    bad = write(tmp_path, "drift.json", drift)
    assert run(capsys, "evaluate", "--state", bad, "--baseline", bl)[0] == 0
    assert run(capsys, "evaluate", "--state", bad, "--baseline", bl, "--fail-on", "high")[0] == 1
    assert run(capsys, "evaluate", "--state", bad, "--baseline", bl, "--fail-on", "critical")[0] == 0
    missing_api = write(tmp_path, "noapi.json", compliant_estate(with_api=False))
    assert run(capsys, "evaluate", "--state", missing_api, "--baseline", bl)[0] == 3


@pytest.mark.parametrize(("files", "needle"), [
    ({"state": '{"schema": "driftwatch.estate/v1", "resources": [{"id": 1}]}'}, "resources[0]"),
    ({"state": "not json"}, "not valid JSON"),
    ({"baseline": "schema: driftwatch.baseline/v1\ndefaults: {skuu: premium}\n"}, "defaults.skuu"),
    ({"baseline": "schema: driftwatch.baseline/v1\nexemptions: [{rule: DBX-WS-001, resource: x, reason: y}]\n"},
     "exemptions[0].expires"),
    ({"baseline": "::: not yaml :::\n  - ["}, "not valid YAML"),
])
def test_bad_input_exits_2_naming_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                files: dict[str, str], needle: str) -> None:
    state = write(tmp_path, "state.json", files.get("state", json.dumps(compliant_estate())))
    bl = write(tmp_path, "base.yaml", files.get("baseline", json.dumps(STRICT_BASELINE)))
    code, out, err = run(capsys, "evaluate", "--state", state, "--baseline", bl)
    assert code == 2
    assert needle in err and ("state.json" in err or "base.yaml" in err)
    assert "Traceback" not in err and out == ""


def test_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "evaluate", "--state", str(tmp_path / "nope.json"), "--baseline", EXAMPLE)
    assert code == 2 and "nope.json: file not found" in err
    code, _, err = run(capsys, "route-event", str(tmp_path / "nope.json"))
    assert code == 2 and "nope.json" in err


def test_bad_flags_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--state", SAMPLE, "--format", "xml"])
    assert exc.value.code == 2


def test_route_event_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = json.loads(Path(SAMPLE).read_text())["resources"]
    nsg = next(r for r in ws if r["name"] == "nsg-ml")
    events = [
        {"id": "1", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": nsg["id"] + "/securityRules/x",
         "data": {"operationName": "Microsoft.Network/networkSecurityGroups/securityRules/write", "status": "Succeeded"}},
        {"id": "2", "garbage": True},
    ]
    path = write(tmp_path, "events.json", events)
    code, out, _ = run(capsys, "route-event", path, "--state", SAMPLE)
    doc = json.loads(out)
    assert code == 0 and doc["schema"] == "driftwatch.routing/v1"
    assert [d["action"] for d in doc["decisions"]] == ["scan", "reject"]
    assert set(doc["decisions"][0]) == {"event_id", "action", "workspaces", "reason"}
    assert doc["decisions"][0]["workspaces"][0].endswith("/dbw-ml-prod")
    code, out, _ = run(capsys, "route-event", path)  # without topology the NSG is unknown
    assert json.loads(out)["decisions"][0]["action"] == "ignore"
    bad = write(tmp_path, "bad.json", "{nope")
    code, _, err = run(capsys, "route-event", bad)
    assert code == 2 and "bad.json" in err


def test_baseline_validate_and_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "baseline", "validate", EXAMPLE)
    assert code == 0 and "valid driftwatch.baseline/v1" in out
    bad = write(tmp_path, "b.yaml", "schema: driftwatch.baseline/v1\ndefaults: {ip_access_lists: {allow: [300.1.1.1]}}")
    code, _, err = run(capsys, "baseline", "validate", bad)
    assert code == 2 and "defaults.ip_access_lists.allow[0]" in err and "300.1.1.1" in err
    code, out, _ = run(capsys, "rules", "--format", "json")
    rules = json.loads(out)["rules"]
    assert len(rules) == len(RULE_IDS) and rules[0]["id"] == "DBX-WS-001"
    assert rules[0]["risk"] and rules[0]["references"][0].startswith("https://")  # from the catalogue
    code, out, _ = run(capsys, "rules")
    assert "DBX-TOKEN-002" in out


def test_rules_doc_is_fresh() -> None:
    from core.docs_gen import render_rules_markdown

    assert (ROOT / "docs" / "rules.md").read_text() == render_rules_markdown(), "run: make docs"


def test_help_does_not_import_sdks() -> None:
    code = ("import sys; from core.cli import build_parser; build_parser();"
            "heavy=[m for m in ('pydantic','azure.core','databricks.sdk','yaml') if m in sys.modules];"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "core.cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "evaluate" in out.stdout

"""`driftwatch scan` with the store on uses the same reconcile and notify code as the Functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main
from core.store import TableFindingsStore
from emulator.server import EmulatorServer
from samples.factory import sample_estate
from tests.azurite import AzuriteProcess

ROOT = Path(__file__).resolve().parents[2]


def test_scan_reconciles_and_notifies_then_is_quiet(azurite: AzuriteProcess, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.app import clear_storage

    clear_storage(azurite.connection_string)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("DRIFTWATCH_NOTIFY_MIN_SEVERITY", "high")
    with EmulatorServer(sample_estate()) as emulator:
        args = ["scan", "--emulator", emulator.url, "--baseline", str(ROOT / "baseline.example.yaml")]
        assert main(args) == 3
        err = capsys.readouterr().err
        assert "105 transitions recorded" in err  # 104 opened + 1 exempted
        posts = len(emulator.teams_posts())
        assert posts >= 1
        assert main(args) == 3
        assert "0 transitions recorded, 0 Teams digests posted" in capsys.readouterr().err
        assert len(emulator.teams_posts()) == posts
    store = TableFindingsStore.from_connection_string(azurite.connection_string)
    assert len(store.query(status="open", top=1000)[0]) == 104


def test_scan_without_store_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    with EmulatorServer(sample_estate()) as emulator:
        code = main(["scan", "--emulator", emulator.url, "--baseline", str(ROOT / "baseline.example.yaml")])
    assert code == 2 and "--no-store" in capsys.readouterr().err


def test_scan_resolves_old_classic_findings_of_a_serverless_workspace_as_not_applicable(
        azurite: AzuriteProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Findings opened while the workspace was (mis)read as classic are resolved by `driftwatch scan` once it is
    read as Serverless, with "not applicable: ..." in their history; computeMode cannot change, so they never
    come back. Other findings of the workspace are untouched."""
    from datetime import UTC, datetime, timedelta

    from core.baseline import load_baseline
    from core.rules import evaluate_workspace
    from core.rules.applicability import SERVERLESS_REASON
    from core.state import parse_estate
    from tests.support.app import clear_storage

    clear_storage(azurite.connection_string)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    estate = sample_estate()
    ws_doc = next(r for r in estate["resources"] if r.get("name") == "dbw-serverless-prod")
    # What an earlier evaluation saw when computeMode was not read: a classic workspace without parameters.
    classic = {**estate, "resources": [{**ws_doc, "properties": {k: v for k, v in ws_doc["properties"].items()
                                                                 if k != "computeMode"}}]}
    (old_state,), _ = parse_estate(classic).workspace_states()
    baseline = load_baseline(ROOT / "baseline.example.yaml")
    old = evaluate_workspace(old_state, baseline, now=datetime.now(UTC) - timedelta(hours=1), source="sweep")
    store = TableFindingsStore.from_connection_string(azurite.connection_string)
    store.connection.ensure()
    store.reconcile(old.findings, resource_id=ws_doc["id"], evaluated_rules=old.evaluated_rules,
                    now=datetime.now(UTC) - timedelta(hours=1), source="sweep")
    ws002 = next(x for x in old.findings if x.rule_id == "DBX-WS-002")
    assert {"DBX-WS-002", "DBX-NET-001"} <= {x.rule_id for x in old.findings}
    with EmulatorServer(estate) as emulator:
        code = main(["scan", "--emulator", emulator.url, "--baseline", str(ROOT / "baseline.example.yaml"),
                     "--workspace", ws_doc["id"], "--no-notify"])
    assert code == 0, capsys.readouterr()
    current, history = store.get(ws002.id)
    assert current.status == "resolved"
    assert [(h.transition, h.reason) for h in history] == [("opened", None), ("resolved", SERVERLESS_REASON)]
    still_open = {x.rule_id for x in store.query(status="open", workspace=ws_doc["id"], top=100)[0]}
    assert still_open == {"DBX-WS-008", "DBX-WS-011", "DBX-WS-017", "DBX-NET-008"}  # none of them classic-only

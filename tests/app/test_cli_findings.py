"""`driftwatch findings list|show|export` against Azurite, through an argparse parser like core/cli/app.py's."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from core.cli import findings as cli_findings
from core.errors import InputError
from core.store import TableFindingsStore
from tests.azurite import ACCOUNT_KEY, free_port
from tests.support.store import T0, make_finding, ws_id

pytestmark = pytest.mark.integration

WS = ws_id("ws-cli")
EVAL = frozenset({"DBX-WS-001", "DBX-WS-002"})


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="driftwatch")
    sub = p.add_subparsers(dest="command", required=True)
    cli_findings.register(sub, None)
    args = p.parse_args(argv)
    try:
        return int(args.func(args))
    except InputError as exc:
        import sys

        sys.stderr.write(f"driftwatch: error: {exc}\n")
        return 2


@pytest.fixture
def seeded(store: TableFindingsStore, monkeypatch: pytest.MonkeyPatch, azurite) -> TableFindingsStore:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    store.reconcile([make_finding(WS, "DBX-WS-001"), make_finding(WS, "DBX-WS-002", severity="critical")],
                    resource_id=WS, evaluated_rules=EVAL, now=T0, source="sweep")
    store.reconcile([make_finding(WS, "DBX-WS-001")], resource_id=WS, evaluated_rules=EVAL,
                    now=T0 + timedelta(hours=1), source="sweep")
    return store


def test_list_formats(seeded: TableFindingsStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["findings", "list", "--status", "open", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "driftwatch.findings-page/v1" and [f["rule_id"] for f in doc["findings"]] == ["DBX-WS-001"]
    assert run(["findings", "list", "--workspace", "WS-CLI", "--format", "csv"]) == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 2
    assert run(["findings", "list", "--top", "1"]) == 0
    out = capsys.readouterr()
    assert "SEVERITY" in out.out and "--continuation" in out.err


def test_list_continuation(seeded: TableFindingsStore, capsys: pytest.CaptureFixture[str]) -> None:
    run(["findings", "list", "--top", "1", "--format", "json"])
    first = json.loads(capsys.readouterr().out)
    run(["findings", "list", "--top", "1", "--format", "json", "--continuation", first["continuation"]])
    second = json.loads(capsys.readouterr().out)
    assert first["findings"][0]["id"] != second["findings"][0]["id"] and second["continuation"] is None
    assert run(["findings", "list", "--continuation", "bogus"]) == 2
    assert "--continuation" in capsys.readouterr().err


def test_show(seeded: TableFindingsStore, capsys: pytest.CaptureFixture[str]) -> None:
    fid = seeded.query(rule="DBX-WS-002")[0][0].id
    assert run(["findings", "show", fid, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [h["transition"] for h in doc["history"]] == ["opened", "resolved"]
    assert run(["findings", "show", fid]) == 0
    out = capsys.readouterr().out
    assert "history:" in out and "resolved" in out
    assert run(["findings", "show", "0" * 32]) == 2
    assert "no finding" in capsys.readouterr().err


def test_export_to_file(seeded: TableFindingsStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.csv"
    assert run(["findings", "export", "--output", str(out)]) == 0
    assert len(list(csv.DictReader(out.open()))) == 2
    assert run(["findings", "export", "--format", "json", "--severity", "critical"]) == 0
    assert len(json.loads(capsys.readouterr().out)["findings"]) == 1
    assert run(["findings", "export", "--output", str(tmp_path / "missing" / "x.csv")]) == 2


@pytest.mark.parametrize(("argv", "flag"), [
    (["findings", "list", "--status", "closed"], "--status"),
    (["findings", "list", "--severity", "urgent"], "--severity"),
    (["findings", "list", "--rule", "DBX-1"], "--rule"),
    (["findings", "list", "--since", "yesterday"], "--since"),
    (["findings", "list", "--top", "0"], "--top"),
    (["findings", "list", "--format", "xml"], "--format"),
    (["findings", "show", "x", "--format", "csv"], "--format"),
    (["findings", "export", "--format", "table"], "--format"),
])
def test_bad_flags_exit_2_naming_the_flag(argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(argv)
    assert info.value.code == 2 and flag in capsys.readouterr().err


def test_no_storage_configured_and_unavailable(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("AzureWebJobsStorage", "AzureWebJobsStorage__accountName"):
        monkeypatch.delenv(name, raising=False)
    assert run(["findings", "list"]) == 2
    assert "AzureWebJobsStorage" in capsys.readouterr().err
    assert run(["findings", "list", "--storage", "not a connection string"]) == 2
    port = free_port()
    cs = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
          f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
    monkeypatch.setenv("AzureWebJobsStorage", cs)
    monkeypatch.setattr(cli_findings, "_open_store",
                        lambda args: TableFindingsStore.from_connection_string(cs, retry_total=0))
    assert run(["findings", "list"]) == 3
    err = capsys.readouterr().err
    assert "unavailable" in err and ACCOUNT_KEY not in err


def test_as_of_since_until_summary_ocsf_and_migration(seeded: TableFindingsStore,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 through the CLI: the same query models and answers as the API."""
    from tests.unit.test_ocsf import assert_valid_ocsf

    half = (T0 + timedelta(minutes=30)).isoformat()
    assert run(["findings", "list", "--as-of", half, "--status", "open", "--format", "json"]) == 0
    assert sorted(f["rule_id"] for f in json.loads(capsys.readouterr().out)["findings"]) == ["DBX-WS-001",
                                                                                          "DBX-WS-002"]
    assert run(["findings", "list", "--since", half, "--format", "json"]) == 0
    changed = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["rule_id"], f["status"]) for f in changed] == [("DBX-WS-002", "resolved")]
    fid = changed[0]["id"]
    assert run(["findings", "show", fid, "--as-of", half, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "open" and [t["transition"] for t in shown["history"]] == ["opened"]
    assert {"framework": "sat", "control": "NS-6"}.items() <= shown["controls"][-1].items()
    assert run(["findings", "summary", "--as-of", half, "--since", T0.isoformat(), "--framework", "cis",
                "--format", "json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["by_status"]["open"] == 1 and s["by_control"]["2.1.9"] == {"open": 1, "resolved": 0, "exempted": 0}
    assert run(["findings", "summary"]) == 0
    assert "total 2" in capsys.readouterr().out
    assert run(["findings", "export", "--framework", "cis", "--control", "2.1.9", "--format", "ocsf"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["metadata"]["event_code"] for e in events] == ["DBX-WS-002"] and events[0]["status_id"] == 4
    assert_valid_ocsf(events)
    assert run(["findings", "list", "--control", "NS-99"]) == 2
    assert "--control" in capsys.readouterr().err
    assert run(["findings", "migrate-history"]) == 0
    assert "0 history rows indexed" in capsys.readouterr().err  # written with the index already

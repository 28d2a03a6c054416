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
    from tests.functions.conftest import _clear_storage

    _clear_storage(azurite.connection_string)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("DRIFTWATCH_NOTIFY_MIN_SEVERITY", "high")
    with EmulatorServer(sample_estate()) as emulator:
        args = ["scan", "--emulator", emulator.url, "--baseline", str(ROOT / "baseline.example.yaml")]
        assert main(args) == 3
        err = capsys.readouterr().err
        assert "37 transitions recorded" in err  # 36 opened + 1 exempted
        posts = len(emulator.teams_posts())
        assert posts >= 1
        assert main(args) == 3
        assert "0 transitions recorded, 0 Teams digests posted" in capsys.readouterr().err
        assert len(emulator.teams_posts()) == posts
    store = TableFindingsStore.from_connection_string(azurite.connection_string)
    assert len(store.query(status="open", top=1000)[0]) == 36


def test_scan_without_store_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    with EmulatorServer(sample_estate()) as emulator:
        code = main(["scan", "--emulator", emulator.url, "--baseline", str(ROOT / "baseline.example.yaml")])
    assert code == 2 and "--no-store" in capsys.readouterr().err

"""The Functions app end to end: Azurite + the estate emulator + the registered functions (`make_app`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import service
from core.settings import load_settings
from emulator.server import EmulatorServer
from samples.factory import sample_estate
from samples.functions_host import LocalFunctionsHost
from tests.azurite import AzuriteProcess, azurite  # noqa: F401  (re-exported fixture)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class App:
    host: LocalFunctionsHost
    emulator: EmulatorServer
    rt: service.Runtime
    connection_string: str

    def store(self) -> Any:
        return self.rt.store()

    def run_queues(self, workers: int = 1) -> tuple[Any, Any]:
        scans = self.host.drain("scan-requests", "scan_workspace", workers=workers)
        notes = self.host.drain("drift-findings", "notify_drift", workers=workers)
        return scans, notes

    def open_findings(self) -> list[Any]:
        findings, _ = self.store().query(status="open", top=1000)
        return list(findings)


def settings_env(emulator: EmulatorServer, connection_string: str, **extra: str) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": connection_string,
        "DRIFTWATCH_BASELINE": str(ROOT / "baseline.example.yaml"),
        "DRIFTWATCH_ARM_ENDPOINT": emulator.url,
        "DRIFTWATCH_WORKSPACE_BASE_URL": emulator.workspace_base_url,
        "DRIFTWATCH_AUTH": "emulator",
        "TEAMS_WEBHOOK_URL": f"{emulator.url}/teams/webhook",
        "DRIFTWATCH_NOTIFY_MIN_SEVERITY": "medium",
        **extra,
    }


def clear_storage(connection_string: str) -> None:
    from azure.data.tables import TableServiceClient
    from azure.storage.queue import QueueServiceClient

    tables = TableServiceClient.from_connection_string(connection_string)
    for t in list(tables.list_tables()):
        tables.delete_table(t.name)
    queues = QueueServiceClient.from_connection_string(connection_string)
    for q in list(queues.list_queues()):
        queues.delete_queue(q.name)


@contextmanager
def make_app(connection_string: str, **env: str) -> Iterator[App]:
    """Emulator on the sample estate + runtime + registered functions, over the given storage."""
    import function_app
    from functions import findings_api

    clear_storage(connection_string)
    with EmulatorServer(sample_estate()) as emulator:
        rt = service.Runtime.from_settings(load_settings(settings_env(emulator, connection_string, **env)))
        rt.coalesce_window_s = 1
        rt.notifier_options = {"max_attempts": 2, "backoff_s": 0.05, "timeout_s": 3.0}
        rt.connection  # noqa: B018  (creates the tables and queues, as the first invocation would)
        service.reset_runtime(rt)
        findings_api.set_store(rt.store())
        try:
            yield App(host=LocalFunctionsHost(function_app.app, connection_string, visibility_s=3),
                      emulator=emulator, rt=rt, connection_string=connection_string)
        finally:
            service.reset_runtime(None)
            findings_api.set_store(None)



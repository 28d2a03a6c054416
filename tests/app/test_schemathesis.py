"""Schemathesis against the whole API over real HTTP: the registered functions served by the local
functions host (samples/functions_host.py) with Azurite behind it, seeded with a history.

Every operation and parameter the OpenAPI document describes, in the coverage, fuzzing and stateful
phases, with every check (`-c all`): no 5xx, documented status codes, content types and headers,
responses valid against the schema, invalid input rejected, unsupported methods 405, auth not
ignored. One check is switched off for one operation: `positive_data_acceptance` on
`findings_list`, because `continuation` is an opaque, signed token, so a generated string (valid by
the schema: a non-empty string) is rightly refused with 400; everything else runs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.store import StorageConnection, TableFindingsStore
from functions import findings_api
from samples.functions_host import FunctionsHttpServer
from tests.azurite import AzuriteProcess
from tests.contract.store.test_history_asof import _timeline
from tests.support.store import reset_storage

pytestmark = pytest.mark.integration
KEY = "test-function-key"
CONFIG = """
[checks]
enabled = true

[[operations]]
include-operation-id = "findings_list"
checks.positive_data_acceptance.enabled = false
"""


@pytest.fixture
def served_api(azurite: AzuriteProcess) -> Iterator[str]:
    import function_app

    conn = StorageConnection.from_connection_string(azurite.connection_string)
    reset_storage(conn)
    store = TableFindingsStore(conn)
    _timeline(store)
    findings_api.set_store(store)
    try:
        with FunctionsHttpServer(function_app.app, function_key=KEY) as server:
            yield server.url
    finally:
        findings_api.set_store(None)


def test_host_enforces_the_function_key(served_api: str) -> None:
    import requests

    assert requests.get(f"{served_api}/api/findings", timeout=5).status_code == 401
    assert requests.get(f"{served_api}/api/findings", params={"code": "wrong"}, timeout=5).status_code == 401
    assert requests.get(f"{served_api}/api/health", timeout=5).json() == {"status": "ok"}
    ok = requests.get(f"{served_api}/api/openapi.json", headers={"x-functions-key": KEY}, timeout=5)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "application/json; charset=utf-8"
    assert requests.delete(f"{served_api}/api/summary", headers={"x-functions-key": KEY}, timeout=5).status_code == 405


def test_schemathesis_finds_nothing(served_api: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    exe = Path(sys.executable).with_name("schemathesis")
    proc = subprocess.run(
        [str(exe), "--config-file", str(config), "run", f"{served_api}/api/openapi.json", "--url", f"{served_api}/api",
         "-H", f"x-functions-key: {KEY}", "--phases", "coverage,fuzzing,stateful",
         "--max-examples", "10", "--workers", "1", "--no-color", "--generation-database", "none"],
        capture_output=True, text=True, timeout=420, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert "Operations:" in out and "selected" in out, out[-3000:]
    assert proc.returncode == 0, out[-6000:]
    print(out[-2500:])  # the run summary (operations, phases, test cases) in -s / -rA output

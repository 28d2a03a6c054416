"""Issue 10 §3: degenerate ARM answers are not observations.

A 200 whose body is `null`, empty, `{}`, another resource's document or another type, and a redirect
(ARM does not send them for reads), must raise ArmReadError -- which the scan turns into DBX-EVAL-001/002
and which resolves nothing -- and never read as "does not exist" (only a 404 says that). The answers
come from a loopback server over real HTTP through the azure-mgmt client driftwatch uses. Document shape:
azure-rest-api-specs specification/databricks/resource-manager/.../examples/WorkspaceGet.json.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.collect.arm import ArmReader, ArmReadError
from core.collect.config import CollectConfig

WS = ("/subscriptions/1b0c4e2a-1111-4c1e-9a51-2f6a0c9d7e01/resourceGroups/rg/providers/"
      "Microsoft.Databricks/workspaces/dbw-a")
GOOD = {"id": WS, "name": "dbw-a", "type": "Microsoft.Databricks/workspaces", "location": "westeurope",
        "properties": {"managedResourceGroupId": "/subscriptions/x/resourceGroups/mrg"}}


class _Fake:
    answer: tuple[int, dict[str, str], bytes] = (200, {}, b"")
    hits: list[str] = []


def _handler() -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            _Fake.hits.append(self.path)
            status, headers, body = _Fake.answer
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return H


@pytest.fixture
def arm() -> Iterator[ArmReader]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    reader = ArmReader(CollectConfig.for_emulator(url, arm_retries=0))
    try:
        yield reader
    finally:
        reader.close()
        server.shutdown()
        server.server_close()


DEGENERATE = {
    "null": (200, {}, b"null"),
    "empty body": (200, {}, b""),
    "{}": (200, {}, b"{}"),
    "another id": (200, {}, json.dumps({**GOOD, "id": WS.replace("dbw-a", "dbw-b")}).encode()),
    "another type": (200, {}, json.dumps({**GOOD, "type": "Microsoft.Network/networkSecurityGroups"}).encode()),
    "properties not an object": (200, {}, json.dumps({**GOOD, "properties": "x"}).encode()),
    "redirect to another host": (302, {"Location": "http://127.0.0.2:9/"}, b""),
}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_workspace_answers_are_read_errors_not_state(arm: ArmReader, case: str) -> None:
    _Fake.answer, _Fake.hits = DEGENERATE[case], []
    with pytest.raises(ArmReadError) as err:
        arm.get(WS)
    assert err.value.resource_id == WS
    assert len(_Fake.hits) == 1  # no redirect followed


@pytest.mark.parametrize("case", ["null", "empty body", "redirect to another host"])
def test_degenerate_diagnostics_answers_are_not_workspace_deleted(arm: ArmReader, case: str) -> None:
    _Fake.answer = DEGENERATE[case]
    with pytest.raises(ArmReadError):
        arm.list_diagnostic_settings(WS)  # None would mean "the workspace is gone"


def test_real_answers_still_read(arm: ArmReader) -> None:
    _Fake.answer = (200, {}, json.dumps(GOOD).encode())
    assert arm.get(WS) == GOOD
    _Fake.answer = (200, {}, json.dumps({**GOOD, "id": WS.upper()}).encode())  # ARM ids differ in casing
    assert arm.get(WS) is not None
    _Fake.answer = (404, {}, b'{"error": {"code": "ResourceNotFound", "message": "not found"}}')
    assert arm.get(WS) is None and arm.list_diagnostic_settings(WS) is None
    _Fake.answer = (200, {}, b'{"value": []}')
    assert arm.list_diagnostic_settings(WS) == []

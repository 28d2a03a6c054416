"""Issue 10 §3: every answer is bounded in time and size, on ARM and on the workspace API.

A loopback server answers through the real clients (azure-mgmt for ARM, databricks-sdk for the
workspace API) with a body that trickles in (a valid document, one byte every 50 ms: the socket read
timeout never fires) or one far over the cap (with and without Content-Length). On e5fde5c the trickle
is read to the end and evaluated (a 1 byte/s body took 76 s against a 30 s budget) and the big answer
is buffered whole; here both are read failures within the deadline, without buffering the body.
Shapes: azure-rest-api-specs .../databricks/.../examples/WorkspaceGet.json; `GET /api/2.0/ip-access-lists`
as in databricks-sdk-py `ListIpAccessListResponse`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core.collect.arm import ArmReader, ArmReadError
from core.collect.config import CollectConfig
from core.collect.workspace_api import ApiNeeds, WorkspaceApiError, read_workspace_api
from tests.faults.test_degenerate_answers import GOOD, WS

HOST = "adb-1000000000000001.1.azuredatabricks.net"
LISTS = json.dumps({"ip_access_lists": [{"list_id": "1", "label": "corp", "list_type": "ALLOW",
                                         "ip_addresses": ["203.0.113.0/24"], "enabled": True}]}).encode()


class _Answer:
    body = b""
    mode = "normal"  # normal | trickle | no-length


def _handler() -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if "/.well-known/" in self.path:  # the SDK's metadata probe: not what is tested here
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = LISTS if "/api/2.0/ip-access-lists" in self.path and _Answer.mode == "trickle" else _Answer.body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if _Answer.mode == "no-length":
                self.send_header("Connection", "close")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if _Answer.mode == "trickle":
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(0.05)
                else:
                    self.wfile.write(body)
            except OSError:
                pass  # the client gave up, as it should
            if _Answer.mode == "no-length":
                self.close_connection = True

    return H


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _handler())
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _config(url: str) -> CollectConfig:
    return CollectConfig.for_emulator(url, arm_retries=0, request_deadline_s=1.0, max_response_bytes=256 * 1024,
                                      workspace_timeout_s=4)


def test_a_trickling_arm_answer_is_cut_at_the_deadline(server: str) -> None:
    _Answer.body, _Answer.mode = json.dumps(GOOD).encode(), "trickle"  # ~250 bytes: ~12 s at 50 ms/byte
    reader = ArmReader(_config(server))
    started = time.monotonic()
    try:
        with pytest.raises(ArmReadError) as err:
            reader.get(WS)
    finally:
        reader.close()
    assert time.monotonic() - started < 4
    assert "deadline" in err.value.cause


@pytest.mark.parametrize("mode", ["normal", "no-length"])
def test_an_arm_answer_over_the_cap_is_refused_not_buffered(server: str, mode: str) -> None:
    big = {**GOOD, "properties": {**GOOD["properties"], "padding": "x" * (2 * 1024 * 1024)}}
    _Answer.body, _Answer.mode = json.dumps(big).encode(), mode
    reader = ArmReader(_config(server))
    try:
        with pytest.raises(ArmReadError) as err:
            reader.get(WS)
    finally:
        reader.close()
    assert "cap" in err.value.cause


def test_real_arm_answers_still_read_through_the_bounds(server: str) -> None:
    _Answer.body, _Answer.mode = json.dumps(GOOD).encode(), "normal"
    reader = ArmReader(_config(server))
    try:
        assert reader.get(WS) == GOOD
        assert reader.get(WS) == GOOD  # the connection went back to the pool and is reused
    finally:
        reader.close()


def test_a_trickling_workspace_api_answer_is_a_read_failure_within_the_deadline(server: str) -> None:
    _Answer.body, _Answer.mode = b"{}", "trickle"
    config = CollectConfig.for_emulator(server, request_deadline_s=1.0, workspace_timeout_s=4,
                                        workspace_base_url=f"{server}/ws/{{workspaceUrl}}")
    started = time.monotonic()
    with pytest.raises(WorkspaceApiError) as err:
        read_workspace_api(HOST, ApiNeeds(conf_keys=(), ip_access_lists=True, tokens=False), config)
    assert time.monotonic() - started < 4
    assert "deadline" in str(err.value)


def test_a_workspace_api_answer_over_the_cap_is_a_read_failure(server: str) -> None:
    _Answer.body = json.dumps({"ip_access_lists": [{"list_id": str(i), "label": "x" * 200, "list_type": "ALLOW",
                                                    "ip_addresses": []} for i in range(3000)]}).encode()
    _Answer.mode = "normal"
    config = CollectConfig.for_emulator(server, max_response_bytes=256 * 1024, workspace_timeout_s=4,
                                        workspace_base_url=f"{server}/ws/{{workspaceUrl}}")
    with pytest.raises(WorkspaceApiError) as err:
        read_workspace_api(HOST, ApiNeeds(conf_keys=(), ip_access_lists=True, tokens=False), config)
    assert "cap" in str(err.value)


@pytest.mark.parametrize(("needs", "answer", "why"), [
    (ApiNeeds(conf_keys=("enableIpAccessLists",), ip_access_lists=False, tokens=False),
     {"enableTokensConfig": "true"}, "not asked for"),
    (ApiNeeds(conf_keys=(), ip_access_lists=True, tokens=False),
     {"ip_access_lists": [{"list_id": "1", "label": "x", "list_type": "MAYBE", "ip_addresses": ["0.0.0.0/0"]}]},
     "ALLOW or BLOCK"),
])
def test_workspace_api_answers_must_be_what_was_asked(server: str, needs: ApiNeeds, answer: dict[str, Any],
                                                      why: str) -> None:
    """Like an ARM document for another id: a workspace-conf answer about other keys, or an "IP access
    list" of a type the API cannot store, is a read failure (DBX-EVAL-002), not state that passes."""
    _Answer.body, _Answer.mode = json.dumps(answer).encode(), "normal"
    config = CollectConfig.for_emulator(server, workspace_timeout_s=4, workspace_base_url=f"{server}/ws/{{workspaceUrl}}")
    with pytest.raises(WorkspaceApiError) as err:
        read_workspace_api(HOST, needs, config)
    assert why in str(err.value)

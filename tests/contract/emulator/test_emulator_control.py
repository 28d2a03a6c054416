"""The control API (`/_emulator/...`) is exactly the table `emulator.routes.control.CONTROL_ROUTES`.

Control requests need no auth, are never faulted and are not counted in the request log.
"""

from __future__ import annotations

import requests

from core.contracts.estate_v1 import SCHEMA
from emulator.routes.control import CONTROL_ROUTES
from emulator.server import EmulatorServer

EMPTY = {"schema": SCHEMA, "subscriptions": [], "resources": [], "databricks": {}}


def test_every_control_route_answers_and_nothing_else_does() -> None:
    with EmulatorServer(EMPTY, faults=[{"match": "_emulator", "action": "500"}]) as emu:
        for method, name in CONTROL_ROUTES:
            body = EMPTY if (method, name) == ("PUT", "state") else {} if method == "POST" else None
            r = requests.request(method, f"{emu.url}/_emulator/{name}/", json=body, timeout=10)
            assert r.status_code == 200, (method, name, r.text)
        r = requests.patch(f"{emu.url}/_emulator/state", timeout=10)
        assert r.status_code == 404
        assert r.json() == {"error": "no control endpoint PATCH /_emulator/state"}
        assert requests.get(f"{emu.url}/_emulator", timeout=10).json() == {"error": "no control endpoint GET /_emulator/"}
        assert emu.request_counts()["total"] == 0

"""Fault injection, latency, concurrency and the request log."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from emulator.server import EmulatorServer

AUTH = {"Authorization": "Bearer test-token"}
API = {"api-version": "2024-05-01"}  # Microsoft.Databricks / Microsoft.Network
SUBS_API = {"api-version": "2022-12-01"}  # Microsoft.Resources subscriptions


def test_429_carries_retry_after(emulator, ids):
    emulator.set_faults([{"match": "microsoft.databricks/workspaces", "action": "429", "retry_after": 7}])
    r = requests.get(emulator.url + ids.WS_ID, headers=AUTH, params=API, timeout=10)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert r.json()["error"]["code"] == "TooManyRequests"
    r = requests.get(f"{emulator.url}/ws/{ids.HOST}/api/2.0/ip-access-lists", headers=AUTH, timeout=10)
    assert r.status_code == 200  # the rule's path does not match the workspace API


def test_500_rule_fires_count_times_then_stops(emulator, ids):
    resp = requests.post(
        emulator.url + "/_emulator/faults",
        json={"rules": [{"match": "ip-access-lists", "method": "GET", "action": "500", "count": 2}]},
        timeout=10,
    )
    assert resp.status_code == 200
    url = f"{emulator.url}/ws/{ids.HOST}/api/2.0/ip-access-lists"
    statuses = [requests.get(url, headers=AUTH, timeout=10).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    r = requests.get(emulator.url + "/_emulator/faults", timeout=10).json()
    assert r["rules"][0]["remaining"] == 0


def test_hang_times_out_the_client(emulator, ids):
    emulator.set_faults([{"match": r"/virtualnetworks/[^/]+$", "action": "hang", "hang_seconds": 30}])
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(emulator.url + ids.VNET_ID, headers=AUTH, params=API, timeout=0.3)
    assert time.monotonic() - started < 2
    # other calls are not blocked by the hanging one
    assert requests.get(emulator.url + ids.NSG_ID, headers=AUTH, params=API, timeout=2).status_code == 200


def test_reset_drops_the_connection(emulator, ids):
    emulator.set_faults([{"match": "nsg-dbx", "action": "reset", "count": 1}])
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(emulator.url + ids.NSG_ID, headers=AUTH, params=API, timeout=5)
    assert requests.get(emulator.url + ids.NSG_ID, headers=AUTH, params=API, timeout=5).status_code == 200


def test_401_and_403_rules_and_deny_workspace_over_http(emulator, ids):
    emulator.set_faults([{"match": "/subscriptions$", "action": "401"}])
    r = requests.get(emulator.url + "/subscriptions", headers=AUTH, params=SUBS_API, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed"
    requests.post(emulator.url + "/_emulator/faults", json={"deny_workspace": ids.HOST, "status": 401}, timeout=10)
    r = requests.get(f"{emulator.url}/ws/{ids.HOST}/api/2.0/token-management/tokens", headers=AUTH, timeout=10)
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    assert requests.delete(emulator.url + "/_emulator/faults", timeout=10).status_code == 200
    assert requests.get(emulator.url + "/subscriptions", headers=AUTH, params=SUBS_API, timeout=10).status_code == 200


def test_bad_fault_rule_is_rejected(emulator):
    r = requests.post(
        emulator.url + "/_emulator/faults", json={"rules": [{"match": "x", "action": "teapot"}]}, timeout=10
    )
    assert r.status_code == 400 and "action" in r.json()["error"]


def test_request_counts_by_endpoint(emulator, ids):
    emulator.reset_requests()
    requests.get(emulator.url + "/subscriptions", headers=AUTH, params=SUBS_API, timeout=10)
    for _ in range(2):
        requests.get(
            f"{emulator.url}/subscriptions/{ids.SUB}/providers/Microsoft.Databricks/workspaces",
            headers=AUTH,
            params=API,
            timeout=10,
        )
    requests.get(emulator.url + ids.WS_ID, headers=AUTH, params=API, timeout=10)
    requests.get(emulator.url + ids.WS2_ID, headers=AUTH, params=API, timeout=10)
    requests.get(f"{emulator.url}/ws/{ids.HOST}/api/2.0/ip-access-lists", headers=AUTH, timeout=10)
    counts = requests.get(emulator.url + "/_emulator/requests", timeout=10).json()
    assert counts["total"] == 6
    assert counts["by_endpoint"] == {
        "GET arm:subscriptions.list": 1,
        "GET arm:workspaces.list": 2,
        "GET arm:resource": 2,
        "GET ws:ip-access-lists": 1,
    }
    assert counts["recent"][-1]["status"] == 200 and counts["recent"][-1]["ms"] >= 0
    assert requests.delete(emulator.url + "/_emulator/requests", timeout=10).status_code == 200
    assert emulator.request_counts()["total"] == 0


def test_64_concurrent_requests_overlap_their_latency(seed, ids):
    """Latency is an asyncio sleep per request, so concurrent callers wait side by side, not in a queue.

    Checked by the server's own peak of requests in flight, not by a wall-clock bound (which a loaded
    CI machine breaks); the wall-clock figures are in `make bench`."""
    with EmulatorServer(seed, latency_ms=50) as server:
        url = server.url + ids.WS_ID

        def call(_: int) -> int:
            return requests.get(url, headers=AUTH, params=API, timeout=10).status_code

        with ThreadPoolExecutor(max_workers=64) as pool:
            statuses = list(pool.map(call, range(64)))
        counts = server.request_counts()
        assert statuses == [200] * 64
        assert counts["in_flight_peak"] >= 4, counts["in_flight_peak"]
        assert min(r["ms"] for r in counts["recent"]) >= 50


def test_latency_and_rules_settable_at_start(seed, ids):
    faults = [{"match": "workspaces/ws-dev", "action": "500"}]
    with EmulatorServer(seed, faults=faults) as server:
        assert requests.get(server.url + ids.WS2_ID, headers=AUTH, params=API, timeout=10).status_code == 500
        assert requests.get(server.url + ids.WS_ID, headers=AUTH, params=API, timeout=10).status_code == 200
        server.set_faults(latency_ms=40)
        started = time.monotonic()
        requests.get(server.url + ids.WS_ID, headers=AUTH, params=API, timeout=10)
        assert time.monotonic() - started >= 0.04

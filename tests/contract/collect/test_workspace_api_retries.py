"""Server errors on the workspace API through databricks-sdk 0.162.0's `ApiClient` and `retries.retried`.

A 500 is `InternalError`, a 504 `DeadlineExceeded` (errors/platform.py `STATUS_CODE_MAPPING`); a 502 has no
class and is recognised by the `BAD_GATEWAY` code `_HtmlErrorDeserializer` takes from a gateway's HTML page
(emulator/faults.py `gateway_page`). Those are retried within the workspace's budget; a 4xx is not. One
workspace is read directly (no scan) to keep these quick.
"""

from __future__ import annotations

import pytest

from core.collect.workspace_api import ApiNeeds, WorkspaceApiError, read_workspace_api
from emulator.server import EmulatorServer
from tests.support.collect import fast_config

HOST = "adb-0000000000001004.4.azuredatabricks.net"  # dbw-legacy
CONF = "/api/2.0/workspace-conf"
LISTS = "/api/2.0/ip-access-lists"
NEEDS = ApiNeeds(conf_keys=("enableIpAccessLists",), ip_access_lists=False, tokens=False)


def _requests(emulator: EmulatorServer, path: str) -> int:
    return sum(1 for r in emulator.request_counts()["recent"] if r["path"].endswith(f"{HOST}{path}"))


def test_a_502_and_a_504_are_retried_and_the_reads_succeed(emulator: EmulatorServer) -> None:
    # one retry per read (databricks-sdk's first backoff is 1-2 s): 502 on workspace-conf, 504 on ip-access-lists
    emulator.set_faults([{"match": CONF, "action": "502", "count": 1}, {"match": LISTS, "action": "504", "count": 1}])
    emulator.reset_requests()
    needs = ApiNeeds(conf_keys=("enableIpAccessLists",), ip_access_lists=True, tokens=False)
    state = read_workspace_api(HOST, needs, fast_config(emulator, workspace_timeout_s=10))
    assert (_requests(emulator, CONF), _requests(emulator, LISTS)) == (2, 2)
    assert "enableIpAccessLists" in state.conf and state.ip_access_lists


@pytest.mark.parametrize("action", ["403", "404"])
def test_a_4xx_is_not_retried(emulator: EmulatorServer, action: str) -> None:
    emulator.set_faults([{"match": CONF, "action": action}])
    emulator.reset_requests()
    with pytest.raises(WorkspaceApiError, match=r"PermissionDenied|NotFound|ResourceDoesNotExist"):
        read_workspace_api(HOST, NEEDS, fast_config(emulator))
    assert _requests(emulator, CONF) == 1

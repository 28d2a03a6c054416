"""The emulator's access connector, lock and private DNS zone group endpoints answer as ARM specifies.

- Locks: azure-rest-api-specs specification/resources/resource-manager/Microsoft.Authorization/locks/stable/
  2020-05-01/locks.json (`ManagementLocks_ListAtResourceLevel`, `..._ListAtResourceGroupLevel`, `ManagementLockListResult`);
  example ManagementLocks_ListAtResourceLevel.json lists a resource group's lock for a resource in it.
- Access connectors: .../Databricks/stable/2026-01-01/accessconnector.json, example AccessConnectorGet.json.
- Zone groups: .../Network/stable/2024-05-01/examples/PrivateEndpointDnsZoneGroupList.json (`value` list).
- api-versions: `emulator/api_versions.json` (the versions whose spec folder has the file).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulator.server import EmulatorServer
from samples import factory as f

AUTH = {"Authorization": "Bearer test-token"}
LOCKS = {"api-version": "2020-05-01"}


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[EmulatorServer, dict[str, Any]]]:
    ws = f.workspace_doc(f.SUB_PROD, "rg-a", "dbw-a", 4242, tags={"env": "prod"})
    other = f.workspace_doc(f.SUB_PROD, "rg-b", "dbw-b", 4243, private_endpoint=None)
    resources = [ws, other]
    resources += f.arm_extras(resources)
    rg = "/".join(ws["id"].split("/")[:5])
    resources += [f.lock_doc(rg, "rg-lock"), f.lock_doc(ws["id"], "ws-lock", "ReadOnly"),
                  f.lock_doc("/".join(other["id"].split("/")[:5]), "other-rg-lock")]
    seed = {"schema": "driftwatch.estate/v1",
            "subscriptions": [{"subscriptionId": f.SUB_PROD, "displayName": "p", "state": "Enabled"}],
            "resources": resources, "databricks": {}}
    with EmulatorServer(seed) as server:
        yield server, {"ws": ws["id"], "rg": rg, "pe": ws["properties"]["privateEndpointConnections"][0]
                       ["properties"]["privateEndpoint"]["id"],
                       "connector": ws["properties"]["accessConnector"]["id"]}


def _get(server: EmulatorServer, path: str, params: dict[str, str]) -> requests.Response:
    return requests.get(server.url + path, headers=AUTH, params=params, timeout=10)


def test_lock_lists_include_parent_scopes_only(seeded: tuple[EmulatorServer, dict[str, Any]]) -> None:
    server, ids = seeded
    at_ws = _get(server, f"{ids['ws']}/providers/Microsoft.Authorization/locks", LOCKS)
    assert at_ws.status_code == 200
    names = sorted((lk["name"], lk["properties"]["level"], lk["type"]) for lk in at_ws.json()["value"])
    assert names == [("rg-lock", "CanNotDelete", "Microsoft.Authorization/locks"),
                     ("ws-lock", "ReadOnly", "Microsoft.Authorization/locks")]
    at_rg = _get(server, f"{ids['rg']}/providers/Microsoft.Authorization/locks", LOCKS).json()["value"]
    assert [lk["name"] for lk in at_rg] == ["rg-lock"]
    missing = _get(server, ids["ws"].replace("dbw-a", "nope") + "/providers/Microsoft.Authorization/locks", LOCKS)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"
    wrong = _get(server, f"{ids['ws']}/providers/Microsoft.Authorization/locks", {"api-version": "2026-01-01"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "NoRegisteredProviderFound"


def test_access_connector_and_zone_groups(seeded: tuple[EmulatorServer, dict[str, Any]]) -> None:
    server, ids = seeded
    conn = _get(server, ids["connector"], {"api-version": "2026-01-01"})
    assert conn.status_code == 200
    body = conn.json()
    assert body["properties"]["provisioningState"] == "Succeeded" and body["identity"]["type"] == "SystemAssigned"
    assert body["properties"]["referedBy"] == [ids["ws"]]
    assert _get(server, ids["connector"], {"api-version": "2021-04-01-preview"}).status_code == 400
    groups = _get(server, f"{ids['pe']}/privateDnsZoneGroups", {"api-version": "2025-07-01"})
    assert groups.status_code == 200
    (group,) = groups.json()["value"]
    zone = group["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"]
    assert zone.endswith("/privateDnsZones/privatelink.azuredatabricks.net")
    gone = _get(server, ids["pe"].replace("pe-dbw-a", "pe-gone") + "/privateDnsZoneGroups",
                {"api-version": "2025-07-01"})
    assert gone.status_code == 404

"""The emulator refuses what ARM refuses and answers the way ARM answers (issue 9 point 6, point 2's PUT rules).

Sources (azure-rest-api-specs unless noted):
- api-versions: the folders listed in `emulator/api_versions.json`; error shapes as Azure returns
  them (`NoRegisteredProviderFound` text as in Azure/azure-cli#28496).
- Workspace LROs and read-only fields: `specification/databricks/resource-manager/Microsoft.Databricks/
  Databricks/stable/2026-01-01/databricks.json` (`x-ms-long-running-operation`), examples
  `WorkspaceCreate.json`, `WorkspaceCreateServerless.json`, `WorkspaceDelete.json`, `WorkspaceGetParameters.json`.
- computeMode and "Not allowed in Serverless ComputeMode workspace": same spec, `WorkspaceProperties`.
- Subscription states: Microsoft Learn "Azure subscription states" (Disabled/Warned serve GET/DELETE only).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from emulator.server import EmulatorServer

AUTH = {"Authorization": "Bearer test-token"}
DBX = {"api-version": "2026-01-01"}
NET = {"api-version": "2025-07-01"}
SUBS = {"api-version": "2022-12-01"}


def _ws_body(mode: str | None = "Hybrid", **props: Any) -> dict[str, Any]:
    """The request body of the spec's `WorkspaceCreate.json` / `WorkspaceCreateServerless.json` examples."""
    properties: dict[str, Any] = dict(props)
    if mode is not None:
        properties["computeMode"] = mode
    if mode == "Hybrid":
        properties.setdefault("managedResourceGroupId",
                              "/subscriptions/11111111-1111-4111-8111-111111111111/resourceGroups/myManagedRG")
    return {"location": "westus", "sku": {"name": "premium"}, "properties": properties}


def _new_ws(ids: Any, name: str = "ws-new") -> str:
    return f"{ids.RG}/providers/Microsoft.Databricks/workspaces/{name}"


# ---- api-versions ----------------------------------------------------------------------------

def test_unpublished_api_version_of_a_provider_type_is_no_registered_provider_found(emulator, ids):
    r = requests.get(emulator.url + ids.WS_ID, headers=AUTH, params={"api-version": "2020-02-01"}, timeout=10)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "NoRegisteredProviderFound"
    assert err["message"].startswith("No registered resource provider found for location 'westeurope' and API "
                                     "version '2020-02-01' for type 'workspaces'. The supported api-versions are '")
    assert "2026-01-01" in err["message"] and "2018-04-01" in err["message"]
    # a Databricks version is not a Microsoft.Insights version, and a Network child type uses its provider's list
    diag = requests.get(f"{emulator.url}{ids.WS_ID}/providers/Microsoft.Insights/diagnosticSettings",
                        headers=AUTH, params=DBX, timeout=10)
    assert diag.status_code == 400 and diag.json()["error"]["code"] == "NoRegisteredProviderFound"
    rule = requests.get(f"{emulator.url}{ids.NSG_ID}/securityRules/allow-vendor-ssh", headers=AUTH,
                        params={"api-version": "2026-01-01"}, timeout=10)
    assert rule.status_code == 400 and "for type 'networkSecurityGroups/securityRules'" in rule.json()["error"]["message"]
    assert requests.get(emulator.url + ids.NSG_ID, headers=AUTH, params=NET, timeout=10).status_code == 200


def test_arm_own_endpoints_answer_invalid_api_version_parameter(emulator, ids):
    r = requests.get(emulator.url + "/subscriptions", headers=AUTH, params={"api-version": "2024-05-01"}, timeout=10)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "InvalidApiVersionParameter"
    assert err["message"].startswith("The api-version '2024-05-01' is invalid. The supported versions are '2022-12-01")
    bad = requests.get(emulator.url + ids.WS_ID, headers=AUTH, params={"api-version": "latest"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidApiVersionParameter"
    assert requests.get(emulator.url + "/subscriptions", headers=AUTH, params=SUBS, timeout=10).status_code == 200


# ---- headers, 401 challenge, not-found codes -------------------------------------------------

def test_arm_request_and_correlation_ids_and_bearer_challenge(emulator, ids):
    r = requests.get(emulator.url + ids.WS_ID, headers={**AUTH, "x-ms-correlation-request-id": "corr-1"},
                     params=DBX, timeout=10)
    assert r.status_code == 200
    assert r.headers["x-ms-correlation-request-id"] == "corr-1"
    assert len(r.headers["x-ms-request-id"]) == 36
    other = requests.get(emulator.url + ids.WS_ID, headers=AUTH, params=DBX, timeout=10)
    assert other.headers["x-ms-request-id"] != r.headers["x-ms-request-id"]
    assert other.headers["x-ms-correlation-request-id"]
    nobody = requests.get(emulator.url + ids.WS_ID, params=DBX, timeout=10)
    assert nobody.status_code == 401 and nobody.headers["x-ms-request-id"]
    challenge = nobody.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer authorization_uri="https://login.microsoftonline.com/' + ids.TENANT)
    emulator.set_faults([{"match": "virtualNetworks", "action": "401"}])
    injected = requests.get(emulator.url + ids.VNET_ID, headers=AUTH, params=NET, timeout=10)
    assert injected.status_code == 401 and "WWW-Authenticate" in injected.headers
    assert injected.headers["x-ms-correlation-request-id"]


def test_resource_group_not_found_versus_resource_not_found(emulator, ids):
    missing_group = f"/subscriptions/{ids.SUB}/resourceGroups/rg-nope/providers/Microsoft.Network/virtualNetworks/v"
    r = requests.get(emulator.url + missing_group, headers=AUTH, params=NET, timeout=10)
    assert r.status_code == 404 and r.json()["error"] == {
        "code": "ResourceGroupNotFound", "message": "Resource group 'rg-nope' could not be found."}
    r = requests.get(f"{emulator.url}{ids.RG}/providers/Microsoft.Network/virtualNetworks/nope", headers=AUTH,
                     params=NET, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"
    vnet = {"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}
    put = requests.put(emulator.url + missing_group, headers=AUTH, params=NET, json=vnet, timeout=10)
    assert put.status_code == 404 and put.json()["error"]["code"] == "ResourceGroupNotFound"
    group = requests.put(f"{emulator.url}/subscriptions/{ids.SUB}/resourceGroups/rg-nope", headers=AUTH,
                         params={"api-version": "2025-04-01"}, json={"location": "westeurope"}, timeout=10)
    assert group.status_code == 201
    assert requests.put(emulator.url + missing_group, headers=AUTH, params=NET, json=vnet, timeout=10).status_code == 201
    requests.delete(emulator.url + missing_group, headers=AUTH, params=NET, timeout=10)
    # a group outlives its last resource, as in ARM
    r = requests.get(emulator.url + missing_group, headers=AUTH, params=NET, timeout=10)
    assert r.json()["error"]["code"] == "ResourceNotFound"


# ---- workspace PUT rules (computeMode) ---------------------------------------------------------

def test_workspace_put_without_compute_mode_is_refused_on_2026_01_01(emulator, ids):
    r = requests.put(emulator.url + _new_ws(ids), headers=AUTH, params=DBX, json=_ws_body(None), timeout=10)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "InvalidRequestContent" and "computeMode" in err["message"]
    older = requests.put(emulator.url + _new_ws(ids), headers=AUTH, params={"api-version": "2024-05-01"},
                         json=_ws_body(None), timeout=10)
    assert older.status_code == 201  # older api-versions have no computeMode: the workspace is classic
    assert emulator.events()[-1]["subject"] == _new_ws(ids)
    assert len(emulator.events()) == 1  # the refused PUT raised no event


@pytest.mark.parametrize("field, value", [
    ("parameters", {"enableNoPublicIp": {"value": True}}),
    ("requiredNsgRules", "AllRules"),
    ("managedResourceGroupId", "/subscriptions/x/resourceGroups/managed"),
    ("defaultStorageFirewall", "Enabled"),
    ("encryption", {"entities": {"managedDisk": {"keySource": "Microsoft.Keyvault",
                                                 "keyVaultProperties": {"keyVaultUri": "u", "keyName": "k",
                                                                        "keyVersion": "1"}}}}),
])
def test_classic_only_field_on_a_serverless_workspace_is_refused(emulator, ids, field, value):
    r = requests.put(emulator.url + _new_ws(ids), headers=AUTH, params=DBX,
                     json=_ws_body("Serverless", **{field: value}), timeout=10)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "InvalidRequestContent"
    assert err["message"].startswith("Not allowed in Serverless ComputeMode workspace: properties.")
    assert field in err["message"]


def test_compute_mode_cannot_change(emulator, ids):
    assert requests.put(emulator.url + _new_ws(ids), headers=AUTH, params=DBX, json=_ws_body("Serverless"),
                        timeout=10).status_code == 201
    r = requests.put(emulator.url + _new_ws(ids), headers=AUTH, params=DBX, json=_ws_body("Hybrid"), timeout=10)
    assert r.status_code == 400 and "cannot be changed" in r.json()["error"]["message"]


# ---- long-running PUT / DELETE ------------------------------------------------------------------

def _op_status(url: str) -> dict[str, Any]:
    return requests.get(url, headers=AUTH, timeout=10).json()  # type: ignore[no-any-return]


def test_workspace_create_update_delete_are_long_running(seed, ids):
    with EmulatorServer(seed, lro_delay_s=0.4) as server:
        wid = _new_ws(ids)
        r = requests.put(server.url + wid, headers=AUTH, params=DBX, json=_ws_body("Serverless"), timeout=10)
        assert r.status_code == 201
        body = r.json()
        assert body["properties"]["provisioningState"] == "Accepted" and "workspaceUrl" not in body["properties"]
        status_url = r.headers["Azure-AsyncOperation"]
        assert "/operationStatus/" in status_url and status_url.endswith("?api-version=2026-01-01")
        assert _op_status(status_url)["status"] == "InProgress"
        assert len(server.events()) == 1  # the event comes when the write is accepted, as ARM sends it
        time.sleep(0.45)
        done = requests.get(server.url + wid, headers=AUTH, params=DBX, timeout=10).json()
        props = done["properties"]
        assert props["provisioningState"] == "Succeeded" and props["isUcEnabled"] is True
        assert len(props["workspaceId"]) == 16 and props["workspaceUrl"] == f"adb-{props['workspaceId']}." + \
            props["workspaceUrl"].split(".", 1)[1]
        assert _op_status(status_url)["status"] == "Succeeded" and "endTime" in _op_status(status_url)
        api = requests.get(f"{server.url}/ws/{props['workspaceUrl']}/api/2.0/ip-access-lists", headers=AUTH, timeout=10)
        assert api.status_code == 200 and api.json() == {"ip_access_lists": []}

        update = _ws_body("Serverless")
        update["tags"] = {"env": "prod"}
        update["properties"]["workspaceUrl"] = "adb-evil.azuredatabricks.net"  # read-only: ignored
        u = requests.put(server.url + wid, headers=AUTH, params=DBX, json=update, timeout=10)
        assert u.status_code == 200 and u.json()["properties"]["provisioningState"] == "Updating"
        assert u.json()["properties"]["workspaceUrl"] == props["workspaceUrl"]
        busy = requests.delete(server.url + wid, headers=AUTH, params=DBX, timeout=10)
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "AnotherOperationInProgress"
        time.sleep(0.45)
        settled = requests.get(server.url + wid, headers=AUTH, params=DBX, timeout=10).json()
        assert settled["properties"]["provisioningState"] == "Succeeded" and settled["tags"] == {"env": "prod"}

        d = requests.delete(server.url + wid, headers=AUTH, params=DBX, timeout=10)
        assert d.status_code == 202
        assert d.headers["Location"].split("?")[0].endswith(
            "/operationResults/" + d.headers["Azure-AsyncOperation"].split("/operationStatus/")[1].split("?")[0])
        assert d.headers["Retry-After"] == "1"
        assert requests.get(server.url + wid, headers=AUTH, params=DBX,
                            timeout=10).json()["properties"]["provisioningState"] == "Deleting"
        assert requests.get(d.headers["Location"], headers=AUTH, timeout=10).status_code == 202
        time.sleep(0.45)
        gone = requests.get(server.url + wid, headers=AUTH, params=DBX, timeout=10)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "ResourceNotFound"
        assert requests.get(d.headers["Location"], headers=AUTH, timeout=10).status_code == 204
        assert requests.delete(server.url + wid, headers=AUTH, params=DBX, timeout=10).status_code == 204
        assert [e["eventType"].rsplit(".", 1)[1] for e in server.events()][-1] == "ResourceDeleteSuccess"


def test_real_arm_client_polls_the_workspace_lro_to_completion(seed, ids, arm_client):
    """azure-mgmt-resource's LRO poller (ARMPolling over Azure-AsyncOperation) drives create and delete."""
    with EmulatorServer(seed, lro_delay_s=0.2) as server:
        client = arm_client(server)
        wid = _new_ws(ids, "ws-polled")
        created = client.resources.begin_create_or_update_by_id(
            wid, api_version="2026-01-01", parameters=_ws_body("Hybrid", parameters={"enableNoPublicIp": True})
        ).result()
        assert created.properties["provisioningState"] == "Succeeded"
        assert created.properties["parameters"]["enableNoPublicIp"] == {"type": "Bool", "value": True}
        assert created.properties["workspaceUrl"].endswith(".azuredatabricks.net")
        client.resources.begin_delete_by_id(wid, api_version="2026-01-01").result()
        assert requests.get(server.url + wid, headers=AUTH, params=DBX, timeout=10).status_code == 404


# ---- subscription states ------------------------------------------------------------------------

def test_disabled_subscription_is_read_only_and_deleted_one_serves_nothing(seed, ids):
    seed["subscriptions"][0]["state"] = "Disabled"
    seed["subscriptions"][1]["state"] = "Deleted"
    with EmulatorServer(seed) as server:
        assert requests.get(server.url + ids.WS_ID, headers=AUTH, params=DBX, timeout=10).status_code == 200
        w = requests.put(server.url + ids.NSG_ID + "/securityRules/x", headers=AUTH, params=NET,
                         json={"properties": {"priority": 300}}, timeout=10)
        assert w.status_code == 409 and w.json()["error"]["code"] == "ReadOnlyDisabledSubscription"
        d = requests.get(server.url + ids.WS2_ID, headers=AUTH, params=DBX, timeout=10)
        assert d.status_code == 404 and d.json()["error"]["code"] == "SubscriptionNotFound"
        listed = requests.get(server.url + "/subscriptions", headers=AUTH, params=SUBS, timeout=10).json()["value"]
        assert {s["state"] for s in listed} == {"Disabled", "Deleted"}

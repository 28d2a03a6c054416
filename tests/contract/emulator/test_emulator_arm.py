"""ARM surface of the estate emulator, over HTTP (requests and the real azure-mgmt client)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from emulator.events import make_event, operation_name
from emulator.server import EmulatorServer

AUTH = {"Authorization": "Bearer test-token"}
API = {"api-version": "2024-05-01"}  # a published Microsoft.Databricks (and Microsoft.Network) version


def api_for(path: str) -> dict[str, str]:
    """The api-version a real client uses for this path: each provider publishes its own list."""
    low = path.lower()
    if "/providers/microsoft.insights/" in low:
        return {"api-version": "2021-05-01-preview"}
    if "/providers/microsoft.network/" in low or "/providers/microsoft.databricks/" in low:
        return API
    if "/resourcegroups" in low or low.endswith("/resources"):
        return {"api-version": "2025-04-01"}
    return {"api-version": "2022-12-01"}  # Microsoft.Resources subscriptions


def _get(server: EmulatorServer, path: str, **params: str) -> requests.Response:
    return requests.get(server.url + path, headers=AUTH, params={**api_for(path), **params}, timeout=10)


def test_missing_api_version_is_400(emulator, ids):
    r = requests.get(emulator.url + ids.WS_ID, headers=AUTH, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "MissingApiVersionParameter"


def test_missing_bearer_is_401(emulator, ids):
    r = requests.get(emulator.url + ids.WS_ID, params=api_for(ids.WS_ID), timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "AuthenticationFailed"
    r = requests.get(emulator.url + ids.WS_ID, params=api_for(ids.WS_ID), headers={"Authorization": "Bearer "}, timeout=10)
    assert r.status_code == 401


def test_subscription_list(emulator, ids):
    body = _get(emulator, "/subscriptions").json()
    subs = {s["subscriptionId"]: s for s in body["value"]}
    assert set(subs) == {ids.SUB, ids.SUB2}
    first = subs[ids.SUB]
    assert first["id"] == f"/subscriptions/{ids.SUB}"
    assert first["displayName"] == "Data Platform Prod"
    assert first["state"] == "Enabled"
    assert first["tenantId"] == ids.TENANT
    assert subs[ids.SUB2]["tenantId"]  # a default tenant when the seed names none


def test_workspace_list_pages_with_next_link(seed, ids, make_workspace_doc):
    for i in range(6):
        rid = f"{ids.RG}/providers/Microsoft.Databricks/workspaces/ws-extra-{i}"
        seed["resources"].append(make_workspace_doc(rid, f"adb-{i}00.1.azuredatabricks.net"))
    with EmulatorServer(seed, page_size=3) as server:
        url: str | None = f"{server.url}/subscriptions/{ids.SUB}/providers/Microsoft.Databricks/workspaces"
        params: dict[str, str] | None = API
        pages = []
        while url:
            body = requests.get(url, headers=AUTH, params=params, timeout=10).json()
            pages.append(body["value"])
            url, params = body.get("nextLink"), None
            if url:
                assert url.startswith(server.url)
                assert "api-version=2024-05-01" in url
                assert "skiptoken" in url
        assert [len(p) for p in pages] == [3, 3, 1]
        names = [w["name"] for p in pages for w in p]
        assert names[0] == "ws-prod" and len(set(names)) == 7
        assert all(w["type"] == "Microsoft.Databricks/workspaces" for p in pages for w in p)
        # the other subscription's workspace is not in this list
        assert "ws-dev" not in names
        assert (
            _get(
                server,
                "/subscriptions/99999999-0000-0000-0000-000000000000/providers/Microsoft.Databricks/workspaces",
            ).json()["error"]["code"]
            == "SubscriptionNotFound"
        )


def test_get_by_id_is_case_insensitive_and_keeps_casing(emulator, ids):
    body = _get(emulator, ids.WS_ID.upper()).json()
    assert body["id"] == ids.WS_ID
    assert body["sku"] == {"name": "premium"}
    assert body["properties"]["parameters"]["enableNoPublicIp"] == {"type": "Bool", "value": True}
    assert body["properties"]["workspaceUrl"] == ids.HOST


def test_unknown_resource_is_404_resource_not_found(emulator, ids):
    r = _get(emulator, f"{ids.RG}/providers/Microsoft.Databricks/workspaces/nope")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "ResourceNotFound"
    assert "Microsoft.Databricks/workspaces/nope" in err["message"] and "'rg-data'" in err["message"]


def test_child_subnet_and_rule_served_at_their_own_ids(emulator, ids):
    subnet = _get(emulator, f"{ids.VNET_ID}/subnets/SNET-HOST").json()
    assert subnet["id"] == f"{ids.VNET_ID}/subnets/snet-host"
    assert subnet["properties"]["delegations"][0]["properties"]["serviceName"] == "Microsoft.Databricks/workspaces"
    rule = _get(emulator, f"{ids.NSG_ID}/securityRules/allow-vendor-ssh").json()
    assert rule["properties"]["sourceAddressPrefix"] == "Internet"
    listed = _get(emulator, f"{ids.VNET_ID}/subnets").json()["value"]
    assert {s["name"] for s in listed} == {"snet-host", "snet-container"}
    assert _get(emulator, f"{ids.VNET_ID}/subnets/nope").status_code == 404


def test_diagnostic_settings_list(emulator, ids):
    body = _get(emulator, f"{ids.WS_ID}/providers/Microsoft.Insights/diagnosticSettings").json()
    assert [d["id"] for d in body["value"]] == [ids.DIAG_ID]
    assert _get(emulator, ids.DIAG_ID.lower()).json()["name"] == "to-law"
    other = _get(emulator, f"{ids.WS2_ID}/providers/Microsoft.Insights/diagnosticSettings")
    assert other.status_code == 200 and other.json() == {"value": []}


def test_put_patch_delete_record_events(emulator, ids):
    rule_id = f"{ids.NSG_ID}/securityRules/allow-any-rdp"
    rule = {"properties": {"protocol": "Tcp", "access": "Allow", "direction": "Inbound", "sourceAddressPrefix": "*",
                           "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "3389",
                           "priority": 300}}
    r = requests.put(emulator.url + rule_id, params=api_for(rule_id), headers=AUTH, json=rule, timeout=10)
    assert r.status_code == 201
    assert r.json()["type"] == "Microsoft.Network/networkSecurityGroups/securityRules"
    nsg = _get(emulator, ids.NSG_ID).json()
    assert "allow-any-rdp" in [x["name"] for x in nsg["properties"]["securityRules"]]

    # Workspaces_Update takes a WorkspaceUpdate (tags only): a property in a PATCH is refused, not applied.
    refused = requests.patch(emulator.url + ids.WS_ID, params=api_for(ids.WS_ID), headers=AUTH, timeout=10,
                             json={"properties": {"publicNetworkAccess": "Enabled"}})
    assert refused.status_code == 400 and "'properties'" in refused.json()["error"]["message"]
    patch = {"tags": {"env": None, "costcenter": "42"}}
    r = requests.patch(emulator.url + ids.WS_ID.lower(), params=api_for(ids.WS_ID.lower()), headers=AUTH, json=patch, timeout=10)
    assert r.status_code == 200
    ws = _get(emulator, ids.WS_ID).json()
    assert ws["tags"] == {"owner": "data-platform", "costcenter": "42"}
    assert ws["properties"]["parameters"]["enableNoPublicIp"]["value"] is True  # a tags PATCH leaves properties

    r = requests.delete(emulator.url + ids.DIAG_ID, params=api_for(ids.DIAG_ID), headers=AUTH, timeout=10)
    assert r.status_code == 200
    assert requests.delete(emulator.url + ids.DIAG_ID, params=api_for(ids.DIAG_ID), headers=AUTH, timeout=10).status_code == 204
    assert _get(emulator, f"{ids.WS_ID}/providers/Microsoft.Insights/diagnosticSettings").json() == {"value": []}

    events = emulator.events()
    assert [e["eventType"] for e in events] == [
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
    ]
    assert [e["subject"] for e in events] == [rule_id, ids.WS_ID, ids.DIAG_ID]
    assert [e["data"]["operationName"] for e in events] == [
        "Microsoft.Network/networkSecurityGroups/securityRules/write",
        "Microsoft.Databricks/workspaces/write",
        "Microsoft.Insights/diagnosticSettings/delete",
    ]
    first = events[0]
    assert first["topic"] == f"/subscriptions/{ids.SUB}"
    assert first["dataVersion"] == "2" and first["metadataVersion"] == "1"
    assert first["data"]["tenantId"] == ids.TENANT
    assert first["data"]["resourceProvider"] == "Microsoft.Network"
    assert first["data"]["authorization"]["action"] == first["data"]["operationName"]
    assert first["data"]["httpRequest"]["method"] == "PUT"
    assert first["eventTime"].endswith("Z")
    assert events[2]["data"]["resourceProvider"] == "Microsoft.Insights"
    control = requests.get(emulator.url + "/_emulator/events", timeout=10).json()
    assert len(control["events"]) == 3 and all(d["status"] == "not_sent" for d in control["deliveries"])


def test_vnet_put_and_delete_keep_children_consistent(emulator, ids):
    vnet = _get(emulator, ids.VNET_ID).json()
    vnet["properties"]["subnets"] = [s for s in vnet["properties"]["subnets"] if s["name"] == "snet-host"]
    vnet["properties"]["subnets"].append({"name": "snet-new", "properties": {"addressPrefix": "10.10.9.0/24"}})
    r = requests.put(emulator.url + ids.VNET_ID, params=api_for(ids.VNET_ID), headers=AUTH, json=vnet, timeout=10)
    assert r.status_code == 200
    assert _get(emulator, f"{ids.VNET_ID}/subnets/snet-container").status_code == 404
    new = _get(emulator, f"{ids.VNET_ID}/subnets/snet-new").json()
    assert new["id"] == f"{ids.VNET_ID}/subnets/snet-new"
    # a write to the child shows up in the parent's embedded copy
    child = {"properties": {"addressPrefix": "10.10.0.0/27"}}
    requests.put(emulator.url + f"{ids.VNET_ID}/subnets/snet-host", params=api_for(f"{ids.VNET_ID}/subnets/snet-host"), headers=AUTH, json=child, timeout=10)
    embedded = {s["name"]: s for s in _get(emulator, ids.VNET_ID).json()["properties"]["subnets"]}
    # a settled network PUT reads back `provisioningState` Succeeded (virtualNetwork.json SubnetGet.json)
    assert embedded["snet-host"]["properties"] == {"addressPrefix": "10.10.0.0/27", "provisioningState": "Succeeded"}
    assert requests.delete(emulator.url + ids.VNET_ID, params=api_for(ids.VNET_ID), headers=AUTH, timeout=10).status_code == 200
    assert _get(emulator, f"{ids.VNET_ID}/subnets/snet-host").status_code == 404
    r = requests.put(emulator.url + f"{ids.VNET_ID}/subnets/x", params=api_for(f"{ids.VNET_ID}/subnets/x"), headers=AUTH, json={}, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "ParentResourceNotFound"
    state = emulator.state()
    assert ids.VNET_ID not in [r["id"] for r in state["resources"]]


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"headers": dict(self.headers), "body": json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


def test_events_are_delivered_to_event_target(seed, ids):
    _Receiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        target = f"http://127.0.0.1:{receiver.server_address[1]}/api/events"
        with EmulatorServer(seed, event_target=target) as server:
            r = requests.patch(server.url + ids.WS_ID, params=api_for(ids.WS_ID), headers=AUTH, json={"tags": {"x": "1"}}, timeout=10)
            assert r.status_code == 200
            deadline = time.monotonic() + 5
            while not _Receiver.received and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(_Receiver.received) == 1
            got = _Receiver.received[0]
            assert got["headers"]["aeg-event-type"] == "Notification"
            assert isinstance(got["body"], list) and got["body"][0]["subject"] == ids.WS_ID
            assert got["body"][0]["data"]["operationName"] == "Microsoft.Databricks/workspaces/write"
            while server.deliveries()[0]["status"] == "pending" and time.monotonic() < deadline:
                time.sleep(0.02)
            assert server.deliveries()[0]["status"] == "delivered"
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_failed_delivery_never_fails_the_arm_call(seed, ids):
    with EmulatorServer(seed, event_target="http://127.0.0.1:9/nothing-listens") as server:
        r = requests.delete(server.url + ids.DIAG_ID, params=api_for(ids.DIAG_ID), headers=AUTH, timeout=10)
        assert r.status_code == 200
        deadline = time.monotonic() + 5
        while server.deliveries()[0]["status"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.deliveries()[0]["status"] == "failed"


def test_make_event_helper_for_extension_and_child_ids(ids):
    event = make_event(ids.DIAG_ID, "PUT")
    assert event["data"]["operationName"] == "Microsoft.Insights/diagnosticSettings/write"
    assert event["topic"] == f"/subscriptions/{ids.SUB}"
    assert operation_name(f"{ids.VNET_ID}/subnets/a", "DELETE") == "Microsoft.Network/virtualNetworks/subnets/delete"
    assert make_event(ids.WS_ID, "DELETE")["eventType"] == "Microsoft.Resources.ResourceDeleteSuccess"


def test_real_resource_management_client_get_by_id(emulator, ids, arm_client):
    client = arm_client(emulator)
    ws = client.resources.get_by_id(ids.WS_ID.lower(), api_version="2026-01-01")
    assert ws.id == ids.WS_ID
    assert ws.location == "westeurope"
    assert ws.sku.name == "premium"
    assert ws.properties["workspaceUrl"] == ids.HOST
    vnets = list(client.resources.list(filter="resourceType eq 'Microsoft.Network/virtualNetworks'"))
    assert [v.id for v in vnets] == [ids.VNET_ID]


def test_state_snapshot_round_trips(emulator, ids):
    state = requests.get(emulator.url + "/_emulator/state", timeout=10).json()
    assert state["schema"] == "driftwatch.estate/v1"
    assert state == emulator.state()
    with EmulatorServer(state) as again:
        assert again.state() == state
    tokens = state["databricks"][ids.HOST]["tokens"]
    assert tokens and "token_value" not in tokens[0]


def test_resource_groups_are_derived_from_resources(emulator, ids, arm_client):
    client = arm_client(emulator)
    assert [g.name for g in client.resource_groups.list()] == ["rg-data"]
    assert client.resource_groups.get("RG-DATA").id == ids.RG
    assert _get(emulator, f"/subscriptions/{ids.SUB}/resourceGroups/nope").status_code == 404
    names = sorted(r.name for r in client.resources.list_by_resource_group("rg-data"))
    assert names == ["nsg-dbx", "vnet-dbx", "ws-prod"]


def test_listing_2000_workspaces_over_40_subscriptions_is_fast(make_workspace_doc):
    subs = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(40)]
    resources = [
        make_workspace_doc(
            f"/subscriptions/{subs[i % 40]}/resourceGroups/rg/providers/Microsoft.Databricks/workspaces/w{i}",
            f"adb-{i}.1.azuredatabricks.net",
        )
        for i in range(2000)
    ]
    seed = {
        "schema": "driftwatch.estate/v1",
        "subscriptions": [{"subscriptionId": s, "displayName": s, "state": "Enabled"} for s in subs],
        "resources": resources,
    }
    with EmulatorServer(seed) as server, requests.Session() as http:
        started = time.monotonic()
        seen = 0
        for sub in subs:
            url: str | None = f"{server.url}/subscriptions/{sub}/providers/Microsoft.Databricks/workspaces"
            params: dict[str, str] | None = API
            while url:
                body = http.get(url, headers=AUTH, params=params, timeout=10).json()
                seen += len(body["value"])
                url, params = body.get("nextLink"), None
        assert seen == 2000
        assert time.monotonic() - started < 5


def test_role_assignments_and_definitions_in_arm_shape() -> None:
    """azure-rest-api-specs specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/
    authorization-RoleAssignmentsCalls.json: RoleAssignments_ListForScope (`$filter=atScope()` = at or above the
    scope; no filter = at, above and below), `{value, nextLink}` pages (example RoleAssignments_ListForScope.json),
    PUT requires `roleDefinitionId` and `principalId` and sets the read-only `scope`;
    authorization-RoleDefinitionsCalls.json RoleDefinitions_List (applicable at the scope and above)."""
    from samples import factory as f

    rbac_api = {"api-version": "2022-04-01"}
    rg = f.rg_id(f.SUB_PROD, "rg-bi")
    ws = f"{rg}/providers/Microsoft.Databricks/workspaces/dbw-bi-prod"

    def items(path: str, **query: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = server.url + path
        params: dict[str, str] | None = {**rbac_api, **query}
        while url:
            r = requests.get(url, headers=AUTH, params=params, timeout=10)
            assert r.status_code == 200, r.text
            out += r.json()["value"]
            url, params = r.json().get("nextLink"), None
        return out

    with EmulatorServer(f.sample_estate(), page_size=2) as server:
        at_ws = items(f"{ws}/providers/Microsoft.Authorization/roleAssignments", **{"$filter": "atScope()"})
        assert sorted(a["properties"]["scope"] for a in at_ws) == sorted(
            [f"/subscriptions/{f.SUB_PROD}", f"/subscriptions/{f.SUB_PROD}", rg, ws])
        assert {"id", "name", "type", "properties"} <= set(at_ws[0])
        below = items(f"/subscriptions/{f.SUB_PROD}/providers/Microsoft.Authorization/roleAssignments")
        above = items(f"/subscriptions/{f.SUB_PROD}/providers/Microsoft.Authorization/roleAssignments",
                      **{"$filter": "atScope()"})
        assert len(below) == 5 and len(above) == 2
        defs = items(f"{ws}/providers/Microsoft.Authorization/roleDefinitions")
        assert {d["properties"]["roleName"] for d in defs} >= {"Owner", "Contributor", "Reader"}
        assert all(d["id"].startswith(f"/subscriptions/{f.SUB_PROD}/") for d in defs)

        bad = requests.get(f"{server.url}{rg}/providers/Microsoft.Databricks/workspaces/nope/providers/"
                           "Microsoft.Authorization/roleAssignments", headers=AUTH, params=rbac_api, timeout=10)
        assert bad.status_code == 404
        path = f"{ws}/providers/Microsoft.Authorization/roleAssignments/0e0e0e0e-0000-4000-8000-000000000001"
        missing = requests.put(server.url + path, headers=AUTH, params=rbac_api, timeout=10,
                               json={"properties": {"roleDefinitionId": "x"}})
        assert missing.status_code == 400 and "principalId" in missing.json()["error"]["message"]
        body = {"properties": {"roleDefinitionId": f"/subscriptions/{f.SUB_PROD}/providers/Microsoft.Authorization/"
                                                   f"roleDefinitions/{f.OWNER_ROLE}", "principalId": f.AUDITOR_OID}}
        made = requests.put(server.url + path, headers=AUTH, params=rbac_api, json=body, timeout=10)
        assert made.status_code == 201 and made.json()["properties"]["scope"] == ws
        assert made.json()["type"] == "Microsoft.Authorization/roleAssignments"
        event = server.events()[-1]
        assert event["data"]["operationName"] == "Microsoft.Authorization/roleAssignments/write"

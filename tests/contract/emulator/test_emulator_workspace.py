"""Databricks workspace API and Teams sink, through the real databricks-sdk where it applies."""

from __future__ import annotations

import pytest
import requests
from databricks.sdk.errors import NotFound, PermissionDenied
from databricks.sdk.service.settings import ListType

AUTH = {"Authorization": "Bearer test-token"}


def test_sdk_reads_ip_access_lists_conf_and_tokens(emulator, ids, workspace_client):
    w = workspace_client(emulator)
    lists = list(w.ip_access_lists.list())
    assert len(lists) == 1
    assert lists[0].list_type == ListType.ALLOW
    assert lists[0].ip_addresses == ["203.0.113.0/24", "198.51.100.7/32"]
    assert lists[0].enabled is True
    conf = w.workspace_conf.get_status(keys="enableIpAccessLists,maxTokenLifetimeDays,enableVerboseAuditLogs")
    assert conf == {"enableIpAccessLists": "true", "maxTokenLifetimeDays": "90", "enableVerboseAuditLogs": None}
    tokens = list(w.token_management.list())
    assert [t.token_id for t in tokens] == ["tok-1"]
    assert tokens[0].expiry_time == -1
    raw = requests.get(f"{emulator.url}/ws/{ids.HOST}/api/2.0/token-management/tokens", headers=AUTH, timeout=10)
    assert "dapi-must-never-be-served" not in raw.text


def test_sdk_ip_access_list_crud_changes_state(emulator, ids, workspace_client):
    w = workspace_client(emulator)
    created = w.ip_access_lists.create(label="vendor", list_type=ListType.BLOCK, ip_addresses=["192.0.2.0/24"])
    info = created.ip_access_list
    assert info.list_id and info.address_count == 1 and info.enabled is True and info.created_at
    w.ip_access_lists.update(info.list_id, ip_addresses=["192.0.2.0/24", "192.0.2.99"], enabled=False)
    got = w.ip_access_lists.get(info.list_id).ip_access_list
    assert got.ip_addresses == ["192.0.2.0/24", "192.0.2.99"] and got.enabled is False and got.label == "vendor"
    w.ip_access_lists.replace(info.list_id, label="vendor2", list_type=ListType.ALLOW, enabled=True)
    got = w.ip_access_lists.get(info.list_id).ip_access_list
    assert (got.label, got.list_type, got.ip_addresses) == ("vendor2", ListType.ALLOW, [])
    w.ip_access_lists.delete(info.list_id)
    with pytest.raises(NotFound):
        w.ip_access_lists.get(info.list_id)
    w.workspace_conf.set_status({"enableIpAccessLists": "false"})
    assert w.workspace_conf.get_status(keys="enableIpAccessLists") == {"enableIpAccessLists": "false"}
    state = emulator.state()["databricks"][ids.HOST]
    assert state["workspace_conf"]["enableIpAccessLists"] == "false"
    assert len(state["ip_access_lists"]) == 1
    assert emulator.events() == []  # workspace-API writes raise no Event Grid event


def test_each_workspace_answers_with_its_own_state(emulator, ids, workspace_client):
    assert list(workspace_client(emulator, ids.HOST2).ip_access_lists.list()) == []
    assert len(list(workspace_client(emulator, ids.HOST).ip_access_lists.list())) == 1


def test_invalid_ip_access_list_is_rejected(emulator, ids):
    url = f"{emulator.url}/ws/{ids.HOST}/api/2.0/ip-access-lists"
    r = requests.post(
        url, headers=AUTH, json={"label": "x", "list_type": "ALLOW", "ip_addresses": ["nope"]}, timeout=10
    )
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = requests.post(url, headers=AUTH, json={"label": "x", "list_type": "MAYBE"}, timeout=10)
    assert r.status_code == 400


def test_workspace_api_needs_bearer_and_known_host(emulator, ids):
    base = f"{emulator.url}/ws/{ids.HOST}/api/2.0/ip-access-lists"
    r = requests.get(base, timeout=10)
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
    r = requests.get(f"{emulator.url}/ws/adb-0.0.azuredatabricks.net/api/2.0/ip-access-lists", headers=AUTH, timeout=10)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert requests.get(f"{emulator.url}/ws/{ids.HOST}/.well-known/databricks-config", timeout=10).status_code == 404
    assert requests.get(f"{emulator.url}/.well-known/databricks-config", timeout=10).status_code == 404
    r = requests.get(f"{emulator.url}/ws/{ids.HOST}/api/2.0/workspace-conf?keys=enableWebTerminal", headers=AUTH,
                     timeout=10)
    assert r.json() == {"enableWebTerminal": None}  # a supported key never set reads as null


def test_workspace_conf_rejects_unsupported_keys_like_databricks(emulator, ids, workspace_client):
    """Databricks fails the whole GET when any key is unsupported: HTTP 400 INVALID_PARAMETER_VALUE with
    `Invalid keys: ["..."]` (terraform-provider-databricks issue #1769); databricks-sdk-py raises
    InvalidParameterValue. A later PATCH of such a key is accepted; only the read fails."""
    from databricks.sdk.errors import InvalidParameterValue

    w = workspace_client(emulator)
    with pytest.raises(InvalidParameterValue) as exc:
        w.workspace_conf.get_status(keys="enableIpAccessLists,enableByocUi,enableVerboseAuditLog")
    assert 'Invalid keys: ["enableByocUi", "enableVerboseAuditLog"]' in str(exc.value)
    raw = requests.get(f"{emulator.url}/ws/{ids.HOST}/api/2.0/workspace-conf?keys=enableByocUi", headers=AUTH,
                       timeout=10)
    assert raw.status_code == 400
    assert raw.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": 'Invalid keys: ["enableByocUi"]'}
    assert w.workspace_conf.get_status(keys="enableIpAccessLists") == {"enableIpAccessLists": "true"}


def test_deny_workspace_makes_sdk_fail_with_403(emulator, ids, workspace_client):
    emulator.set_faults({"deny_workspace": ids.HOST, "status": 403})
    w = workspace_client(emulator)
    with pytest.raises(PermissionDenied):
        list(w.ip_access_lists.list())
    # the other workspace is untouched
    assert list(workspace_client(emulator, ids.HOST2).ip_access_lists.list()) == []
    emulator.clear_faults()
    assert len(list(w.ip_access_lists.list())) == 1


def test_teams_sink_records_posts_without_authorization(emulator):
    card = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {"type": "AdaptiveCard", "version": "1.4", "body": []},
            }
        ],
    }
    r = requests.post(
        f"{emulator.url}/teams/webhook?api-version=1&sig=SECRET-SIG",
        json=card,
        headers={"Authorization": "Bearer should-not-be-kept"},
        timeout=10,
    )
    assert r.status_code == 202
    posts = requests.get(f"{emulator.url}/_emulator/teams", timeout=10).json()["posts"]
    assert len(posts) == 1
    assert posts[0]["name"] == "webhook" and posts[0]["body"] == card and posts[0]["received_at"]
    assert "authorization" not in {k.lower() for k in posts[0]["headers"]}
    assert "SECRET-SIG" not in str(posts) and "SECRET-SIG" not in str(emulator.request_counts())
    assert emulator.teams_posts() == posts
    assert requests.delete(f"{emulator.url}/_emulator/teams", timeout=10).status_code == 200
    assert emulator.teams_posts() == []

"""Issue 10 §4: `scan-requests` messages are untrusted input.

Operators may send to `scan-requests` (replay, docs/deploy.md), so a message can carry any workspace
document. The worker reads the workspace from ARM itself; the embedded document is checked (same id,
type Microsoft.Databricks/workspaces, else the message is poisoned at once with a reason) and never
evaluated, and the workspace host a token is sent to comes from ARM and must be a Databricks host.
Per-workspace URL format: learn.microsoft.com/azure/databricks/workspace/per-workspace-urls.
"""

from __future__ import annotations

import copy
import json
import socket
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from core.collect.config import CollectConfig, ConfigError, WorkspaceHostError
from core.collect.workspace_api import ApiNeeds, WorkspaceApiError, read_workspace_api
from tests.support.app import App


def _send(a: App, body: dict[str, Any] | str) -> None:
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    q = QueueClient.from_connection_string(a.connection_string, "scan-requests",
                                           message_encode_policy=TextBase64EncodePolicy())
    q.send_message(body if isinstance(body, str) else json.dumps(body))


def _poison(a: App) -> list[dict[str, Any]]:
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy

    poison = QueueClient.from_connection_string(a.connection_string, "scan-requests-poison",
                                                message_decode_policy=TextBase64DecodePolicy())
    return [json.loads(m.content) for m in poison.receive_messages(max_messages=32)]


def _arm_doc(a: App, rid: str) -> dict[str, Any]:
    r = requests.get(f"{a.emulator.url}{rid}?api-version=2026-01-01", headers={"Authorization": "Bearer x"}, timeout=5)
    assert r.status_code == 200
    return dict(r.json())


def _request(rid: str, doc: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"schema": "driftwatch.scan-request/v1", "workspace_id": rid, "source": "sweep",
                            "requested_at": datetime.now(UTC).isoformat()}
    if doc is not None:
        body["workspace"] = doc
    return body


def test_an_embedded_compliant_document_resolves_nothing(app: App) -> None:
    app.host.fire_timer()
    app.run_queues()
    app.emulator.clear_teams()
    per_ws = Counter(f.resource_id for f in app.open_findings())
    worst, best = per_ws.most_common()[0][0], per_ws.most_common()[-1][0]
    before = {f.id for f in app.open_findings() if f.resource_id == worst}
    # The forged message names the worst workspace but carries the best one's properties.
    forged = copy.deepcopy(_arm_doc(app, worst))
    forged["properties"] = copy.deepcopy(_arm_doc(app, best)["properties"])
    _send(app, _request(worst, forged))
    scans, _ = app.run_queues()
    assert scans.succeeded == 1
    after = {f.id for f in app.open_findings() if f.resource_id == worst}
    assert after == before  # nothing resolved: the state came from ARM
    assert not any("RESOLVED" in json.dumps(p["body"]).upper() for p in app.emulator.teams_posts())


@pytest.mark.parametrize("bad", ["empty", "other id", "other type"])
def test_inconsistent_embedded_documents_are_poisoned_at_once_with_a_reason(app: App, bad: str) -> None:
    rid = next(f.resource_id for f in app.open_findings()) if app.open_findings() else None
    if rid is None:
        app.host.fire_timer()
        app.run_queues()
        rid = next(f.resource_id for f in app.open_findings())
    doc = _arm_doc(app, rid)
    embedded = {"empty": {}, "other id": {**doc, "id": rid + "x"},
                "other type": {**doc, "type": "Microsoft.Network/networkSecurityGroups"}}[bad]
    _send(app, _request(rid, embedded))
    scans = app.host.drain("scan-requests", "scan_workspace")
    assert scans.succeeded == 1 and scans.failed_attempts == 0 and scans.poisoned == 0  # not retried 5 times
    [rejected] = _poison(app)
    assert rejected["schema"] == "driftwatch.rejected-message/v1" and "workspace: embedded document" in rejected["reason"]


def test_an_id_without_resource_groups_is_poisoned_at_once(app: App) -> None:
    _send(app, _request("/subscriptions/s/providers/Microsoft.Databricks/workspaces/w", None))
    scans = app.host.drain("scan-requests", "scan_workspace")
    assert scans.failed_attempts == 0
    [rejected] = _poison(app)
    assert "workspace_id" in rejected["reason"]


HOSTILE_HOSTS = ["adb-1.azuredatabricks.net@127.0.0.1:{port}", "127.0.0.1:{port}", "evil.example",
                 "adb-1.azuredatabricks.net.evil.example", "adb-1.azuredatabricks.net:{port}",
                 "adb-1.azuredatabricks.net/../x", "adb-1.azuredatabricks.net#@127.0.0.1:{port}", "azuredatabricks.net"]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_a_token_is_never_sent_to_a_host_outside_the_databricks_allow_list(host: str) -> None:
    with socket.socket() as listener:  # a would-be attacker endpoint: it must see no connection at all
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        host = host.format(port=listener.getsockname()[1])
        config = CollectConfig()  # production shape: https://{workspaceUrl}, Entra tokens
        with pytest.raises(WorkspaceHostError):
            config.workspace_url(host)
        with pytest.raises(WorkspaceApiError, match="not a Databricks host"):
            read_workspace_api(host, ApiNeeds(conf_keys=("enableIpAccessLists",), ip_access_lists=True, tokens=True), config)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_databricks_hosts_of_each_cloud_are_accepted() -> None:
    assert CollectConfig().workspace_url("adb-1.2.azuredatabricks.net") == "https://adb-1.2.azuredatabricks.net"
    china = CollectConfig(arm_endpoint="https://management.chinacloudapi.cn")
    assert china.workspace_url("adb-1.2.databricks.azure.cn") == "https://adb-1.2.databricks.azure.cn"
    with pytest.raises(WorkspaceHostError):
        china.workspace_url("adb-1.2.azuredatabricks.net")
    gov = CollectConfig(arm_endpoint="https://management.usgovcloudapi.net")
    assert gov.workspace_url("adb-1.2.databricks.azure.us")


@pytest.mark.parametrize("template", ["https://proxy.example/{workspaceUrl}", "https://{workspaceUrl}.evil.example",
                                      "https://user@{workspaceUrl}", "https://{workspaceUrl}:8443"])
def test_the_workspace_base_url_setting_is_checked_outside_emulator_mode(template: str) -> None:
    with pytest.raises(ConfigError, match="DRIFTWATCH_WORKSPACE_BASE_URL"):
        CollectConfig(workspace_base_url=template)

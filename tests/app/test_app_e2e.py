"""Event Grid -> scan_workspace -> store -> drift-findings -> notify_drift -> Teams, over real services."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import requests

from samples import factory as f
from tests.support.app import App

NSG_ANALYTICS = next(r["id"] for r in f.sample_estate()["resources"] if r.get("name") == "nsg-analytics")
WS = {r["name"]: r["id"] for r in f.sample_estate()["resources"] if r["type"] == "Microsoft.Databricks/workspaces"}


def put(app: App, doc: dict[str, Any], api: str = "2025-07-01") -> None:
    r = requests.put(f"{app.emulator.url}{doc['id']}?api-version={api}", json=doc,
                     headers={"Authorization": "Bearer x"}, timeout=5)
    assert r.status_code in (200, 201), r.text


def open_ssh(app: App, name: str = "temp-debug") -> dict[str, Any]:
    rule = f.nsg_rule(NSG_ANALYTICS, name, "Inbound", 150, "Tcp", "Internet", "*", "22")
    put(app, rule)
    return rule


def sweep(app: App) -> None:
    app.host.fire_timer()
    app.run_queues()
    app.emulator.clear_teams()
    app.emulator.clear_events()


def test_sweep_fans_out_and_records_every_finding(app: App) -> None:
    app.host.fire_timer()
    counts = app.emulator.request_counts()["by_endpoint"]
    assert counts["GET arm:workspaces.list"] == 2 and "GET arm:resource" not in counts  # the sweep only lists
    scans, _notes = app.run_queues()
    assert scans.succeeded == 9 and scans.poisoned == 0
    stored = app.open_findings()
    assert len(stored) == 104  # issues 12 and 13 rules included
    exempted, _ = app.store().query(status="exempted")
    assert len(exempted) == 1
    posts = app.emulator.teams_posts()
    assert 1 <= len(posts) <= 9  # one digest per workspace with findings at/above medium
    card = posts[0]["body"]
    assert card["type"] == "message"
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["attachments"][0]["content"]["version"] == "1.5"
    # Nothing is notified twice: re-running the queues posts nothing new.
    app.host.fire_timer()
    app.run_queues()
    assert len(app.emulator.teams_posts()) == len(posts)


def test_drift_event_opens_one_finding_and_one_alert_despite_duplicates_and_order(app: App) -> None:
    sweep(app)
    open_ssh(app)
    events = app.emulator.events()
    assert len(events) == 1
    delivery = events * 3  # at-least-once: every event delivered three times
    random.Random(7).shuffle(delivery)
    app.host.deliver_event_grid(delivery)
    scans, _ = app.run_queues()
    assert scans.succeeded == 1  # coalesced into one scan
    new = [x for x in app.open_findings() if x.workspace_name == "dbw-analytics-prod"]
    assert [(x.rule_id, x.subject) for x in new] == [("DBX-NET-005", "temp-debug")]
    posts = app.emulator.teams_posts()
    assert len(posts) == 1
    text = json.dumps(posts[0]["body"])
    assert "temp-debug" in text and "DBX-NET-005" in text
    # Fixing it resolves the finding and sends a resolved notice.
    requests.delete(f"{app.emulator.url}{NSG_ANALYTICS}/securityRules/temp-debug?api-version=2025-07-01",
                    headers={"Authorization": "Bearer x"}, timeout=5)
    app.host.deliver_event_grid(app.emulator.events()[-1:])
    app.run_queues()
    finding, history = app.store().get(new[0].id)
    assert finding.status == "resolved" and [t.transition for t in history] == ["opened", "resolved"]
    assert len(app.emulator.teams_posts()) == 2


def test_stale_delete_does_not_resolve_a_live_workspace_and_real_delete_does(app: App) -> None:
    sweep(app)
    before = len([x for x in app.open_findings() if x.workspace_name == "dbw-bi-prod"])
    assert before > 0
    stale = {"id": "stale-1", "eventType": "Microsoft.Resources.ResourceDeleteSuccess", "subject": WS["dbw-bi-prod"],
             "topic": f"/subscriptions/{f.SUB_PROD}", "eventTime": "2026-11-26T00:00:00Z", "dataVersion": "2",
             "data": {"operationName": "Microsoft.Databricks/workspaces/delete", "status": "Succeeded",
                      "resourceUri": WS["dbw-bi-prod"]}}
    app.host.deliver_event_grid([stale])
    app.run_queues()
    assert len([x for x in app.open_findings() if x.workspace_name == "dbw-bi-prod"]) == before
    requests.delete(f"{app.emulator.url}{WS['dbw-bi-prod']}?api-version=2026-01-01",
                    headers={"Authorization": "Bearer x"}, timeout=5)
    app.host.deliver_event_grid(app.emulator.events()[-1:])
    app.run_queues()
    assert not [x for x in app.open_findings() if x.workspace_name == "dbw-bi-prod"]
    resolved, _ = app.store().query(status="resolved", workspace=WS["dbw-bi-prod"])
    assert len(resolved) == before


def test_concurrent_workers_never_double_open(app: App) -> None:
    sweep(app)
    open_ssh(app)
    # Two scan requests for the same workspace processed by two workers at once.
    from core import service

    req = service.ScanRequest(workspace_id=WS["dbw-analytics-prod"], source="event",
                              requested_at=datetime.now(UTC))
    for _ in range(4):
        app.rt.queues().send_scan_request(req.body())
    scans, _ = app.run_queues(workers=4)
    assert scans.succeeded == 4
    (finding,) = [x for x in app.open_findings() if x.workspace_name == "dbw-analytics-prod"]
    _, history = app.store().get(finding.id)
    assert [t.transition for t in history] == ["opened"]
    assert len(app.emulator.teams_posts()) == 1


def test_teams_failures_retry_then_poison_and_the_store_says_not_notified(app: App) -> None:
    sweep(app)
    app.emulator.set_faults([{"match": "/teams/", "action": "500"}])
    open_ssh(app)
    app.host.deliver_event_grid(app.emulator.events())
    _scans, notes = app.run_queues()
    assert notes.poisoned == 1 and notes.succeeded == 0
    (finding,) = [x for x in app.open_findings() if x.workspace_name == "dbw-analytics-prod"]
    pending = app.store().pending_notifications(WS["dbw-analytics-prod"])
    assert not pending  # marked failed, not silently notified
    entity = app.store().findings_table.get_entity(finding.id and _pk(finding.resource_id), finding.id)
    assert entity["notify_state"] == "failed"


def _pk(resource_id: str) -> str:
    from core.store import resource_key

    return resource_key(resource_id)


def test_teams_429_with_retry_after_is_honoured(app: App) -> None:
    sweep(app)
    app.emulator.set_faults([{"match": "/teams/", "action": "429", "count": 2, "retry_after": 1}])
    open_ssh(app)
    app.host.deliver_event_grid(app.emulator.events())
    _, notes = app.run_queues()
    assert notes.succeeded == 1 and notes.poisoned == 0
    assert len(app.emulator.teams_posts()) == 1


def test_malformed_messages_go_to_poison_with_a_reason_and_do_not_loop(app: App) -> None:
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

    q = QueueClient.from_connection_string(app.connection_string, "scan-requests",
                                           message_encode_policy=TextBase64EncodePolicy())
    q.send_message('{"schema": "driftwatch.scan-request/v1", "workspace_id": "not-an-id"}')
    q.send_message("not json at all")
    scans, _ = app.host.drain("scan-requests", "scan_workspace"), None
    assert scans.succeeded == 2 and scans.failed_attempts == 0
    poison = QueueClient.from_connection_string(app.connection_string, "scan-requests-poison",
                                                message_decode_policy=TextBase64DecodePolicy())
    bodies = [json.loads(m.content) for m in poison.receive_messages(max_messages=10)]
    assert {b["schema"] for b in bodies} == {"driftwatch.rejected-message/v1"}
    assert any("workspace_id" in b["reason"] for b in bodies)


def test_bindings_match_the_contract(app: App) -> None:
    fns = app.host.functions
    assert {"on_resource_change", "scheduled_sweep", "scan_workspace", "notify_drift"} <= set(fns)
    b = {n: json.loads(fn.get_function_json())["bindings"][0] for n, fn in fns.items()}
    assert b["on_resource_change"]["type"] == "eventGridTrigger"
    assert b["scheduled_sweep"]["type"] == "timerTrigger"
    assert b["scheduled_sweep"]["schedule"] == "%DRIFTWATCH_SWEEP_SCHEDULE%"
    assert b["scan_workspace"]["queueName"] == "scan-requests"
    assert b["notify_drift"]["queueName"] == "drift-findings"
    assert b["scan_workspace"]["connection"] == b["notify_drift"]["connection"] == "AzureWebJobsStorage"
    from core import service
    from samples.functions_host import host_queue_settings

    assert host_queue_settings()["maxDequeueCount"] == service.MAX_DEQUEUE_COUNT


def test_a_burst_of_events_costs_at_most_two_evaluations(app: App) -> None:
    sweep(app)
    open_ssh(app)
    (event,) = app.emulator.events()
    burst = [{**event, "id": f"burst-{i}"} for i in range(30)]
    app.host.deliver_event_grid(burst[:10])
    first, _ = app.run_queues()  # the first event is scanned at once
    app.host.deliver_event_grid(burst[10:])  # the deployment goes on after that scan started
    second, _ = app.run_queues()
    assert (first.succeeded, second.succeeded) == (1, 1)
    assert len(app.emulator.teams_posts()) == 1  # the second evaluation found nothing new to say


def test_four_worker_processes_drain_a_sweep_together(app: App) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.support.app import settings_env

    root = Path(__file__).resolve().parents[2]
    app.host.fire_timer()
    env = {**os.environ, **settings_env(app.emulator, app.connection_string)}
    procs = [subprocess.Popen([sys.executable, "-m", "samples.worker_process", "scan-requests", "scan_workspace",
                               "--threads", "2", "--idle-s", "1.5"], cwd=root, env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(4)]
    results = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(r["succeeded"] for r in results) == 9
    assert sum(r["poisoned"] for r in results) == 0
    assert len(app.open_findings()) == 104  # the same result as one worker: no double opens
    opened = [m for m in app.open_findings() if m.rule_id == "DBX-NET-005"]
    _, history = app.store().get(opened[0].id)
    assert [t.transition for t in history] == ["opened"]

"""The notify use case end to end over Azurite, the estate emulator's ARM (tags) and its Teams sink (one
path per channel). The pure routing and the baseline schema of `notifications.routes` are
tests/unit/notify/test_routing.py."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import service
from core.notify import WebhookConfigError
from core.settings import load_settings
from emulator.server import EmulatorServer
from samples import factory as f
from tests.support.card_estates import evaluate
from tests.support.cards import QUERY, SIG
from tests.unit.notify.test_routing import with_routes


# ---- end to end: store -> route -> channel --------------------------------------------------------
def tagged_estate(suffix: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Three drifting workspaces: one tagged team=ops, one in rg-bi-<suffix>, one elsewhere."""
    docs, ids = [], {}
    for name, rg, tags in (("ops-ws", f"rg-ops-{suffix}", {"team": "ops"}), ("bi-ws", f"rg-bi-{suffix}", {}),
                           ("misc-ws", f"rg-misc-{suffix}", {"team": "misc"})):
        ws = f.workspace_doc(f.SUB_PROD, rg, f"{name}-{suffix}", 3000 + len(docs), sku="standard", npip=None,
                             public_access="Enabled", private_endpoint=None, tags=tags)
        docs.append(ws)
        ids[name] = ws["id"]
    subs = [{"subscriptionId": f.SUB_PROD, "displayName": "contoso-data-prod", "state": "Enabled"}]
    return {"schema": "driftwatch.estate/v1", "subscriptions": subs, "resources": docs, "databricks": {}}, ids


@pytest.fixture
def routed(azurite: Any, tmp_path: Path, log_secrets: Any) -> Iterator[dict[str, Any]]:
    suffix = uuid.uuid4().hex[:8]
    estate, ids = tagged_estate(suffix)
    baseline = with_routes([
        {"match": {"tags": {"team": "ops"}}, "min_severity": "medium", "webhook": "TEAMS_WEBHOOK_URL_OPS"},
        {"match": {"resource_groups": [f"rg-bi-{suffix}"]}, "min_severity": "critical", "webhook": "TEAMS_WEBHOOK_URL_BI"},
    ])
    path = tmp_path / "baseline.yaml"
    path.write_text(yaml.safe_dump(baseline), encoding="utf-8")
    with EmulatorServer(estate) as emulator:
        urls = {"TEAMS_WEBHOOK_URL": f"{emulator.url}/teams/default?{QUERY}",
                "TEAMS_WEBHOOK_URL_OPS": f"{emulator.url}/teams/ops?{QUERY}",
                "TEAMS_WEBHOOK_URL_BI": f"{emulator.url}/teams/bi?{QUERY}"}
        for u in urls.values():
            log_secrets(u)
        env = {"AzureWebJobsStorage": azurite.connection_string, "DRIFTWATCH_BASELINE": str(path),
               "DRIFTWATCH_ARM_ENDPOINT": emulator.url, "DRIFTWATCH_WORKSPACE_BASE_URL": emulator.workspace_base_url,
               "DRIFTWATCH_AUTH": "emulator", "DRIFTWATCH_NOTIFY_MIN_SEVERITY": "high",
               "DRIFTWATCH_PUBLIC_API_URL": "http://127.0.0.1:7071/api", **urls}
        rt = service.Runtime.from_settings(load_settings(env))
        rt.notifier_options = {"max_attempts": 1, "timeout_s": 3.0}
        findings = evaluate(estate)
        store = rt.store()
        recorded = []
        for wid in ids.values():
            mine = [x for x in findings if x.resource_id == wid]
            recorded += store.reconcile(mine, resource_id=wid, evaluated_rules=frozenset(x.rule_id for x in mine),
                                        now=findings[0].last_seen, source="sweep")
        yield {"rt": rt, "emulator": emulator, "ids": ids, "findings": findings, "env": env,
               "transitions": recorded, "connection_string": azurite.connection_string}


def posts_by_channel(emulator: EmulatorServer) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in emulator.teams_posts():
        out.setdefault(p["name"], []).append(p["body"])
    return out


def test_each_workspace_goes_to_its_channel_at_its_routes_severity(
        routed: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rt, emulator, ids = routed["rt"], routed["emulator"], routed["ids"]
    outcomes = {name: service.notify_workspace(rt, wid) for name, wid in ids.items()}
    channels = posts_by_channel(emulator)
    assert sorted(channels) == ["bi", "default", "ops"] and all(len(v) == 1 for v in channels.values())
    by_name = {name: [x for x in routed["findings"] if x.resource_id == wid] for name, wid in ids.items()}
    # route 0 (tags from ARM): medium and above; route 1 (resource group): critical only; default: high
    for name, channel, floor in (("ops-ws", "ops", {"critical", "high", "medium"}),
                                 ("bi-ws", "bi", {"critical"}), ("misc-ws", "default", {"critical", "high"})):
        text = json.dumps(channels[channel][0], ensure_ascii=False)
        assert f"{name}-" in text
        want = sum(1 for x in by_name[name] if x.severity in floor)
        assert outcomes[name].posted == 1 and outcomes[name].skipped == len(by_name[name]) - want
        # the banner counts every open finding of the workspace, not only the posted ones
        assert f"{want} opened · {len(by_name[name])} still open" in text
        assert "http://127.0.0.1:7071/api/findings" in text
    assert emulator.request_counts()["by_endpoint"].get("GET arm:resource", 0) >= 1  # tags were read
    for record in caplog.records:
        assert SIG not in record.getMessage() and "/teams/ops?" not in record.getMessage()
    assert any("notifications.routes[0] (TEAMS_WEBHOOK_URL_OPS)" in r.getMessage() for r in caplog.records)


def test_a_route_webhook_off_the_allow_list_is_refused_without_leaking_it(routed: dict[str, Any]) -> None:
    env = dict(routed["env"], TEAMS_WEBHOOK_URL_OPS=f"https://evil.example.com/hook?{QUERY}",
               DRIFTWATCH_AUTH="emulator")
    rt = service.Runtime.from_settings(load_settings(env))
    rt.notifier_options = {"max_attempts": 1}
    ws = routed["ids"]["ops-ws"]
    with pytest.raises(WebhookConfigError) as info:
        service.notify_workspace(rt, ws, final_attempt=False)
    assert "evil.example.com" in str(info.value) and SIG not in str(info.value) and "/hook" not in str(info.value)
    assert rt.store().pending_notifications(ws)  # still pending while the queue retries
    with pytest.raises(WebhookConfigError):
        service.notify_workspace(rt, ws, final_attempt=True)
    assert not rt.store().pending_notifications(ws)
    failed = rt.store().pending_notifications(ws, include_failed=True)
    assert failed  # recorded as failed: a replayed poison message re-drives it
    row = next(iter(rt.store().findings_table.query_entities("RowKey eq @id", parameters={"id": failed[0].finding.id})))
    assert row["notify_state"] == "failed" and SIG not in row["notify_error"] and "/hook" not in row["notify_error"]
    assert posts_by_channel(routed["emulator"]) == {}


def test_an_unset_route_setting_keeps_the_alerts_pending(routed: dict[str, Any],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    env = {k: v for k, v in routed["env"].items() if k != "TEAMS_WEBHOOK_URL_BI"}
    rt = service.Runtime.from_settings(load_settings(env))
    outcome = service.notify_workspace(rt, routed["ids"]["bi-ws"])
    assert outcome.posted == 0 and "TEAMS_WEBHOOK_URL_BI is not set" in caplog.text
    assert rt.store().pending_notifications(routed["ids"]["bi-ws"])  # nothing lost


def test_unreadable_tags_retry_then_fall_back_to_the_default(routed: dict[str, Any]) -> None:
    emulator = routed["emulator"]
    emulator.set_faults([{"match": "/providers/Microsoft.Databricks/workspaces/", "action": "403"}])
    try:
        with pytest.raises(service.RoutingUnavailable):
            service.notify_workspace(routed["rt"], routed["ids"]["ops-ws"], final_attempt=False)
        assert posts_by_channel(emulator) == {}
        service.notify_workspace(routed["rt"], routed["ids"]["ops-ws"], final_attempt=True)
    finally:
        emulator.clear_faults()
    assert list(posts_by_channel(emulator)) == ["default"]


def test_the_registered_notify_drift_function_routes_each_burst_once(routed: dict[str, Any]) -> None:
    """Through `notify_drift` with real queue messages: one card per workspace, each on its channel."""
    import function_app
    from samples.functions_host import LocalFunctionsHost

    rt = routed["rt"]
    service.reset_runtime(rt)
    try:
        queues = rt.queues()
        for t in routed["transitions"]:
            queues.send_transition(t)
        host = LocalFunctionsHost(function_app.app, routed["connection_string"])
        stats = host.drain("drift-findings", "notify_drift", workers=2)
    finally:
        service.reset_runtime(None)
    # Two workers on one workspace's digest lock: the loser re-queues its message with a delay instead of
    # failing it (issue 10 §7), so a message may be handled more than once; none fails, each card goes once.
    assert stats.succeeded >= len(routed["transitions"]) and stats.failed_attempts == 0 and stats.poisoned == 0
    channels = posts_by_channel(routed["emulator"])
    assert {k: len(v) for k, v in channels.items()} == {"ops": 1, "bi": 1, "default": 1}

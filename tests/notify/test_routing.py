"""Routing alerts to the right channel: baseline `notifications.routes` (strict schema), first match
wins, the default route, and the notify use case end to end over Azurite, the estate emulator's ARM
(tags) and its Teams sink (one path per channel)."""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import service
from core.baseline import BaselineError, load_baseline, parse_baseline
from core.baseline.model import NotificationRoute
from core.collect.config import ConfigError
from core.notify import WebhookConfigError
from core.notify.routing import Route, TagsNeeded, WorkspacePlace, choose_route, needs_tags
from core.settings import load_settings
from emulator.server import EmulatorServer
from samples import factory as f
from tests.notify.estates import evaluate
from tests.support.cards import QUERY, SIG

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "baseline.example.yaml").read_text(encoding="utf-8"))


def route(**kw: Any) -> NotificationRoute:
    return NotificationRoute.model_validate(kw)


def place(name: str = "dbw-bi-prod", rg: str = "rg-bi", sub: str = f.SUB_PROD,
          tags: dict[str, str] | None = None) -> WorkspacePlace:
    return WorkspacePlace.from_resource_id(
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Databricks/workspaces/{name}", tags=tags)


# ---- pure routing ---------------------------------------------------------------------------------
def test_first_matching_route_wins_else_the_default() -> None:
    routes = [route(match={"resource_groups": ["RG-BI"]}, min_severity="medium", webhook="TEAMS_WEBHOOK_URL_BI"),
              route(match={"names": ["dbw-*"]}, webhook="TEAMS_WEBHOOK_URL_DATA"),
              route(match={"subscriptions": [f.SUB_DEV]}, min_severity="low", webhook="TEAMS_WEBHOOK_URL_DEV")]
    assert choose_route(routes, place(), "high") == Route("TEAMS_WEBHOOK_URL_BI", "medium", 0)
    assert choose_route(routes, place(rg="rg-ml"), "high") == Route("TEAMS_WEBHOOK_URL_DATA", "high", 1)
    assert choose_route(routes, place("dev-x", "rg-dev", f.SUB_DEV), "high") == Route("TEAMS_WEBHOOK_URL_DEV", "low", 2)
    assert choose_route(routes, place("other", "rg-x"), "critical") == Route("TEAMS_WEBHOOK_URL", "critical", None)
    assert choose_route([], place(), "high").label == "default route (TEAMS_WEBHOOK_URL)"
    assert choose_route(routes, place(), "high").label == "notifications.routes[0] (TEAMS_WEBHOOK_URL_BI)"


def test_tags_are_needed_only_when_a_route_that_could_match_uses_them() -> None:
    routes = [route(match={"resource_groups": ["rg-ml"], "tags": {"team": "ml"}}, webhook="TEAMS_WEBHOOK_URL_ML"),
              route(match={"tags": {"Team": "ops"}}, webhook="TEAMS_WEBHOOK_URL_OPS"),
              route(match={}, webhook="TEAMS_WEBHOOK_URL_ALL")]
    assert needs_tags(routes, place())  # route 0 does not apply to rg-bi, route 1 needs tags
    with pytest.raises(TagsNeeded):
        choose_route(routes, place(), "high")
    assert choose_route(routes, place(tags={"team": "ops"}), "high").webhook_setting == "TEAMS_WEBHOOK_URL_OPS"
    assert choose_route(routes, place(tags={"team": "OPS"}), "high").webhook_setting == "TEAMS_WEBHOOK_URL_ALL"
    assert choose_route(routes, place(tags={}), "high").webhook_setting == "TEAMS_WEBHOOK_URL_ALL"
    assert not needs_tags(routes[2:], place())


# ---- strict baseline schema -----------------------------------------------------------------------
def with_routes(routes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    doc["notifications"] = {"routes": routes}
    return doc


def test_the_example_baseline_documents_routes() -> None:
    from core.baseline.model import Notifications

    routes = load_baseline(ROOT / "baseline.example.yaml").document.notifications.routes
    assert routes and all(r.webhook.startswith("TEAMS_WEBHOOK_URL_") for r in routes)
    text = (ROOT / "baseline.example.yaml").read_text(encoding="utf-8")
    for model in (Notifications, NotificationRoute):
        for name in model.model_fields:
            assert f"{name}:" in text, f"baseline.example.yaml does not document notifications {name}"


@pytest.mark.parametrize(("routes", "where"), [
    ([{"match": {}, "webhook": "https://prod-1.westeurope.logic.azure.com/workflows/x"}], "notifications.routes[0].webhook"),
    ([{"match": {}, "webhook": "AzureWebJobsStorage"}], "notifications.routes[0].webhook"),
    ([{"match": {"tag": {"a": "b"}}, "webhook": "TEAMS_WEBHOOK_URL_A"}], "notifications.routes[0].match.tag"),
    ([{"match": {}, "webhook": "TEAMS_WEBHOOK_URL_A", "min_severity": "loud"}], "notifications.routes[0].min_severity"),
    ([{"match": {}}], "notifications.routes[0].webhook"),
    ([{"match": {}, "webhook": "TEAMS_WEBHOOK_URL_A", "channel": "x"}], "notifications.routes[0].channel"),
    ({"match": {}}, "notifications.routes"),
])
def test_bad_routes_are_refused_naming_the_field(routes: Any, where: str) -> None:
    with pytest.raises(BaselineError) as info:
        parse_baseline(with_routes(routes), "b.yaml")
    assert where in str(info.value) and "b.yaml" in str(info.value)
    assert "logic.azure.com/workflows" not in str(info.value)  # a URL pasted by mistake is not echoed


def test_routes_do_not_change_the_baseline_hash() -> None:
    plain = parse_baseline(copy.deepcopy(EXAMPLE))
    routed = parse_baseline(with_routes([{"match": {}, "webhook": "TEAMS_WEBHOOK_URL_X"}]))
    assert plain.sha256 == routed.sha256


# ---- settings -------------------------------------------------------------------------------------
def test_route_webhook_settings_are_read_and_never_shown() -> None:
    s = load_settings({"TEAMS_WEBHOOK_URL": "https://a.webhook.office.com/x", "TEAMS_WEBHOOK_URL_OPS": "u-ops",
                       "TEAMS_WEBHOOK_URL_": "bad", "OTHER": "x"})
    assert s.webhook_url("TEAMS_WEBHOOK_URL_OPS") == "u-ops" and s.webhook_url("TEAMS_WEBHOOK_URL_NONE") is None
    assert dict(s.route_webhooks) == {"TEAMS_WEBHOOK_URL_OPS": "u-ops"}
    assert "u-ops" not in repr(s) and "webhook.office.com" not in repr(s)


@pytest.mark.parametrize(("url", "ok"), [
    ("https://func-x.azurewebsites.net/api", True), ("https://api.contoso.com/driftwatch/api/", True),
    ("http://func-x.azurewebsites.net/api", False), ("https://u:p@func-x.azurewebsites.net/api", False),
    ("https://func-x.azurewebsites.net/api?code=abc", False), ("ftp://x/api", False), ("not a url", False),
])
def test_public_api_url_is_validated(url: str, ok: bool) -> None:
    env = {"DRIFTWATCH_PUBLIC_API_URL": url}
    if ok:
        service.Runtime.from_settings(load_settings(env))
    else:
        with pytest.raises(ConfigError, match="DRIFTWATCH_PUBLIC_API_URL") as info:
            service.Runtime.from_settings(load_settings(env))
        assert "abc" not in str(info.value) and "u:p" not in str(info.value)


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

"""Routing alerts to the right channel: baseline `notifications.routes` (strict schema), first match
wins, the default route. The notify use case end to end over Azurite, the estate emulator's ARM (tags)
and its Teams sink is tests/app/test_notify_routing.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import service
from core.baseline import BaselineError, load_baseline, parse_baseline
from core.baseline.model import NotificationRoute
from core.collect.config import ConfigError
from core.notify.routing import Route, TagsNeeded, WorkspacePlace, choose_route, needs_tags
from core.settings import load_settings
from samples import factory as f

ROOT = Path(__file__).resolve().parents[3]
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

"""Issue 16 §6 wiring in Bicep: one parameter turns on Easy Auth *and* tells the code which group to check,
and the template never fakes the platform's own `WEBSITE_AUTH_ENABLED` marker."""

from __future__ import annotations

from typing import Any

from core import settings
from tests.infra.test_infra_templates import INFRA, app_settings, body, resources_of_type


def _auth_settings(templates: dict[str, Any]) -> dict[str, Any]:
    found = resources_of_type(templates["modules/functionapp.bicep"], "Microsoft.Web/sites/config")
    return found["authSettings"]


def test_the_group_parameter_drives_both_easy_auth_and_the_codes_group_check(templates: dict[str, Any]) -> None:
    values = app_settings(templates)
    assert values[settings.AUDITORS_GROUP_ID] == "auditorsGroupObjectId"
    decl = _auth_settings(templates)
    condition = decl["config"]["condition"]["operator"]["operands"]["bool_value"]["function"]["parameters"]
    assert condition["item_to_test"] == "auditorsGroupObjectId"  # the same parameter: on together, off together
    aad = body(decl)["properties"]["identityProviders"]["azureActiveDirectory"]
    assert aad["validation"]["defaultAuthorizationPolicy"]["allowedPrincipals"]["groups"] == ["auditorsGroupObjectId"]
    assert templates["main.bicep"]["modules"]["app"]["config"]["params"]["auditorsGroupObjectId"] == \
        "auditorsGroupObjectId"


def test_the_platform_marker_is_never_set_by_the_template(templates: dict[str, Any]) -> None:
    """`WEBSITE_AUTH_ENABLED` is App Service's read-only word that Easy Auth fronts the app; an app setting of
    that name would make the code trust `X-MS-CLIENT-PRINCIPAL` headers nobody strips."""
    assert settings.EASY_AUTH_ENABLED not in app_settings(templates)
    assert settings.EASY_AUTH_ENABLED not in settings.DEPLOYED_SETTINGS
    for text in (p.read_text(encoding="utf-8") for p in INFRA.rglob("*.bicep")):
        assert f"name: '{settings.EASY_AUTH_ENABLED}'" not in text


def test_sign_in_covers_every_api_route_and_excludes_only_health_and_event_grid(templates: dict[str, Any]) -> None:
    import json

    import function_app
    from samples.functions_host import registered_functions

    routes = set()
    for f in registered_functions(function_app.app).values():
        trigger = next((b for b in json.loads(f.get_function_json())["bindings"] if b["type"] == "httpTrigger"), None)
        if trigger:
            routes.add("/api/" + trigger["route"].split("/{")[0])
    excluded = body(_auth_settings(templates))["properties"]["globalValidation"]["excludedPaths"]
    assert [p for p in excluded if p.startswith("/api/")] == ["/api/health"]
    assert routes - {"/api/health"} and not (routes - {"/api/health"}) & set(excluded)

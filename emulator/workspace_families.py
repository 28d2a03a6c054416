"""Emulated workspace-API families beyond workspace-conf, IP access lists and token management.

Shapes, as databricks-sdk-py 0.162.0 (`databricks/sdk/service/settings.py`) sends and parses them:

- `GET /api/2.0/permissions/authorization/tokens` (`TokenManagementAPI.get_permissions`) ->
  `{"object_id": "authorization/tokens", "object_type": "tokens", "access_control_list": [
  {"user_name"|"group_name"|"service_principal_name", "display_name", "all_permissions":
  [{"permission_level": "CAN_USE"|"CAN_MANAGE", "inherited": false}]}]}` (`TokenPermissions.from_dict`;
  CAN_MANAGE for `admins` per the Databricks "Manage personal access token permissions" docs).
- `GET /api/2.0/settings/types/<type>/names/default` (`RestrictWorkspaceAdminsAPI.get` and siblings) ->
  `{"etag", "setting_name": "default", <payload key>: {...}}`; payload key per type in SETTING_PAYLOAD_KEYS
  (`sql_results_download` uses `boolean_val`). A setting never written answers its default, as the
  Microsoft Learn example for restrict_workspace_admins shows
  (`{"etag":"<etag>","restrict_workspace_admins":{"status":"ALLOW_ALL"},"setting_name":"default"}`).
  An unknown type answers 404 `RESOURCE_DOES_NOT_EXIST`; PATCH needs `{"allow_missing", "setting",
  "field_mask"}` (the SDK's `update` body).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from emulator.http_common import ApiError

SETTING_PAYLOAD_KEYS = {
    "restrict_workspace_admins": "restrict_workspace_admins",
    "disable_legacy_dbfs": "disable_legacy_dbfs",
    "sql_results_download": "boolean_val",
    "disable_legacy_access": "disable_legacy_access",
}

SETTING_DEFAULTS: dict[str, dict[str, Any]] = {
    "restrict_workspace_admins": {"status": "ALLOW_ALL"},
    "disable_legacy_dbfs": {"value": False},
    "sql_results_download": {"value": True},
    "disable_legacy_access": {"value": False},
}
"""Payloads while a setting was never written (Microsoft Learn: restrict_workspace_admins defaults to
ALLOW_ALL; SQL results download is on by default; the legacy switches are opt-in)."""

DEFAULT_TOKEN_PERMISSIONS: dict[str, Any] = {
    "object_id": "authorization/tokens",
    "object_type": "tokens",
    "access_control_list": [
        {"group_name": "admins", "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": False}]},
    ],
}


def _etag(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def setting_answer(settings: dict[str, dict[str, Any]], setting_type: str) -> dict[str, Any]:
    key = SETTING_PAYLOAD_KEYS.get(setting_type)
    if key is None:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Setting type {setting_type} does not exist.")
    payload = copy.deepcopy(settings.get(setting_type, SETTING_DEFAULTS[setting_type]))
    return {"etag": _etag(payload), "setting_name": "default", key: payload}


def handle_settings(settings: dict[str, dict[str, Any]], method: str, rest: list[str], body: Any) -> dict[str, Any]:
    """`rest` = ["<type>", "names", "default"]."""
    if len(rest) != 3 or rest[1].lower() != "names" or rest[2] != "default":
        raise ApiError(404, "ENDPOINT_NOT_FOUND", "Settings are served at /api/2.0/settings/types/<type>/names/default")
    setting_type = rest[0]
    if method == "GET":
        return setting_answer(settings, setting_type)
    if method == "PATCH":
        key = SETTING_PAYLOAD_KEYS.get(setting_type)
        if key is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Setting type {setting_type} does not exist.")
        setting = (body or {}).get("setting")
        if not isinstance(setting, dict) or not isinstance(setting.get(key), dict) or \
                not isinstance(body.get("field_mask"), str):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"setting.{key} and field_mask are required")
        settings[setting_type] = copy.deepcopy(setting[key])
        return setting_answer(settings, setting_type)
    raise ApiError(405, "ENDPOINT_NOT_FOUND", f"{method} is not supported on settings.")


def token_permissions_answer(acl: dict[str, Any] | None) -> dict[str, Any]:
    return copy.deepcopy(acl if acl is not None else DEFAULT_TOKEN_PERMISSIONS)


def secret_scopes_answer(scopes: list[dict[str, Any]]) -> dict[str, Any]:
    """GET /api/2.0/secrets/scopes/list -> `{"scopes": [{"name", "backend_type", "keyvault_metadata":
    {"resource_id", "dns_name"}}]}` (databricks-sdk-py 0.162.0 `SecretsAPI.list_scopes`, service/workspace.py)."""
    return {"scopes": copy.deepcopy(scopes)}


def secret_acls_answer(scopes: list[dict[str, Any]], acls: dict[str, list[dict[str, Any]]],
                       scope: str | None) -> dict[str, Any]:
    """GET /api/2.0/secrets/acls/list?scope= -> `{"items": [{"principal", "permission"}]}` (the key
    `SecretsAPI.list_acls` parses); a missing scope parameter is 400, an unknown scope 404, as on Databricks."""
    if not scope:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "Missing required field: scope")
    if not any(s.get("name") == scope for s in scopes):
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Scope {scope} does not exist!")
    return {"items": copy.deepcopy(acls.get(scope) or [])}


SCIM_RESOURCES = ("Users", "ServicePrincipals", "Groups")
SCIM_LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCIM_MAX_COUNT = 10_000


def scim_list(scim: dict[str, list[dict[str, Any]]], resource: str, query: Any) -> dict[str, Any]:
    """GET /api/2.0/preview/scim/v2/{Users|ServicePrincipals|Groups}?startIndex=&count=&attributes= ->
    SCIM ListResponse `{"schemas", "totalResults", "startIndex", "itemsPerPage", "Resources"}` (RFC 7644
    section 3.4.2.4, 1-based startIndex; databricks-sdk-py 0.162.0 `GroupsAPI.list` pages it with
    `startIndex += len(Resources)` until a page is empty). `attributes` limits the returned keys (`id`
    always kept); `filter` is not emulated and answers 400 so a caller relying on it notices."""
    if query.get("filter"):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "filter is not supported by the emulator")
    try:
        start = int(query.get("startIndex", "1"))
        count = int(query.get("count", str(SCIM_MAX_COUNT)))
    except ValueError:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "startIndex and count must be integers") from None
    start, count = max(start, 1), max(min(count, SCIM_MAX_COUNT), 0)
    items = scim.get(resource) or []
    page = copy.deepcopy(items[start - 1:start - 1 + count])
    attrs = [a.strip() for a in str(query.get("attributes", "")).split(",") if a.strip()]
    if attrs:
        keep = set(attrs) | {"id"}
        page = [{k: v for k, v in item.items() if k in keep} for item in page]
    return {"schemas": [SCIM_LIST_SCHEMA], "totalResults": len(items), "startIndex": start,
            "itemsPerPage": len(page), "Resources": page}

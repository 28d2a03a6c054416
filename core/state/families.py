"""Normalise the per-family workspace-API payloads (raw JSON as Databricks returns it) into state.

Pure: no SDK, no I/O. Each parser raises StateError naming the field when the answer has the wrong shape;
the collector turns that into a per-family failure (DBX-EVAL-002 with the family as subject).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.state.model import (
    ScimGroup,
    ScimPrincipal,
    ScimState,
    SecretAcl,
    SecretScopeState,
    TokenPermissionEntry,
)
from core.state.parse import StateError

_PRINCIPAL_KEYS = (("user_name", "user"), ("group_name", "group"), ("service_principal_name", "service_principal"))

SETTING_PAYLOADS: dict[str, tuple[str, str]] = {
    "restrict_workspace_admins": ("restrict_workspace_admins", "status"),
    "disable_legacy_dbfs": ("disable_legacy_dbfs", "value"),
    "sql_results_download": ("boolean_val", "value"),
    "disable_legacy_access": ("disable_legacy_access", "value"),
}
"""Settings-v2 type -> (payload key, field), as databricks-sdk-py 0.162.0 `service/settings.py` reads them
(`RestrictWorkspaceAdminsSetting.restrict_workspace_admins.status`, `DisableLegacyDbfs.disable_legacy_dbfs
.value`, `SqlResultsDownload.boolean_val.value`, `DisableLegacyAccess.disable_legacy_access.value`)."""


SETTING_DEFAULTS: dict[str, dict[str, Any]] = {
    "restrict_workspace_admins": {"status": "ALLOW_ALL"},
    "disable_legacy_dbfs": {"value": False},
    "sql_results_download": {"value": True},
    "disable_legacy_access": {"value": False},
}
"""What a workspace answers for a setting never written (a snapshot without it means the same; the
emulator's table in emulator/workspace_families.py must agree, a test checks)."""

DEFAULT_TOKEN_ACL: dict[str, Any] = {"access_control_list": [
    {"group_name": "admins", "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": False}]}]}


def snapshot_families(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The families of a `driftwatch.estate/v1` `databricks.<host>` entry, absent keys at their defaults."""
    raw_settings = payload.get("settings") or {}
    if not isinstance(raw_settings, Mapping):
        raise StateError(f"{where}: settings: expected an object")
    settings = {}
    for t, (key, _) in SETTING_PAYLOADS.items():
        body = raw_settings.get(t, SETTING_DEFAULTS[t])
        settings[t] = parse_setting(t, {key: body}, where)
    acl = payload.get("token_permissions")
    scopes = parse_secret_scopes({"scopes": payload.get("secret_scopes") or []}, where)
    raw_acls = payload.get("secret_acls") or {}
    if not isinstance(raw_acls, Mapping):
        raise StateError(f"{where}: secret_acls: expected an object (scope -> ACL items)")
    acls = {sc.name: parse_secret_acls({"items": raw_acls.get(sc.name) or []}, sc.name, where) for sc in scopes}
    raw_scim = payload.get("scim") or {}
    if not isinstance(raw_scim, Mapping):
        raise StateError(f"{where}: scim: expected an object with Users, ServicePrincipals, Groups")
    scim = parse_scim(raw_scim.get("Users") or [], raw_scim.get("ServicePrincipals") or [],
                      raw_scim.get("Groups") or [], where)
    return {"workspace_settings": settings, "secret_scopes": scopes, "secret_acls": acls, "scim": scim,
            "token_permissions": parse_token_permissions(DEFAULT_TOKEN_ACL if acl is None else acl, where)}


def parse_secret_scopes(raw: Any, where: str) -> tuple[SecretScopeState, ...]:
    """GET /api/2.0/secrets/scopes/list: `{"scopes": [{"name", "backend_type": "AZURE_KEYVAULT"|"DATABRICKS",
    "keyvault_metadata": {"resource_id", "dns_name"}}]}` (databricks-sdk-py 0.162.0 `ListScopesResponse`)."""
    if not isinstance(raw, Mapping):
        raise StateError(f"{where}: secret scopes: expected an object")
    items = raw.get("scopes") or []
    if not isinstance(items, list):
        raise StateError(f"{where}: secret scopes: scopes: expected a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            raise StateError(f"{where}: secret scopes: scopes[{i}]: expected an object with a name")
        kv = item.get("keyvault_metadata")
        kv = kv if isinstance(kv, Mapping) else {}
        out.append(SecretScopeState(
            name=item["name"],
            backend_type=item.get("backend_type") if isinstance(item.get("backend_type"), str) else None,
            keyvault_resource_id=kv.get("resource_id") if isinstance(kv.get("resource_id"), str) else None,
            keyvault_dns_name=kv.get("dns_name") if isinstance(kv.get("dns_name"), str) else None))
    return tuple(out)


def parse_secret_acls(raw: Any, scope: str, where: str) -> tuple[SecretAcl, ...]:
    """GET /api/2.0/secrets/acls/list?scope=...: the SDK (`ListAclsResponse.from_dict`) reads `items`; its
    docstring example shows `acls`, so both are accepted."""
    if not isinstance(raw, Mapping):
        raise StateError(f"{where}: secret ACLs of {scope}: expected an object")
    items = raw.get("items") if raw.get("items") is not None else raw.get("acls") or []
    if not isinstance(items, list):
        raise StateError(f"{where}: secret ACLs of {scope}: items: expected a list")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("principal"), str):
            raise StateError(f"{where}: secret ACLs of {scope}: items[{i}]: expected an object with a principal")
        perm = item.get("permission")
        out.append(SecretAcl(principal=item["principal"], permission=perm if isinstance(perm, str) else None))
    return tuple(out)


def parse_token_permissions(raw: Any, where: str) -> tuple[TokenPermissionEntry, ...]:
    """GET /api/2.0/permissions/authorization/tokens: `{"object_id", "object_type": "tokens",
    "access_control_list": [{"user_name"|"group_name"|"service_principal_name", "display_name",
    "all_permissions": [{"permission_level", "inherited", "inherited_from_object"}]}]}`."""
    if not isinstance(raw, Mapping):
        raise StateError(f"{where}: token permissions: expected an object, got {type(raw).__name__}")
    acl = raw.get("access_control_list") or []
    if not isinstance(acl, list):
        raise StateError(f"{where}: token permissions: access_control_list: expected a list")
    out = []
    for i, item in enumerate(acl):
        if not isinstance(item, Mapping):
            raise StateError(f"{where}: token permissions: access_control_list[{i}]: expected an object")
        kind, name = "unknown", ""
        for key, k in _PRINCIPAL_KEYS:
            if isinstance(item.get(key), str) and item[key]:
                kind, name = k, item[key]
                break
        if not name:
            name = str(item.get("display_name") or f"entry {i}")
        perms = item.get("all_permissions") or []
        if not isinstance(perms, list):
            raise StateError(f"{where}: token permissions: access_control_list[{i}].all_permissions: "
                             "expected a list")
        levels = tuple(dict.fromkeys(str(p.get("permission_level")) for p in perms
                                     if isinstance(p, Mapping) and p.get("permission_level")))
        out.append(TokenPermissionEntry(principal_type=kind, principal=name, levels=levels))
    return tuple(out)


def parse_setting(setting_type: str, raw: Any, where: str) -> str | bool | None:
    """One settings-v2 answer `{"etag", "setting_name", <payload key>: {<field>: ...}}` -> the raw value."""
    payload_key, field = SETTING_PAYLOADS[setting_type]
    if not isinstance(raw, Mapping):
        raise StateError(f"{where}: settings {setting_type}: expected an object, got {type(raw).__name__}")
    payload = raw.get(payload_key)
    if not isinstance(payload, Mapping):
        raise StateError(f"{where}: settings {setting_type}: {payload_key}: expected an object")
    value = payload.get(field)
    if field == "value":
        if value is not None and not isinstance(value, bool):
            raise StateError(f"{where}: settings {setting_type}: {payload_key}.value: expected a boolean")
        return value
    return value if isinstance(value, str) else None


def _values(items: Any) -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(str(i["value"]) for i in items if isinstance(i, Mapping) and i.get("value") is not None)


def parse_scim(users: Any, sps: Any, groups: Any, where: str) -> ScimState:
    """SCIM `Resources` items as Databricks returns them: Users `{id, userName, displayName, externalId,
    active}`, ServicePrincipals `{id, applicationId, displayName, externalId, active}`, Groups `{id,
    displayName, externalId, members: [{value, display, $ref}], entitlements: [{value}]}`."""
    principals = []
    for kind, items, key in (("user", users, "userName"), ("service_principal", sps, "applicationId")):
        if not isinstance(items, list):
            raise StateError(f"{where}: scim {kind}s: expected a list")
        for i, item in enumerate(items):
            if not isinstance(item, Mapping) or not item.get("id") or not isinstance(item.get(key), str):
                raise StateError(f"{where}: scim {kind}s[{i}]: expected an object with id and {key}")
            active = item.get("active")
            principals.append(ScimPrincipal(
                id=str(item["id"]), kind=kind, name=item[key],
                display_name=item.get("displayName") if isinstance(item.get("displayName"), str) else None,
                external_id=str(item["externalId"]) if item.get("externalId") else None,
                active=active if isinstance(active, bool) else None))
    out_groups = []
    if not isinstance(groups, list):
        raise StateError(f"{where}: scim groups: expected a list")
    for i, item in enumerate(groups):
        if not isinstance(item, Mapping) or not item.get("id") or not isinstance(item.get("displayName"), str):
            raise StateError(f"{where}: scim groups[{i}]: expected an object with id and displayName")
        out_groups.append(ScimGroup(id=str(item["id"]), display_name=item["displayName"],
                                    external_id=str(item["externalId"]) if item.get("externalId") else None,
                                    members=_values(item.get("members")),
                                    entitlements=_values(item.get("entitlements"))))
    return ScimState(principals=tuple(principals), groups=tuple(out_groups))

"""Load and validate an estate seed (`driftwatch.estate/v1`, ARCHITECTURE 4.3).

A typo in a seed should fail loudly at start-up with the file, the field and the value,
not later as a puzzling 404 in the middle of a test; hence the strict pydantic models.
Resource documents stay free-form (they are whatever ARM returns) apart from the three
fields the emulator indexes them by.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, field_validator

SCHEMA = "driftwatch.estate/v1"

TOKEN_SECRET_KEYS = frozenset({"token_value", "token", "value", "secret", "token_secret"})
"""Keys that would hold a token's secret; they are dropped on load so they can never be served."""


class SeedError(ValueError):
    """A seed that cannot be used; the message names the file, the field path and the value."""


class _Subscription(BaseModel):
    model_config = ConfigDict(extra="allow")

    subscriptionId: StrictStr = Field(min_length=1)
    displayName: StrictStr
    state: StrictStr = "Enabled"
    tenantId: StrictStr | None = None


class _Resource(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: StrictStr
    type: StrictStr
    name: StrictStr

    @field_validator("id")
    @classmethod
    def _arm_id(cls, v: str) -> str:
        parts = v.strip("/").split("/")
        if not v.startswith("/") or len(parts) < 2 or parts[0].lower() != "subscriptions" or len(parts) % 2:
            raise ValueError("not an ARM resource id")
        return v


class _IpAccessList(BaseModel):
    model_config = ConfigDict(extra="allow")

    list_id: StrictStr | None = None
    label: StrictStr
    list_type: Literal["ALLOW", "BLOCK"]
    ip_addresses: list[StrictStr] = Field(default_factory=list)
    enabled: StrictBool = True


class _Token(BaseModel):
    model_config = ConfigDict(extra="allow")

    token_id: StrictStr


class _TokenAcl(BaseModel):
    model_config = ConfigDict(extra="allow")

    user_name: StrictStr | None = None
    group_name: StrictStr | None = None
    service_principal_name: StrictStr | None = None
    all_permissions: list[dict[str, Any]] = Field(default_factory=list)


class _TokenPermissions(BaseModel):
    model_config = ConfigDict(extra="allow")

    access_control_list: list[_TokenAcl] = Field(default_factory=list)


class _ScimResource(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: StrictStr = Field(min_length=1)


class _SecretScope(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: StrictStr = Field(min_length=1)
    backend_type: Literal["AZURE_KEYVAULT", "DATABRICKS"]


class _SecretAcl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principal: StrictStr = Field(min_length=1)
    permission: Literal["READ", "WRITE", "MANAGE"]


_SettingType = Literal["restrict_workspace_admins", "disable_legacy_dbfs", "sql_results_download",
                       "disable_legacy_access"]


class _Workspace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace_conf: dict[str, StrictStr] = Field(default_factory=dict)
    ip_access_lists: list[_IpAccessList] = Field(default_factory=list)
    tokens: list[_Token] = Field(default_factory=list)
    token_permissions: _TokenPermissions | None = None
    """GET /api/2.0/permissions/authorization/tokens as Databricks returns it; absent = admins CAN_MANAGE."""
    settings: dict[_SettingType, dict[str, Any]] = Field(default_factory=dict)
    scim: dict[Literal["Users", "ServicePrincipals", "Groups"], list[_ScimResource]] = Field(default_factory=dict)
    """SCIM resources as GET /api/2.0/preview/scim/v2/<type> returns them in `Resources`."""
    secret_scopes: list[_SecretScope] = Field(default_factory=list)
    """Scopes as GET /api/2.0/secrets/scopes/list returns them in `scopes` (no secret values exist here)."""
    secret_acls: dict[str, list[_SecretAcl]] = Field(default_factory=dict)
    """Scope name -> items as GET /api/2.0/secrets/acls/list returns them; absent = no ACL items."""
    observed_at: int | None = Field(default=None, ge=0)
    """Snapshot time (ms) for offline evaluation; the emulator serves live state and ignores it."""
    """Settings-v2 type -> its payload object (`{"status": ...}` or `{"value": bool}`); absent = default."""


class _Estate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: Literal["driftwatch.estate/v1"] = Field(alias="schema")
    subscriptions: list[_Subscription] = Field(default_factory=list)
    resources: list[_Resource] = Field(default_factory=list)
    databricks: dict[str, _Workspace] = Field(default_factory=dict)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _message(source: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if e["type"] == "missing":
            what = "field required"
        elif e["type"] == "extra_forbidden":
            what = f"unknown field (value {_short(e.get('input'))})"
        else:
            msg = str(e["msg"]).removeprefix("Value error, ")
            what = f"{msg} (value {_short(e.get('input'))})"
        lines.append(f"{source}: {_loc(loc)}: {what}")
    return "\n".join(lines)


def _cross_check(source: str, estate: _Estate) -> None:
    subs = {s.subscriptionId.lower() for s in estate.subscriptions}
    seen: set[str] = set()
    for i, res in enumerate(estate.resources):
        key = res.id.lower()
        if key in seen:
            raise SeedError(f"{source}: resources[{i}].id: duplicate resource id ({res.id!r})")
        seen.add(key)
        sub = res.id.strip("/").split("/")[1].lower()
        if sub not in subs:
            raise SeedError(f"{source}: resources[{i}].id: subscription not in subscriptions ({res.id!r})")
    for host in estate.databricks:
        if not host or "/" in host or ":" in host or host != host.strip():
            raise SeedError(f"{source}: databricks.{host}: key must be a bare workspace host ({host!r})")


def load_seed(seed: dict[str, Any] | str | Path) -> dict[str, Any]:
    """Return the validated seed as a plain dict (token secrets removed).

    `seed` is a parsed document or a path to a JSON file.
    """
    if isinstance(seed, dict):
        source, raw = "<seed>", seed
    else:
        source = str(seed)
        try:
            text = Path(seed).read_text(encoding="utf-8")
        except OSError as exc:
            raise SeedError(f"{source}: cannot read file: {exc.strerror or exc}") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise SeedError(f"{source}: invalid JSON at {where}: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise SeedError(f"{source}: (top level): expected a JSON object (value {_short(raw)})")
    try:
        estate = _Estate.model_validate(raw)
    except ValidationError as exc:
        raise SeedError(_message(source, exc)) from None
    _cross_check(source, estate)
    # Work from the original dicts so free-form documents keep their exact shape.
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "subscriptions": [dict(s) for s in raw.get("subscriptions", [])],
        "resources": [json.loads(json.dumps(r)) for r in raw.get("resources", [])],
        "databricks": {},
    }
    for host, ws in (raw.get("databricks") or {}).items():
        ws = ws or {}
        out["databricks"][host] = {
            "workspace_conf": dict(ws.get("workspace_conf") or {}),
            "ip_access_lists": [dict(a) for a in ws.get("ip_access_lists") or []],
            "tokens": [{k: v for k, v in t.items() if k not in TOKEN_SECRET_KEYS} for t in ws.get("tokens") or []],
            "settings": json.loads(json.dumps(ws.get("settings") or {})),
            "secret_scopes": json.loads(json.dumps(ws.get("secret_scopes") or [])),
            "secret_acls": json.loads(json.dumps(ws.get("secret_acls") or {})),
            "scim": json.loads(json.dumps(ws.get("scim") or {})),
        }
        if ws.get("token_permissions") is not None:
            out["databricks"][host]["token_permissions"] = json.loads(json.dumps(ws["token_permissions"]))
    return out

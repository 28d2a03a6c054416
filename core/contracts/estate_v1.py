"""The `driftwatch.estate/v1` document (ARCHITECTURE 4.3): the emulator's seed and the offline snapshot.

One schema, so the emulator's seed validator (`emulator/seed.py`) and the snapshot parser
(`core/state/estate.py`) accept exactly the same documents. It checks the document's shape only:
resource documents stay free-form ("exactly as an ARM GET returns them") apart from the fields
everything indexes them by, and workspace-API payloads are the objects the Databricks API returns.
No rules live here; the emulator may import this package and nothing else from `core`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, field_validator

from core.contracts import ESTATE_SCHEMA

SCHEMA = ESTATE_SCHEMA

SubscriptionState = Literal["Enabled", "Warned", "PastDue", "Disabled", "Deleted"]
"""`SubscriptionState` of azure-rest-api-specs `specification/resources/resource-manager/Microsoft.Resources/
subscriptions/stable/2022-12-01/subscriptions.json`."""


EMBEDDED_CHILDREN = {
    "microsoft.network/virtualnetworks/subnets": "subnets",
    "microsoft.network/networksecuritygroups/securityrules": "securityRules",
    "microsoft.network/networksecuritygroups/defaultsecurityrules": "defaultSecurityRules",
}
"""Child type (lower) -> the parent property ARM embeds it in; a listed child is folded into its parent."""


def _is_arm_id(value: str) -> bool:
    """`/subscriptions/{id}/...` with name/value pairs: an even number of non-empty segments."""
    parts = value.strip("/").split("/")
    return (value.startswith("/") and len(parts) >= 2 and parts[0].lower() == "subscriptions"
            and len(parts) % 2 == 0 and all(parts))


class Subscription(BaseModel):
    """A subscription as `GET /subscriptions` lists it (extra fields are kept)."""

    model_config = ConfigDict(extra="allow")

    subscriptionId: StrictStr = Field(min_length=1)
    displayName: StrictStr | None = None
    state: SubscriptionState = "Enabled"
    tenantId: StrictStr | None = None


class Resource(BaseModel):
    """An ARM resource document; only the fields it is indexed by are checked."""

    model_config = ConfigDict(extra="allow")

    id: StrictStr
    type: StrictStr = Field(min_length=1)
    name: StrictStr | None = None
    """ARM always returns it; when a hand-written document omits it, it is the id's last segment."""

    @field_validator("id")
    @classmethod
    def _arm_id(cls, v: str) -> str:
        if not _is_arm_id(v):
            raise ValueError("not an ARM resource id")
        return v


class IpAccessList(BaseModel):
    """One object of `GET /api/2.0/ip-access-lists` -> `ip_access_lists`."""

    model_config = ConfigDict(extra="allow")

    list_id: StrictStr | None = None
    label: StrictStr = Field(min_length=1)
    list_type: Literal["ALLOW", "BLOCK"]
    ip_addresses: list[StrictStr] = Field(default_factory=list)
    enabled: StrictBool = True

    @field_validator("ip_addresses")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        # The API refuses to store anything else (databricks-sdk-py `CreateIpAccessList`: IPv4 addresses or
        # CIDR ranges; the emulator's create endpoint answers 400 INVALID_PARAMETER_VALUE), so no workspace
        # can hold it and an estate that says one does is not a picture of a real workspace.
        for address in v:
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ValueError(f"{address[:60]!r} is not an IP address or CIDR") from None
        return v


class TokenInfo(BaseModel):
    """One object of `GET /api/2.0/token-management/tokens` -> `token_infos`."""

    model_config = ConfigDict(extra="allow")

    token_id: StrictStr = Field(min_length=1)


class TokenAcl(BaseModel):
    model_config = ConfigDict(extra="allow")

    user_name: StrictStr | None = None
    group_name: StrictStr | None = None
    service_principal_name: StrictStr | None = None
    all_permissions: list[dict[str, Any]] = Field(default_factory=list)


class TokenPermissions(BaseModel):
    model_config = ConfigDict(extra="allow")

    access_control_list: list[TokenAcl] = Field(default_factory=list)


class ScimResource(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: StrictStr = Field(min_length=1)


class SecretScope(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: StrictStr = Field(min_length=1)
    backend_type: Literal["AZURE_KEYVAULT", "DATABRICKS"]


class SecretAcl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    principal: StrictStr = Field(min_length=1)
    permission: Literal["READ", "WRITE", "MANAGE"]


SettingType = Literal["restrict_workspace_admins", "disable_legacy_dbfs", "sql_results_download",
                      "disable_legacy_access"]


class WorkspaceApi(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspace_conf: dict[str, StrictStr | None] = Field(default_factory=dict)
    """As `GET /api/2.0/workspace-conf` answers: a string per key, or null for a key never set."""
    ip_access_lists: list[IpAccessList] = Field(default_factory=list)
    tokens: list[TokenInfo] = Field(default_factory=list)
    token_permissions: TokenPermissions | None = None
    """GET /api/2.0/permissions/authorization/tokens as Databricks returns it; absent = admins CAN_MANAGE."""
    settings: dict[SettingType, dict[str, Any]] = Field(default_factory=dict)
    """Settings-v2 type -> its payload object (`{"status": ...}` or `{"value": bool}`); absent = default."""
    scim: dict[Literal["Users", "ServicePrincipals", "Groups"], list[ScimResource]] = Field(default_factory=dict)
    """SCIM resources as GET /api/2.0/preview/scim/v2/<type> returns them in `Resources`."""
    secret_scopes: list[SecretScope] = Field(default_factory=list)
    """Scopes as GET /api/2.0/secrets/scopes/list returns them in `scopes` (no secret values exist here)."""
    secret_acls: dict[str, list[SecretAcl]] = Field(default_factory=dict)
    """Scope name -> items as GET /api/2.0/secrets/acls/list returns them; absent = no ACL items."""
    global_init_scripts: list[GlobalInitScript] = Field(default_factory=list)
    """DBX-CLU-001: scripts as GET /api/2.0/global-init-scripts/{id} returns them (list answers omit `script`)."""
    clusters: list[Cluster] = Field(default_factory=list)
    """ClusterDetails as GET /api/2.1/clusters/list returns them in `clusters` (paged by the emulator)."""
    spark_versions: list[SparkVersion] = Field(default_factory=list)
    """GET /api/2.1/clusters/spark-versions `versions`."""
    cluster_policies: list[ClusterPolicy] = Field(default_factory=list)
    policy_compliance: dict[str, ClusterCompliance] = Field(default_factory=dict)
    """cluster_id -> its compliance with its policy; absent = compliant (the emulator evaluates no policy)."""
    policy_permissions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """policy_id -> GET /api/2.0/permissions/cluster-policies/{id} object; absent = no ACL entries."""
    metastore_assignment: MetastoreAssignment | None = None
    """GET /api/2.1/unity-catalog/current-metastore-assignment; absent = no metastore assigned (404)."""
    metastore_summary: dict[str, Any] = Field(default_factory=dict)
    """GET /api/2.1/unity-catalog/metastore_summary fields (owner, delta_sharing_scope, ...)."""
    default_namespace: dict[str, Any] | None = None
    """The `namespace` payload of default_namespace_ws (`{"value": "main"}`); absent = never set (404)."""
    storage_credentials: list[StorageCredential] = Field(default_factory=list)
    current_user: dict[str, Any] | None = None
    """GET /api/2.0/preview/scim/v2/Me; absent = a user that is no metastore admin."""
    system_schemas: list[SystemSchema] | None = None
    """GET /api/2.1/unity-catalog/metastores/{id}/systemschemas `schemas`; absent = access and compute AVAILABLE."""
    observed_at: int | None = Field(default=None, ge=0)
    """Snapshot time (ms) for offline evaluation (DBX-TOKEN-004); the emulator serves live state and ignores it."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class GlobalInitScript(_Open):
    """GET /api/2.0/global-init-scripts/{id} (`GlobalInitScriptDetailsWithContent`): `script` is Base64."""

    script_id: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    script: StrictStr
    enabled: StrictBool = False
    position: int = Field(default=0, ge=0)


class Cluster(_Open):
    """One `ClusterDetails` of GET /api/2.1/clusters/list."""

    cluster_id: StrictStr = Field(min_length=1)
    spark_version: StrictStr | None = None
    cluster_source: Literal["UI", "API", "JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "MODELS", "SQL"] | None = None


class SparkVersion(_Open):
    key: StrictStr = Field(min_length=1)
    name: StrictStr | None = None


class ClusterPolicy(_Open):
    """One `Policy` of GET /api/2.0/policies/clusters/list; `definition` is a JSON string."""

    policy_id: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    definition: StrictStr = "{}"


class ClusterCompliance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_compliant: StrictBool
    violations: dict[str, StrictStr] = Field(default_factory=dict)


class MetastoreAssignment(_Open):
    metastore_id: StrictStr = Field(min_length=1)
    workspace_id: int | None = None
    default_catalog_name: StrictStr | None = None


class StorageCredential(_Open):
    name: StrictStr = Field(min_length=1)


class SystemSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: StrictStr = Field(alias="schema", min_length=1)
    state: StrictStr


class EstateV1(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: Literal["driftwatch.estate/v1"] = Field(alias="schema")
    subscriptions: list[Subscription] = Field(default_factory=list)
    resources: list[Resource] = Field(default_factory=list)
    databricks: dict[str, WorkspaceApi] = Field(default_factory=dict)


class EstateError(ValueError):
    """A document that is not `driftwatch.estate/v1`; one line per problem: `source: field.path: what`."""


def _loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith("function-"):
            out += ("." if out else "") + part
    return out or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _lines(source: str, err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        if e["type"] == "missing":
            what = "field required"
        elif e["type"] == "extra_forbidden":
            what = f"unknown field (value {_short(e.get('input'))})"
        else:
            what = f"{str(e['msg']).removeprefix('Value error, ')} (value {_short(e.get('input'))})"
        lines.append(f"{source}: {_loc(e['loc'])}: {what}")
    return lines


def _cross_check(source: str, doc: EstateV1) -> list[str]:
    """What one field cannot say: ids unique (case-insensitively, as in Azure), subscriptions known, bare hosts."""
    problems = []
    subs = {s.subscriptionId.lower() for s in doc.subscriptions}
    seen: set[str] = set()
    for i, res in enumerate(doc.resources):
        key = res.id.lower()
        if key in seen:
            problems.append(f"{source}: resources[{i}].id: duplicate resource id ({res.id!r})")
        seen.add(key)
        if res.id.strip("/").split("/")[1].lower() not in subs:
            problems.append(f"{source}: resources[{i}].id: subscription not in subscriptions ({res.id!r})")
    by_id = {r.id.lower(): (j, r) for j, r in enumerate(doc.resources)}
    for i, res in enumerate(doc.resources):
        collection = EMBEDDED_CHILDREN.get(res.type.lower())
        parent = by_id.get(res.id.rsplit("/", 2)[0].lower()) if collection else None
        if parent is None:
            continue
        j, doc_parent = parent
        props = (doc_parent.model_extra or {}).get("properties")
        if props is not None and not isinstance(props, dict):
            problems.append(f"{source}: resources[{j}].properties: expected an object to hold resources[{i}] "
                            f"(got {type(props).__name__})")
        elif isinstance(props, dict) and props.get(collection) is not None and not isinstance(props[collection], list):
            problems.append(f"{source}: resources[{j}].properties.{collection}: expected a list to hold "
                            f"resources[{i}] (got {type(props[collection]).__name__})")
    for host in doc.databricks:
        if not host or "/" in host or ":" in host or host != host.strip():
            problems.append(f"{source}: databricks.{host}: key must be a bare workspace host ({host!r})")
    return problems


def validate_estate(data: Any, source: str = "<estate>") -> EstateV1:
    """The validated document, or EstateError naming the source, the field path and the value."""
    if not isinstance(data, dict):
        raise EstateError(f"{source}: (top level): expected a JSON object with schema {SCHEMA} "
                          f"(value {_short(data)})")
    try:
        doc = EstateV1.model_validate(data)
    except ValidationError as exc:
        raise EstateError("\n".join(_lines(source, exc))) from None
    except RecursionError:
        raise EstateError(f"{source}: (top level): nested too deeply") from None
    problems = _cross_check(source, doc)
    if problems:
        raise EstateError("\n".join(problems))
    return doc

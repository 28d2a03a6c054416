"""Compute (clusters, policies, init scripts) and Unity Catalog state, normalised from raw workspace-API JSON.

Pure: no SDK, no I/O. The shapes are databricks-sdk-py 0.162.0's (`databricks/sdk/service/compute.py`,
`catalog.py`, `iam.py`, `settings.py`), cited per parser. Each parser raises StateError naming the field when
an answer has the wrong shape; the collector turns that into a per-family failure (DBX-EVAL-002 with the
family as subject). Script text is hashed here and dropped: only sha256 digests reach the state.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


def StateError(message: str) -> Exception:
    """core.state.parse.StateError, imported late: core.state.model imports these models."""
    from core.state.parse import StateError as _StateError

    return _StateError(message)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class GlobalInitScript(_Frozen):
    """GET /api/2.0/global-init-scripts/{id} (`GlobalInitScriptDetailsWithContent`), the script hashed."""

    script_id: str
    name: str
    enabled: bool | None
    position: int | None
    sha256: str | None
    """sha256 of the Base64-decoded script; None when `script` was absent or not Base64."""


class ClusterState(_Frozen):
    """One `ClusterDetails` of GET /api/2.1/clusters/list, the fields the CLU rules read."""

    cluster_id: str
    cluster_name: str | None = None
    cluster_source: str | None = None
    data_security_mode: str | None = None
    spark_version: str | None = None
    policy_id: str | None = None
    spark_conf: dict[str, str] = {}
    init_scripts: tuple[str, ...] = ()
    """Each init script's location kind (`workspace`, `volumes`, `abfss`, `dbfs`, `file`, `gcs`, `s3`)."""
    dbfs_init_scripts: tuple[str, ...] = ()
    """`init_scripts[].dbfs.destination` values (legacy DBFS-stored scripts)."""


class PolicyState(_Frozen):
    """One `Policy` of GET /api/2.0/policies/clusters/list."""

    policy_id: str
    name: str
    definition_sha256: str | None
    """sha256 of the canonical definition JSON (keys sorted, separators without spaces); None = unparsable."""
    pins_uc_access_mode: bool
    """The definition fixes (or allow-lists only) Unity Catalog `data_security_mode` values."""


class PolicyCompliance(_Frozen):
    """`ClusterCompliance` of GET /api/2.0/policies/clusters/list-compliance?policy_id=..."""

    is_compliant: bool | None
    violations: tuple[str, ...] = ()
    """The violation paths (keys of `violations`), never their messages' values."""


class PermissionEntry(_Frozen):
    principal_type: str
    principal: str
    levels: tuple[str, ...] = ()


class MetastoreState(_Frozen):
    """GET /api/2.1/unity-catalog/current-metastore-assignment (+ metastore_summary when assigned)."""

    assigned: bool
    metastore_id: str | None = None
    default_catalog_name: str | None = None
    owner: str | None = None
    delta_sharing_scope: str | None = None
    delta_sharing_recipient_token_lifetime_in_seconds: int | None = None
    summary_read: bool = False


class CurrentUser(_Frozen):
    """GET /api/2.0/preview/scim/v2/Me: the identity driftwatch runs as, and its direct groups."""

    user_name: str | None
    groups: tuple[str, ...] = ()


class StorageCredential(_Frozen):
    """One `StorageCredentialInfo` of GET /api/2.1/unity-catalog/storage-credentials (no secrets kept)."""

    name: str
    kind: str
    """azure_managed_identity | azure_service_principal | other (AWS, GCP, Cloudflare) | none."""
    access_connector_id: str | None = None
    application_id: str | None = None


class StorageCredentialsState(_Frozen):
    credentials: tuple[StorageCredential, ...] = ()
    complete: bool = False
    """True only when the identity is known to be metastore admin (it sees every credential)."""
    partial_reason: str | None = None


class DefaultNamespace(_Frozen):
    """The default_namespace_ws setting; `value` None = never set (the workspace's own default applies)."""

    value: str | None = None


class SystemSchema(_Frozen):
    schema_name: str
    state: str | None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _obj(raw: Any, what: str, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise StateError(f"{where}: {what}: expected an object, got {type(raw).__name__}")
    return raw


def _list(raw: Mapping[str, Any], key: str, what: str, where: str) -> list[Any]:
    items = raw.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise StateError(f"{where}: {what}: {key}: expected a list")
    return items


def script_sha256(script_b64: Any) -> str | None:
    """sha256 hex of the Base64-decoded script (the API returns `script` Base64-encoded)."""
    if not isinstance(script_b64, str):
        return None
    try:
        raw = base64.b64decode(script_b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return hashlib.sha256(raw).hexdigest()


def parse_global_init_script(raw: Any, where: str) -> GlobalInitScript:
    """`{"script_id", "name", "enabled", "position", "script": <Base64>, "created_*", "updated_*"}`."""
    d = _obj(raw, "global init script", where)
    sid, name = _str(d.get("script_id")), _str(d.get("name"))
    if sid is None or name is None:
        raise StateError(f"{where}: global init script: expected script_id and name")
    pos = d.get("position")
    enabled = d.get("enabled")
    return GlobalInitScript(script_id=sid, name=name, enabled=enabled if isinstance(enabled, bool) else None,
                            position=pos if isinstance(pos, int) and not isinstance(pos, bool) else None,
                            sha256=script_sha256(d.get("script")))


_INIT_KINDS = ("workspace", "volumes", "abfss", "dbfs", "file", "gcs", "s3")


def parse_cluster(raw: Any, where: str) -> ClusterState:
    """`ClusterDetails`: cluster_id, cluster_name, cluster_source, data_security_mode, spark_version, policy_id,
    spark_conf {str: str}, init_scripts [{workspace|volumes|abfss|dbfs|file|gcs|s3: {destination}}]."""
    d = _obj(raw, "cluster", where)
    cid = _str(d.get("cluster_id"))
    if cid is None:
        raise StateError(f"{where}: clusters: expected a cluster_id")
    conf = d.get("spark_conf") or {}
    if not isinstance(conf, Mapping):
        raise StateError(f"{where}: cluster {cid}: spark_conf: expected an object")
    scripts = d.get("init_scripts") or []
    if not isinstance(scripts, list):
        raise StateError(f"{where}: cluster {cid}: init_scripts: expected a list")
    kinds, dbfs = [], []
    for s in scripts:
        if not isinstance(s, Mapping):
            raise StateError(f"{where}: cluster {cid}: init_scripts: expected objects")
        kind = next((k for k in _INIT_KINDS if s.get(k) is not None), "unknown")
        kinds.append(kind)
        if kind == "dbfs":
            dest = s["dbfs"].get("destination") if isinstance(s["dbfs"], Mapping) else None
            dbfs.append(str(dest or "dbfs:"))
    return ClusterState(cluster_id=cid, cluster_name=_str(d.get("cluster_name")),
                        cluster_source=_str(d.get("cluster_source")),
                        data_security_mode=_str(d.get("data_security_mode")),
                        spark_version=_str(d.get("spark_version")), policy_id=_str(d.get("policy_id")),
                        spark_conf={str(k): str(v) for k, v in conf.items()},
                        init_scripts=tuple(kinds), dbfs_init_scripts=tuple(dbfs))


def parse_spark_versions(raw: Any, where: str) -> tuple[str, ...]:
    """GET /api/2.1/clusters/spark-versions -> `{"versions": [{"key", "name"}]}` (`GetSparkVersionsResponse`)."""
    d = _obj(raw, "spark versions", where)
    keys = []
    for i, v in enumerate(_list(d, "versions", "spark versions", where)):
        if not isinstance(v, Mapping) or _str(v.get("key")) is None:
            raise StateError(f"{where}: spark versions: versions[{i}]: expected an object with a key")
        keys.append(v["key"])
    return tuple(keys)


UC_ACCESS_MODES = frozenset({"DATA_SECURITY_MODE_STANDARD", "DATA_SECURITY_MODE_DEDICATED", "DATA_SECURITY_MODE_AUTO",
                             "USER_ISOLATION", "SINGLE_USER"})
"""Unity Catalog access modes (databricks-sdk-py 0.162.0 `compute.DataSecurityMode`: the current values and
their legacy aliases; NONE and LEGACY_* are not UC modes)."""


def canonical_definition(definition: Any) -> str | None:
    """A policy definition (a JSON string) in canonical form: keys sorted, no insignificant whitespace."""
    if not isinstance(definition, str):
        return None
    try:
        parsed = json.loads(definition)
    except ValueError:
        return None
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def pins_uc_access_mode(definition: Any) -> bool:
    """Whether the policy's `data_security_mode` element admits only UC access modes: `fixed` with a UC value,
    or `allowlist` whose values are all UC modes (Databricks "Compute policy reference")."""
    try:
        parsed = json.loads(definition) if isinstance(definition, str) else None
    except ValueError:
        return False
    elem = parsed.get("data_security_mode") if isinstance(parsed, Mapping) else None
    if not isinstance(elem, Mapping):
        return False
    kind = elem.get("type")
    if kind == "fixed":
        return elem.get("value") in UC_ACCESS_MODES
    if kind == "allowlist":
        values = elem.get("values")
        return isinstance(values, list) and bool(values) and all(v in UC_ACCESS_MODES for v in values)
    return False


def parse_policies(raw: Any, where: str) -> tuple[PolicyState, ...]:
    """GET /api/2.0/policies/clusters/list -> `{"policies": [{"policy_id", "name", "definition": <JSON string>,
    ...}]}` (`ListPoliciesResponse`; not paged in 0.162.0)."""
    d = _obj(raw, "cluster policies", where)
    out = []
    for i, p in enumerate(_list(d, "policies", "cluster policies", where)):
        if not isinstance(p, Mapping) or _str(p.get("policy_id")) is None or _str(p.get("name")) is None:
            raise StateError(f"{where}: cluster policies: policies[{i}]: expected policy_id and name")
        canon = canonical_definition(p.get("definition") or "{}")
        out.append(PolicyState(policy_id=p["policy_id"], name=p["name"],
                               definition_sha256=hashlib.sha256(canon.encode()).hexdigest() if canon else None,
                               pins_uc_access_mode=pins_uc_access_mode(p.get("definition"))))
    return tuple(out)


def parse_compliance_page(raw: Any, where: str) -> tuple[dict[str, PolicyCompliance], str | None]:
    """One page of list-compliance: `{"clusters": [{"cluster_id", "is_compliant", "violations": {path: msg}}],
    "next_page_token"}` (`ListClusterCompliancesResponse`)."""
    d = _obj(raw, "policy compliance", where)
    out = {}
    for i, c in enumerate(_list(d, "clusters", "policy compliance", where)):
        if not isinstance(c, Mapping) or _str(c.get("cluster_id")) is None:
            raise StateError(f"{where}: policy compliance: clusters[{i}]: expected a cluster_id")
        viol = c.get("violations") or {}
        ok = c.get("is_compliant")
        out[c["cluster_id"]] = PolicyCompliance(is_compliant=ok if isinstance(ok, bool) else None,
                                                violations=tuple(sorted(map(str, viol))) if isinstance(viol, Mapping)
                                                else ())
    return out, _str(d.get("next_page_token"))


_PRINCIPALS = (("user_name", "user"), ("group_name", "group"), ("service_principal_name", "service_principal"))


def parse_permissions(raw: Any, what: str, where: str) -> tuple[PermissionEntry, ...]:
    """A permissions object `{"object_id", "object_type", "access_control_list": [{"user_name"|"group_name"|
    "service_principal_name", "all_permissions": [{"permission_level", "inherited"}]}]}`."""
    d = _obj(raw, what, where)
    out = []
    for i, item in enumerate(_list(d, "access_control_list", what, where)):
        if not isinstance(item, Mapping):
            raise StateError(f"{where}: {what}: access_control_list[{i}]: expected an object")
        kind, name = next(((k, item[key]) for key, k in _PRINCIPALS if _str(item.get(key))),
                          ("unknown", str(item.get("display_name") or f"entry {i}")))
        perms = item.get("all_permissions") or []
        if not isinstance(perms, list):
            raise StateError(f"{where}: {what}: access_control_list[{i}].all_permissions: expected a list")
        levels = tuple(dict.fromkeys(str(p["permission_level"]) for p in perms
                                     if isinstance(p, Mapping) and p.get("permission_level")))
        out.append(PermissionEntry(principal_type=kind, principal=name, levels=levels))
    return tuple(out)


def parse_metastore(assignment: Any, summary: Any, where: str) -> MetastoreState:
    """`MetastoreAssignment {workspace_id, metastore_id, default_catalog_name}` (None = no metastore assigned)
    and `GetMetastoreSummaryResponse {metastore_id, owner, delta_sharing_scope: INTERNAL|INTERNAL_AND_EXTERNAL,
    delta_sharing_recipient_token_lifetime_in_seconds, ...}`."""
    if assignment is None:
        return MetastoreState(assigned=False)
    a = _obj(assignment, "current metastore assignment", where)
    mid = _str(a.get("metastore_id"))
    if mid is None:
        raise StateError(f"{where}: current metastore assignment: expected a metastore_id")
    fields: dict[str, Any] = {}
    if summary is not None:
        s = _obj(summary, "metastore summary", where)
        life = s.get("delta_sharing_recipient_token_lifetime_in_seconds")
        fields = {"owner": _str(s.get("owner")), "delta_sharing_scope": _str(s.get("delta_sharing_scope")),
                  "delta_sharing_recipient_token_lifetime_in_seconds":
                      life if isinstance(life, int) and not isinstance(life, bool) else None,
                  "summary_read": True}
    return MetastoreState(assigned=True, metastore_id=mid, default_catalog_name=_str(a.get("default_catalog_name")),
                          **fields)


def parse_current_user(raw: Any, where: str) -> CurrentUser:
    """SCIM `Me`: `{"id", "userName", "groups": [{"display", "value"}], ...}` (`iam.User`)."""
    d = _obj(raw, "current user", where)
    groups = d.get("groups") or []
    if not isinstance(groups, list):
        raise StateError(f"{where}: current user: groups: expected a list")
    return CurrentUser(user_name=_str(d.get("userName")),
                       groups=tuple(str(g["display"]) for g in groups if isinstance(g, Mapping) and g.get("display")))


def parse_storage_credentials(items: Any, where: str) -> tuple[StorageCredential, ...]:
    """`StorageCredentialInfo` items: `{name, owner, azure_managed_identity: {access_connector_id,
    managed_identity_id, credential_id}, azure_service_principal: {directory_id, application_id}, ...}`.
    A client secret is never kept (the API does not return it either)."""
    if not isinstance(items, list):
        raise StateError(f"{where}: storage credentials: expected a list")
    out = []
    for i, c in enumerate(items):
        if not isinstance(c, Mapping) or _str(c.get("name")) is None:
            raise StateError(f"{where}: storage credentials[{i}]: expected an object with a name")
        mi, sp = c.get("azure_managed_identity"), c.get("azure_service_principal")
        if isinstance(mi, Mapping):
            out.append(StorageCredential(name=c["name"], kind="azure_managed_identity",
                                         access_connector_id=_str(mi.get("access_connector_id"))))
        elif isinstance(sp, Mapping):
            out.append(StorageCredential(name=c["name"], kind="azure_service_principal",
                                         application_id=_str(sp.get("application_id"))))
        else:
            other = any(c.get(k) for k in ("aws_iam_role", "databricks_gcp_service_account", "cloudflare_api_token"))
            out.append(StorageCredential(name=c["name"], kind="other" if other else "none"))
    return tuple(out)


def is_metastore_admin(user: CurrentUser | None, owner: str | None) -> bool:
    """The identity owns the metastore itself or through one of its direct groups (the metastore admin is its
    owner). Nested account groups cannot be seen from the workspace, so False may be a false negative."""
    if user is None or not owner:
        return False
    names = {n.casefold() for n in (user.user_name, *user.groups) if n}
    return owner.casefold() in names


def storage_credentials_state(items: tuple[StorageCredential, ...], user: CurrentUser | None,
                              metastore: MetastoreState | None) -> StorageCredentialsState:
    owner = metastore.owner if metastore is not None else None
    if is_metastore_admin(user, owner):
        return StorageCredentialsState(credentials=items, complete=True)
    who = (user.user_name if user else None) or "the driftwatch identity"
    reason = (f"{who} is not shown as metastore admin (metastore owner {owner or 'unknown'}): the list holds only "
              "the credentials it may access")
    return StorageCredentialsState(credentials=items, complete=False, partial_reason=reason)


def parse_system_schemas(items: Any, where: str) -> tuple[SystemSchema, ...]:
    """`SystemSchemaInfo` items `{"schema", "state": AVAILABLE|ENABLE_INITIALIZED|ENABLE_COMPLETED|
    DISABLE_INITIALIZED|UNAVAILABLE|MANAGED}` of GET /api/2.1/unity-catalog/metastores/{id}/systemschemas."""
    if not isinstance(items, list):
        raise StateError(f"{where}: system schemas: expected a list")
    out = []
    for i, s in enumerate(items):
        if not isinstance(s, Mapping) or _str(s.get("schema")) is None:
            raise StateError(f"{where}: system schemas[{i}]: expected an object with a schema")
        out.append(SystemSchema(schema_name=s["schema"], state=s.get("state") if isinstance(s.get("state"), str)
                                else None))
    return tuple(out)


def parse_default_namespace(raw: Any, where: str) -> DefaultNamespace:
    """GET /api/2.0/settings/types/default_namespace_ws/names/default -> `{"etag", "setting_name",
    "namespace": {"value"}}` (`DefaultNamespaceSetting`); None = never set."""
    if raw is None:
        return DefaultNamespace()
    d = _obj(raw, "default namespace", where)
    ns = d.get("namespace")
    if ns is not None and not isinstance(ns, Mapping):
        raise StateError(f"{where}: default namespace: namespace: expected an object")
    return DefaultNamespace(value=_str((ns or {}).get("value")))


DEFAULT_CURRENT_USER: dict[str, Any] = {"userName": "driftwatch@emulator.local", "groups": []}
"""Who a snapshot (and the emulator) runs as when `current_user` is not given: not a metastore admin."""
DEFAULT_SYSTEM_SCHEMAS: list[dict[str, Any]] = [{"schema": "access", "state": "AVAILABLE"},
                                                 {"schema": "compute", "state": "AVAILABLE"}]
"""What a metastore lists while no system schema was enabled (state AVAILABLE = ready for opt-in)."""


def policy_compliance_for(clusters: Any, compliance: Mapping[str, Any], policy_id: str) -> list[dict[str, Any]]:
    """list-compliance `clusters` of one policy from the seed: clusters using it, compliant unless the seed's
    `policy_compliance[cluster_id]` says otherwise (the emulator cannot evaluate policy definitions)."""
    out = []
    for c in clusters or []:
        if isinstance(c, Mapping) and c.get("policy_id") == policy_id and c.get("cluster_id"):
            entry = compliance.get(c["cluster_id"]) or {}
            out.append({"cluster_id": c["cluster_id"], "is_compliant": entry.get("is_compliant", True),
                        **({"violations": entry["violations"]} if entry.get("violations") else {})})
    return out


def snapshot_compute_uc(payload: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The compute and Unity Catalog families of a `driftwatch.estate/v1` `databricks.<host>` entry, with the
    emulator's defaults for absent keys (no scripts, clusters or policies; no metastore assigned)."""
    clusters_raw = payload.get("clusters") or []
    clusters = tuple(parse_cluster(c, where) for c in clusters_raw)
    policies = parse_policies({"policies": payload.get("cluster_policies") or []}, where)
    compliance_seed = payload.get("policy_compliance") or {}
    compliance: dict[str, PolicyCompliance] = {}
    for pid in sorted({c.policy_id for c in clusters if c.policy_id}):
        parsed, _ = parse_compliance_page({"clusters": policy_compliance_for(clusters_raw, compliance_seed, pid)},
                                          where)
        compliance.update(parsed)
    perms_seed = payload.get("policy_permissions") or {}
    permissions = {p.policy_id: parse_permissions(perms_seed.get(p.policy_id) or {"access_control_list": []},
                                                  f"permissions of cluster policy {p.policy_id}", where)
                   for p in policies if not p.pins_uc_access_mode}
    assignment = payload.get("metastore_assignment")
    summary = None
    if assignment is not None:
        summary = {"metastore_id": assignment.get("metastore_id"), **(payload.get("metastore_summary") or {})}
    metastore = parse_metastore(assignment, summary, where)
    ns = payload.get("default_namespace")
    user = parse_current_user(payload.get("current_user") or DEFAULT_CURRENT_USER, where)
    creds = parse_storage_credentials(payload.get("storage_credentials") or [], where)
    out: dict[str, Any] = {
        "global_init_scripts": tuple(parse_global_init_script(s, where)
                                     for s in payload.get("global_init_scripts") or []),
        "clusters": clusters,
        "spark_versions": parse_spark_versions({"versions": payload.get("spark_versions") or []}, where),
        "cluster_policies": policies, "policy_compliance": compliance, "policy_permissions": permissions,
        "metastore": metastore,
        "default_namespace": parse_default_namespace(None if ns is None else {"namespace": ns}, where),
        "storage_credentials": storage_credentials_state(creds, user, metastore),
    }
    if metastore.assigned:
        out["system_schemas"] = parse_system_schemas(payload.get("system_schemas") or DEFAULT_SYSTEM_SCHEMAS, where)
    return out

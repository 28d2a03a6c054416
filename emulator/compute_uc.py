"""Emulated compute (clusters, policies, init scripts) and Unity Catalog endpoints of the workspace API.

Shapes and paging as databricks-sdk-py 0.162.0 sends and parses them (`databricks/sdk/service/compute.py`,
`catalog.py`, `iam.py`, `settings.py`) and the Databricks REST reference (docs.databricks.com/api/azure/
workspace: clusters/list, clusters/sparkversions, globalinitscripts, clusterpolicies, policycompliance-
forclusters, metastores/current, metastores/summary, storagecredentials/list, systemschemas/list,
defaultnamespace/get):

- `GET /api/2.0/global-init-scripts` -> `{"scripts": [{script_id, name, enabled, position, created_*,
  updated_*}]}` (no `script`); `GET .../{id}` -> the same fields plus Base64 `script`; unknown id 404
  RESOURCE_DOES_NOT_EXIST.
- `GET /api/2.1/clusters/list?page_size=&page_token=` -> `{"clusters": [...], "next_page_token"}`; the token is
  absent on the last page (the SDK stops on an absent or empty token). page_size above 100 is clamped
  (U: the server's real maximum is not documented in the SDK; "the server may further constrain").
- `GET /api/2.1/clusters/spark-versions` -> `{"versions": [{"key", "name"}]}`.
- `GET /api/2.0/policies/clusters/list` -> `{"policies": [...]}` (unpaged, as `ClusterPoliciesAPI.list`).
- `GET /api/2.0/policies/clusters/list-compliance?policy_id=&page_size=&page_token=` -> `{"clusters":
  [{"cluster_id", "is_compliant", "violations"}], "next_page_token"}`; policy_id is required (400).
- `GET /api/2.0/permissions/cluster-policies/{id}` -> `{"object_id": "/cluster-policies/{id}", "object_type":
  "cluster-policy", "access_control_list": [...]}`; unknown policy 404.
- `GET /api/2.1/unity-catalog/current-metastore-assignment` -> `{"workspace_id", "metastore_id",
  "default_catalog_name"}`, or 404 "No metastore assigned for the current workspace." (message as
  terraform-provider-databricks issues #1632/#2061 quote it; the error_code METASTORE_DOES_NOT_EXIST is U).
- `GET /api/2.1/unity-catalog/metastore_summary` -> `GetMetastoreSummaryResponse`, same 404 when unassigned.
- `GET /api/2.1/unity-catalog/storage-credentials?max_results=&page_token=` and
  `GET /api/2.1/unity-catalog/metastores/{id}/systemschemas?max_results=&page_token=`: max_results 0 = a
  server page size, negative = 400 INVALID_PARAMETER_VALUE (SDK docstrings).
- `GET /api/2.0/preview/scim/v2/Me` -> SCIM User of the caller.
- `GET /api/2.0/settings/types/default_namespace_ws/names/default` -> `{"etag", "setting_name": "default",
  "namespace": {"value"}}`; never set -> 404 RESOURCE_DOES_NOT_EXIST (U).
"""

from __future__ import annotations

import copy
from typing import Any

from emulator.http_common import ApiError

CLUSTER_PAGE_MAX = 100
UC_PAGE = 50
"""Page size the emulator uses for max_results=0 (a server-configured value on Databricks)."""
DEFAULT_CURRENT_USER: dict[str, Any] = {"id": "1", "userName": "driftwatch@emulator.local", "active": True,
                                        "groups": []}
DEFAULT_SYSTEM_SCHEMAS = [{"schema": "access", "state": "AVAILABLE"}, {"schema": "compute", "state": "AVAILABLE"}]
NO_METASTORE = "No metastore assigned for the current workspace."


def _int(query: Any, key: str, default: int) -> int:
    try:
        return int(query.get(key, default))
    except (TypeError, ValueError):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{key} must be an integer") from None


def _token_page(items: list[dict[str, Any]], query: Any, size: int) -> tuple[list[dict[str, Any]], str | None]:
    """Offset tokens (opaque to the client): `next_page_token` only while more items follow."""
    token = query.get("page_token") or "0"
    if not token.isdigit():
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "Invalid page_token")
    start = int(token)
    page = copy.deepcopy(items[start:start + size])
    nxt = start + size
    return page, (str(nxt) if nxt < len(items) else None)


def _paged(key: str, items: list[dict[str, Any]], query: Any, size: int) -> dict[str, Any]:
    page, nxt = _token_page(items, query, size)
    return {key: page, **({"next_page_token": nxt} if nxt else {})}


def global_init_scripts(scripts: list[dict[str, Any]], rest: list[str]) -> dict[str, Any]:
    if not rest:
        return {"scripts": [{k: v for k, v in s.items() if k != "script"} for s in scripts]}
    for s in scripts:
        if s.get("script_id") == rest[0]:
            return copy.deepcopy(s)
    raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Global init script {rest[0]} does not exist.")


def clusters_list(clusters: list[dict[str, Any]], query: Any) -> dict[str, Any]:
    size = _int(query, "page_size", CLUSTER_PAGE_MAX)
    if size < 0:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "page_size must be non-negative")
    return _paged("clusters", clusters, query, min(size or CLUSTER_PAGE_MAX, CLUSTER_PAGE_MAX))


def list_compliance(clusters: list[dict[str, Any]], compliance: dict[str, dict[str, Any]],
                    policies: list[dict[str, Any]], query: Any) -> dict[str, Any]:
    pid = query.get("policy_id")
    if not pid:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "Missing required field: policy_id")
    if not any(p.get("policy_id") == pid for p in policies):
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Cluster policy {pid} does not exist.")
    items = []
    for c in clusters:
        if c.get("policy_id") == pid:
            entry = compliance.get(c["cluster_id"]) or {}
            items.append({"cluster_id": c["cluster_id"], "is_compliant": entry.get("is_compliant", True),
                          **({"violations": entry["violations"]} if entry.get("violations") else {})})
    size = _int(query, "page_size", CLUSTER_PAGE_MAX)
    return _paged("clusters", items, query, min(size or CLUSTER_PAGE_MAX, CLUSTER_PAGE_MAX))


def policy_permissions(policies: list[dict[str, Any]], acls: dict[str, dict[str, Any]], pid: str) -> dict[str, Any]:
    if not any(p.get("policy_id") == pid for p in policies):
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Cluster policy {pid} does not exist.")
    acl = copy.deepcopy(acls.get(pid) or {})
    return {"object_id": f"/cluster-policies/{pid}", "object_type": "cluster-policy",
            "access_control_list": acl.get("access_control_list") or []}


def metastore_assignment(assignment: dict[str, Any] | None) -> dict[str, Any]:
    if assignment is None:
        raise ApiError(404, "METASTORE_DOES_NOT_EXIST", NO_METASTORE)
    return copy.deepcopy(assignment)


def metastore_summary(assignment: dict[str, Any] | None, summary: dict[str, Any]) -> dict[str, Any]:
    if assignment is None:
        raise ApiError(404, "METASTORE_DOES_NOT_EXIST", NO_METASTORE)
    return {"metastore_id": assignment["metastore_id"], "delta_sharing_scope": "INTERNAL",
            **copy.deepcopy(summary)}


def uc_paged(key: str, items: list[dict[str, Any]], query: Any) -> dict[str, Any]:
    size = _int(query, "max_results", -1 if "max_results" not in query else 0)
    if "max_results" not in query:
        return {key: copy.deepcopy(items)}  # unpaginated call (deprecated, still served)
    if size < 0:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "max_results must be non-negative")
    return _paged(key, items, query, size or UC_PAGE)


def system_schemas(assignment: dict[str, Any] | None, schemas: list[dict[str, Any]] | None, metastore_id: str,
                   query: Any) -> dict[str, Any]:
    if assignment is None or assignment.get("metastore_id") != metastore_id:
        raise ApiError(404, "METASTORE_DOES_NOT_EXIST", f"Metastore {metastore_id} does not exist.")
    return uc_paged("schemas", DEFAULT_SYSTEM_SCHEMAS if schemas is None else schemas, query)


def default_namespace(value: dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", "Setting default_namespace_ws does not exist.")
    return {"etag": "1", "setting_name": "default", "namespace": copy.deepcopy(value)}

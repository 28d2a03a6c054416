"""Compute and Unity Catalog families of the workspace API: one read per family, each failing on its own.

Raw JSON through the SDK's own `ApiClient.do` (auth, retries, timeouts), as core/collect/workspace_families.py
does, with the paths and paging of databricks-sdk-py 0.162.0 (cited per constant). A 403, 404,
FEATURE_DISABLED, malformed answer, timeout or spent time budget marks only that family unread
(`family_errors` -> DBX-EVAL-002 with the family as subject). Paging is bounded: beyond a bound the family is
reported unread, never silently truncated. Per-policy reads run on a small thread pool, so a workspace with
5,000 clusters and 500 policies costs about 50 list pages plus one call per policy in use (`make bench`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from core.collect.databricks_client import errors_module
from core.collect.family_reads import BUDGET_SPENT, FamilyReads
from core.state.compute_uc import (
    MetastoreState,
    PermissionEntry,
    PolicyCompliance,
    parse_cluster,
    parse_compliance_page,
    parse_current_user,
    parse_default_namespace,
    parse_global_init_script,
    parse_metastore,
    parse_permissions,
    parse_policies,
    parse_spark_versions,
    parse_storage_credentials,
    parse_system_schemas,
    storage_credentials_state,
)
from core.state.parse import StateError

GLOBAL_INIT_SCRIPTS_PATH = "/api/2.0/global-init-scripts"
"""`GlobalInitScriptsAPI.list` -> `{"scripts": [...]}` (no content); `.get(id)` ->
`GET /api/2.0/global-init-scripts/{id}` -> `GlobalInitScriptDetailsWithContent` with Base64 `script`."""
CLUSTERS_PATH = "/api/2.1/clusters/list"
"""`ClustersAPI.list(page_size=, page_token=)` -> `{"clusters": [ClusterDetails], "next_page_token"}`; the SDK
stops when `next_page_token` is absent or empty."""
SPARK_VERSIONS_PATH = "/api/2.1/clusters/spark-versions"
"""`ClustersAPI.spark_versions` -> `{"versions": [{"key", "name"}]}`."""
POLICIES_PATH = "/api/2.0/policies/clusters/list"
"""`ClusterPoliciesAPI.list` -> `{"policies": [Policy]}` (not paged in 0.162.0)."""
COMPLIANCE_PATH = "/api/2.0/policies/clusters/list-compliance"
"""`PolicyComplianceForClustersAPI.list_compliance(policy_id, page_size=, page_token=)` -> `{"clusters":
[{"cluster_id", "is_compliant", "violations"}], "next_page_token"}`."""
POLICY_PERMISSIONS_PATH = "/api/2.0/permissions/cluster-policies/{id}"
"""`ClusterPoliciesAPI.get_permissions(cluster_policy_id)` -> `ClusterPolicyPermissions`."""
METASTORE_ASSIGNMENT_PATH = "/api/2.1/unity-catalog/current-metastore-assignment"
"""`MetastoresAPI.current` -> `MetastoreAssignment {workspace_id, metastore_id, default_catalog_name}`; with no
metastore Databricks answers 404 "No metastore assigned for the current workspace." (the message as
terraform-provider-databricks issues #1632 and #2061 quote it)."""
METASTORE_SUMMARY_PATH = "/api/2.1/unity-catalog/metastore_summary"
"""`MetastoresAPI.summary` -> `GetMetastoreSummaryResponse`."""
DEFAULT_NAMESPACE_PATH = "/api/2.0/settings/types/default_namespace_ws/names/default"
"""`DefaultNamespaceAPI.get` -> `{"etag", "setting_name", "namespace": {"value"}}`."""
STORAGE_CREDENTIALS_PATH = "/api/2.1/unity-catalog/storage-credentials"
"""`StorageCredentialsAPI.list(max_results=0)` -> `{"storage_credentials": [...], "next_page_token"}`; a page may
be empty and still carry a token (SDK docstring), so reading stops only when the token is absent."""
CURRENT_USER_PATH = "/api/2.0/preview/scim/v2/Me"
"""`CurrentUserAPI.me` -> SCIM User `{"userName", "groups": [{"display", "value"}]}`."""
SYSTEM_SCHEMAS_PATH = "/api/2.1/unity-catalog/metastores/{id}/systemschemas"
"""`SystemSchemasAPI.list(metastore_id, max_results=0)` -> `{"schemas": [{"schema", "state"}], "next_page_token"}`."""

CLUSTER_PAGE = 100
MAX_PAGES = 200
"""Bound per paged list (20,000 clusters at 100 a page); beyond it the family is reported unread."""
MAX_GLOBAL_INIT_SCRIPTS = 200
MAX_POLICIES = 2000
POLICY_CONCURRENCY = 8
"""Per-policy reads (compliance, permissions) in flight at once for one workspace."""


@dataclass(frozen=True)
class ComputeUcNeeds:
    """Which compute / Unity Catalog families to read; all False = no call."""

    global_init_scripts: bool = False
    clusters: bool = False
    spark_versions: bool = False
    policy_compliance: bool = False
    cluster_policies: bool = False
    policy_permissions: bool = False
    metastore: bool = False
    default_namespace: bool = False
    storage_credentials: bool = False
    system_schemas: bool = False

    @property
    def any(self) -> bool:
        return any(getattr(self, f) for f in self.__dataclass_fields__)


def _is_not_found(exc: Exception) -> bool:
    """A 404: databricks-sdk raises `NotFound` (or its subclass `ResourceDoesNotExist`, errors/platform.py)."""
    return "databricks.sdk.errors" in sys.modules and isinstance(exc, errors_module().NotFound)


def _unassigned(exc: Exception) -> bool:
    code = str(getattr(exc, "error_code", "") or "")
    return code == "METASTORE_DOES_NOT_EXIST" or (_is_not_found(exc) and "no metastore assigned" in str(exc).lower())


def _not_set(exc: Exception) -> bool:
    return _is_not_found(exc)


class _Api:
    """GETs of one workspace's API as the compute/UC families make them: budgeted, paged, pooled."""

    def __init__(self, w: Any, call: Callable[[Callable[[], Any]], Any], reads: FamilyReads, where: str) -> None:
        self.w, self.call, self.reads, self.where = w, call, reads, where

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        self.reads.check_budget()
        raw = self.call(functools.partial(self.w.api_client.do, "GET", path, query=query,
                                          headers={"Accept": "application/json"}))
        return raw if raw is not None else {}

    def pages(self, path: str, key: str, query: dict[str, Any]) -> list[Any]:
        """Every item of a `page_token`-paged list, bounded by MAX_PAGES."""
        items: list[Any] = []
        q = dict(query)
        for _ in range(MAX_PAGES):
            page = self.get(path, q)
            if not isinstance(page, dict):
                raise StateError(f"{self.where}: {path}: expected an object")
            got = page.get(key) or []
            if not isinstance(got, list):
                raise StateError(f"{self.where}: {path}: {key}: expected a list")
            items += got
            token = page.get("next_page_token")
            if not token:
                return items
            q["page_token"] = token
        raise TimeoutError(f"more than {MAX_PAGES} pages of {path}")

    @staticmethod
    def concurrently(reads: list[Callable[[], None]]) -> None:
        """Run calls that keep their own results (each catches its failure) at once on a small pool."""
        if len(reads) < 2:
            for read in reads:
                read()
            return
        with ThreadPoolExecutor(max_workers=len(reads)) as pool:
            for done in [pool.submit(read) for read in reads]:
                done.result()

    @staticmethod
    def pooled(keys: list[str], read: Callable[[str], Any]) -> dict[str, Any]:
        """One read per key on a small pool (per-policy and per-script calls)."""
        with ThreadPoolExecutor(max_workers=max(1, min(POLICY_CONCURRENCY, len(keys)))) as pool:
            return dict(zip(keys, pool.map(read, keys), strict=True))


def read_compute_uc(w: Any, call: Callable[[Callable[[], Any]], Any], needs: ComputeUcNeeds, deadline: float,
                    where: str, describe: Callable[[Exception], str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Read each needed family; returns (WorkspaceApiState field -> parsed value, family -> cause).

    The families that use another's answer follow it directly, not a wave behind everything: clusters ->
    compliance, policies -> permissions, the metastore assignment -> its summary, the storage credentials
    (with who-am-I) and the system schemas, all at once. So the longest chain is two calls, not three (one
    round trip less of event latency). The calls, the results and their order (`_in_order`) are the same as
    one after the other."""
    reads = FamilyReads(deadline, describe)
    api = _Api(w, call, reads, where)
    me: dict[str, Any] = {}
    if needs.global_init_scripts:
        reads.one("global_init_scripts", lambda: _global_init_scripts(api))
    if needs.clusters:
        reads.also(lambda: _clusters_then_compliance(api, needs))
    elif needs.policy_compliance:
        reads.errors["policy_compliance"] = "not read: the cluster list could not be read"
    if needs.spark_versions:
        reads.one("spark_versions", lambda: parse_spark_versions(api.get(SPARK_VERSIONS_PATH), where))
    if needs.cluster_policies or needs.policy_permissions:
        reads.also(lambda: _policies_then_permissions(api, needs))
    if needs.metastore:
        reads.also(lambda: _metastore_and_what_uses_it(api, needs, me))
    else:
        reads.also(lambda: _after_metastore(api, needs, me, None, []))
    if needs.default_namespace:
        reads.one("default_namespace", lambda: _default_namespace(api))
    reads.flush()
    if needs.storage_credentials and "storage_credentials" in reads.data:
        items = reads.data.pop("storage_credentials")
        if "malformed" in me:
            reads.errors["storage_credentials"] = f"malformed answer: {me['malformed']}"
        else:
            user, known = me.get("user"), reads.data.get("metastore")
            reads.read_now("storage_credentials", lambda: storage_credentials_state(items, user, known),
                           check_budget=False)
    return _in_order(reads.data), _in_order(reads.errors)


def _clusters_then_compliance(api: _Api, needs: ComputeUcNeeds) -> None:
    reads = api.reads
    reads.read_now("clusters", lambda: tuple(parse_cluster(c, api.where) for c in
                                             api.pages(CLUSTERS_PATH, "clusters", {"page_size": CLUSTER_PAGE})))
    if needs.policy_compliance:
        clusters = reads.data.get("clusters")
        if clusters is None:
            reads.errors["policy_compliance"] = "not read: the cluster list could not be read"
        else:
            policy_ids = sorted({c.policy_id for c in clusters if c.policy_id})
            reads.read_now("policy_compliance", lambda: _policy_compliance(api, policy_ids))


def _policies_then_permissions(api: _Api, needs: ComputeUcNeeds) -> None:
    reads = api.reads
    reads.read_now("cluster_policies", lambda: parse_policies(api.get(POLICIES_PATH), api.where))
    if needs.policy_permissions:
        policies = reads.data.get("cluster_policies")
        if policies is None:
            reads.errors["policy_permissions"] = "not read: the cluster policy list could not be read"
        else:
            unpinned = [p.policy_id for p in policies if not p.pins_uc_access_mode]
            reads.read_now("policy_permissions", lambda: _policy_permissions(api, unpinned))


def _metastore_and_what_uses_it(api: _Api, needs: ComputeUcNeeds, me: dict[str, Any]) -> None:
    """The assignment, then at once its summary and the families that need only the assignment; the
    metastore family is settled after both, and a family that needed it is dropped if it failed."""
    reads = api.reads
    if reads.spent():
        reads.errors["metastore"] = BUDGET_SPENT
        _after_metastore(api, needs, me, None, [])
        return
    try:
        assignment = api.get(METASTORE_ASSIGNMENT_PATH)
    except Exception as exc:
        if not _unassigned(exc):
            reads.read_now("metastore", functools.partial(_raise, exc), check_budget=False)
            _after_metastore(api, needs, me, None, [])
            return
        assignment = None
    if assignment is None:
        reads.read_now("metastore", lambda: parse_metastore(None, None, api.where), check_budget=False)
        _after_metastore(api, needs, me, reads.data.get("metastore"), [])
        return
    summary: dict[str, Any] = {}

    def read_summary() -> None:
        try:
            summary["value"] = api.get(METASTORE_SUMMARY_PATH)
        except Exception as exc:  # the metastore family's error, as when read one after the other
            summary["error"] = exc

    try:
        # What the others need of the metastore is the assignment's id; a malformed one fails them all.
        known: MetastoreState | None = parse_metastore(assignment, None, api.where)
    except StateError:
        known = None
    _after_metastore(api, needs, me, known, [read_summary])
    if "error" in summary:
        reads.read_now("metastore", functools.partial(_raise, summary["error"]), check_budget=False)
    else:
        reads.read_now("metastore", lambda: parse_metastore(assignment, summary.get("value"), api.where),
                       check_budget=False)
    if needs.system_schemas and reads.data.get("metastore") is None:  # as if read after the whole metastore
        reads.data.pop("system_schemas", None)
        reads.errors["system_schemas"] = "not read: the metastore assignment could not be read"


def _after_metastore(api: _Api, needs: ComputeUcNeeds, me: dict[str, Any], metastore: MetastoreState | None,
                     alongside: list[Callable[[], None]]) -> None:
    """Read the families that use the metastore assignment (`metastore`: as far as it is known, None when it
    could not be read or is not read at all), at once with `alongside`."""
    reads, where = api.reads, api.where
    todo = list(alongside)
    if needs.storage_credentials and not (metastore is not None and not metastore.assigned):
        # (no metastore: there are no storage credentials to list, the rule cannot apply) Who we are does
        # not depend on the list: both are read at once, and put together after the flush.
        todo.append(lambda: reads.read_now("storage_credentials", lambda: parse_storage_credentials(api.pages(
            STORAGE_CREDENTIALS_PATH, "storage_credentials", {"max_results": 0}), where)))
        todo.append(functools.partial(_current_user, api, me))
    if needs.system_schemas:
        if metastore is None:
            reads.errors["system_schemas"] = "not read: the metastore assignment could not be read"
        elif metastore.assigned:
            mid = metastore.metastore_id
            todo.append(lambda: reads.read_now("system_schemas", lambda: parse_system_schemas(api.pages(
                SYSTEM_SCHEMAS_PATH.format(id=mid), "schemas", {"max_results": 0}), where)))
    _Api.concurrently(todo)


def _raise(exc: Exception) -> Any:
    raise exc


def _global_init_scripts(api: _Api) -> tuple[Any, ...]:
    listed = api.get(GLOBAL_INIT_SCRIPTS_PATH)
    items = listed.get("scripts") or [] if isinstance(listed, dict) else None
    if not isinstance(items, list):
        raise StateError(f"{api.where}: global init scripts: scripts: expected a list")
    if len(items) > MAX_GLOBAL_INIT_SCRIPTS:
        raise TimeoutError(f"more than {MAX_GLOBAL_INIT_SCRIPTS} global init scripts")
    ids = [str(s.get("script_id")) for s in items if isinstance(s, dict) and s.get("script_id")]
    if len(ids) != len(items):
        raise StateError(f"{api.where}: global init scripts: every script needs a script_id")
    bodies = api.pooled(ids, lambda sid: api.get(f"{GLOBAL_INIT_SCRIPTS_PATH}/{sid}"))
    return tuple(parse_global_init_script(bodies[sid], api.where) for sid in ids)


def _default_namespace(api: _Api) -> Any:
    try:
        raw = api.get(DEFAULT_NAMESPACE_PATH)
    except Exception as exc:
        if _not_set(exc):  # a never-written setting answers 404 (its default applies)
            return parse_default_namespace(None, api.where)
        raise
    return parse_default_namespace(raw, api.where)


def _policy_compliance(api: _Api, policy_ids: list[str]) -> dict[str, PolicyCompliance]:
    if len(policy_ids) > MAX_POLICIES:
        raise TimeoutError(f"clusters use more than {MAX_POLICIES} policies")

    def of(pid: str) -> dict[str, PolicyCompliance]:
        out: dict[str, PolicyCompliance] = {}
        for page in api.pages(COMPLIANCE_PATH, "clusters", {"policy_id": pid, "page_size": CLUSTER_PAGE}):
            parsed, _ = parse_compliance_page({"clusters": [page]}, api.where)
            out.update(parsed)
        return out
    merged: dict[str, PolicyCompliance] = {}
    for part in api.pooled(policy_ids, of).values():
        merged.update(part)
    return merged


def _policy_permissions(api: _Api, unpinned: list[str]) -> dict[str, tuple[PermissionEntry, ...]]:
    if len(unpinned) > MAX_POLICIES:
        raise TimeoutError(f"more than {MAX_POLICIES} cluster policies")
    raw = api.pooled(unpinned, lambda pid: api.get(POLICY_PERMISSIONS_PATH.format(id=pid)))
    return {pid: parse_permissions(raw[pid], f"permissions of cluster policy {pid}", api.where) for pid in unpinned}


def _current_user(api: _Api, me: dict[str, Any]) -> None:
    """Who we are, kept in `me`: unknown (None) is never a complete credential list."""
    try:
        me["user"] = parse_current_user(api.get(CURRENT_USER_PATH), api.where)
    except StateError as exc:
        me["malformed"] = exc
    except Exception:  # who we are is unknown: the list counts as partial, never complete
        me["user"] = None

FAMILY_ORDER = ("global_init_scripts", "clusters", "spark_versions", "policy_compliance", "cluster_policies",
                "policy_permissions", "metastore", "default_namespace", "storage_credentials", "system_schemas")
"""The order the families were read in one after the other (results keep it, whatever finished first)."""


def _in_order(found: dict[str, Any]) -> dict[str, Any]:
    return {k: found[k] for k in (*FAMILY_ORDER, *found) if k in found}

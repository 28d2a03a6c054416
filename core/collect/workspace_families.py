"""Per-family workspace-API reads beyond the core ones (workspace-conf, IP access lists, tokens).

Each family is read on its own, so a 403, 404, FEATURE_DISABLED, a timeout or an exhausted time budget
on one endpoint marks only that family unread (`WorkspaceApiState.family_errors` -> DBX-EVAL-002 with the
family as subject) and the other families are still evaluated. Raw JSON through the SDK's own
`ApiClient.do` (auth, retries, timeouts): the typed models lose values (databricks-sdk-py 0.162.0
`TokenPermissionLevel` has only CAN_USE, so the admins group's CAN_MANAGE becomes None; unknown settings
enum values become None), and rules must see what the workspace said.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from core.collect.family_reads import FamilyReads
from core.state.families import (
    SETTING_PAYLOADS,
    parse_scim,
    parse_secret_acls,
    parse_secret_scopes,
    parse_setting,
    parse_token_permissions,
)
from core.state.parse import StateError

TOKEN_PERMISSIONS_PATH = "/api/2.0/permissions/authorization/tokens"  # noqa: S105 (a URL path, not a secret)
"""databricks-sdk-py 0.162.0 `TokenManagementAPI.get_permissions` (service/settings.py)."""
SETTINGS_PATH = "/api/2.0/settings/types/{type}/names/default"
"""databricks-sdk-py 0.162.0 `RestrictWorkspaceAdminsAPI.get`, `DisableLegacyDbfsAPI.get`,
`SqlResultsDownloadAPI.get`, `DisableLegacyAccessAPI.get` (service/settings.py)."""
SECRET_SCOPES_PATH = "/api/2.0/secrets/scopes/list"  # noqa: S105 (a URL path)
SECRET_ACLS_PATH = "/api/2.0/secrets/acls/list"  # noqa: S105 (a URL path)
"""databricks-sdk-py 0.162.0 `SecretsAPI.list_scopes` / `SecretsAPI.list_acls(scope)` (service/workspace.py).
Secret values are never read: no call to /api/2.0/secrets/get or /secrets/list."""
SCIM_PATH = "/api/2.0/preview/scim/v2/{resource}"
"""databricks-sdk-py 0.162.0 `UsersAPI.list`, `ServicePrincipalsAPI.list`, `GroupsAPI.list` (service/iam.py):
SCIM ListResponse `{"totalResults", "startIndex", "itemsPerPage", "Resources": [...]}`, paged by
`startIndex` (1-based) and `count`, as the SDK pages it (`startIndex += len(Resources)` until empty)."""
SCIM_ATTRIBUTES = {"Users": "id,userName,displayName,externalId,active",
                   "ServicePrincipals": "id,applicationId,displayName,externalId,active",
                   "Groups": "id,displayName,externalId,members,entitlements"}
SCIM_PAGE = 100
MAX_SCIM_PAGES = 500
"""Bound per resource type (50 000 principals); beyond it the family is reported unread, not truncated."""
MAX_SECRET_SCOPES = 1000
"""Bound on the ACL reads (one call per scope); beyond it the ACL family is reported unread."""
SECRET_ACL_CONCURRENCY = 8
"""ACL calls in flight at once per workspace (as many as compute_uc's per-policy calls). Far under the Secrets
API's limit of 1,100 requests per second per workspace (Microsoft Learn, azure/databricks/resources/limits,
"API rate limits"); a 429 is retried by databricks-sdk itself."""


@dataclass(frozen=True)
class FamilyNeeds:
    """Which extra families to read; empty = none (no call)."""

    token_permissions: bool = False
    settings_types: tuple[str, ...] = ()
    secret_scopes: bool = False
    secret_acls: bool = False
    scim: bool = False

    @property
    def any(self) -> bool:
        return (self.token_permissions or bool(self.settings_types) or self.secret_scopes or self.secret_acls
                or self.scim)


def read_families(w: Any, call: Callable[[Callable[[], Any]], Any], needs: FamilyNeeds, deadline: float,
                  where: str, describe: Callable[[Exception], str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Read each needed family; returns (WorkspaceApiState field -> parsed value, family -> cause).

    Everything at once; the secret ACLs, which need the scope list, follow it directly."""
    reads = FamilyReads(deadline, describe)

    def get(path: str) -> Any:
        return call(lambda: w.api_client.do("GET", path, headers={"Accept": "application/json"}))

    if needs.token_permissions:
        reads.one("token_permissions", lambda: parse_token_permissions(get(TOKEN_PERMISSIONS_PATH), where))
    if needs.settings_types:
        unknown = next((t for t in needs.settings_types if t not in SETTING_PAYLOADS), None)
        if unknown is not None:
            reads.errors["workspace_settings"] = f"malformed answer: {where}: unknown settings type {unknown!r}"
        else:  # one call per settings type, all at once
            for t in needs.settings_types:
                reads.part("workspace_settings", t, functools.partial(
                    lambda t: parse_setting(t, get(SETTINGS_PATH.format(type=t)), where), t))
            reads.assemble("workspace_settings", dict)
    if needs.scim:  # the three resource types page independently: read at once, parsed together
        for resource in ("Users", "ServicePrincipals", "Groups"):
            reads.part("scim", resource, functools.partial(_scim_pages, w, call, reads, resource, where))
        reads.assemble("scim", lambda got: parse_scim(got["Users"], got["ServicePrincipals"], got["Groups"], where))
    if needs.secret_scopes or needs.secret_acls:
        reads.also(lambda: _scopes_then_acls(w, call, reads, needs, where))
    reads.flush()
    return reads.data, reads.errors


def _scopes_then_acls(w: Any, call: Callable[[Callable[[], Any]], Any], reads: FamilyReads, needs: FamilyNeeds,
                      where: str) -> None:
    """The scope list, then (directly, not a wave behind the other families) the ACLs of its scopes."""
    reads.read_now("secret_scopes", lambda: parse_secret_scopes(
        call(lambda: w.api_client.do("GET", SECRET_SCOPES_PATH, headers={"Accept": "application/json"})), where))
    if needs.secret_acls:
        scopes = reads.data.get("secret_scopes")
        acls = "secret_acls"
        if scopes is None:
            reads.errors[acls] = "not read: the secret scope list could not be read"
        elif len(scopes) > MAX_SECRET_SCOPES:
            reads.errors[acls] = f"not read: more than {MAX_SECRET_SCOPES} secret scopes"
        else:
            reads.read_now(acls, functools.partial(_secret_acls, w, call, reads, scopes, where))


def _scim_pages(w: Any, call: Callable[[Callable[[], Any]], Any], reads: FamilyReads, resource: str,
                where: str) -> list[Any]:
    """Every SCIM `resource` (Users, ServicePrincipals, Groups), paged by `startIndex` as the SDK pages."""
    items: list[Any] = []
    start = 1
    for _ in range(MAX_SCIM_PAGES):
        reads.check_budget()
        page = call(functools.partial(
            w.api_client.do, "GET", SCIM_PATH.format(resource=resource),
            query={"startIndex": start, "count": SCIM_PAGE, "attributes": SCIM_ATTRIBUTES[resource]},
            headers={"Accept": "application/json"}))
        if not isinstance(page, dict):
            raise StateError(f"{where}: scim {resource}: expected a ListResponse object")
        got = page.get("Resources") or []
        if not isinstance(got, list):
            raise StateError(f"{where}: scim {resource}: Resources: expected a list")
        items += got
        total = page.get("totalResults")
        if not got or (isinstance(total, int) and len(items) >= total):
            return items
        start += len(got)
    raise TimeoutError(f"more than {MAX_SCIM_PAGES} pages of SCIM {resource}")


def _secret_acls(w: Any, call: Callable[[Callable[[], Any]], Any], reads: FamilyReads, scopes: Any,
                 where: str) -> dict[str, Any]:
    """The ACLs of every secret scope, one call per scope (never a secret value), a few at once; the first
    failure in scope order is the family's error, as when they were read one after another."""
    def acls_of(sc: Any) -> Any:
        reads.check_budget()
        raw = call(functools.partial(w.api_client.do, "GET", SECRET_ACLS_PATH, query={"scope": sc.name},
                                     headers={"Accept": "application/json"}))
        return parse_secret_acls(raw, sc.name, where)

    if not scopes:
        return {}
    with ThreadPoolExecutor(max_workers=min(SECRET_ACL_CONCURRENCY, len(scopes))) as pool:
        return {sc.name: acl for sc, acl in zip(scopes, pool.map(acls_of, scopes), strict=True)}

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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.collect.parallel import run_all
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


_BUDGET_SPENT = object()
"""A part not read because the workspace's time budget was spent before it started."""


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
    """Read each needed family; returns (WorkspaceApiState field -> parsed value, family -> cause)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}

    pending: list[Callable[[], None]] = []

    def one(family: str, read: Callable[[], Any]) -> None:
        """Queue one family's read; the queued ones run concurrently at the next `flush()`."""
        pending.append(lambda: _read_one(family, read))

    def flush() -> None:
        todo = list(pending)
        pending.clear()
        run_all(todo)

    def _read_one(family: str, read: Callable[[], Any]) -> None:
        if time.monotonic() >= deadline:
            errors[family] = "not read: the workspace's time budget was spent"
            return
        try:
            data[family] = read()
        except StateError as exc:
            errors[family] = f"malformed answer: {exc}"
        except Exception as exc:  # 403/404/FEATURE_DISABLED/timeout: this family only
            errors[family] = describe(exc)

    def get(path: str) -> Any:
        return call(lambda: w.api_client.do("GET", path, headers={"Accept": "application/json"}))

    parts: dict[str, dict[str, tuple[bool, Any]]] = {}
    """family -> part -> (read, its value) or (not read, the exception or the budget marker)."""
    assemble: list[tuple[str, Callable[[dict[str, Any]], Any]]] = []
    """family -> how its parts' values (part -> value, in the order queued) become its value."""

    def part(family: str, key: str, read: Callable[[], Any]) -> None:
        """Queue one independent call of a family (run at the next `flush()` with everything else)."""
        slot = parts.setdefault(family, {})
        slot[key] = (False, _BUDGET_SPENT)

        def run() -> None:
            if time.monotonic() >= deadline:
                return
            try:
                slot[key] = (True, read())
            except Exception as exc:  # kept for the family: its first failing part is its error
                slot[key] = (False, exc)
        pending.append(run)

    def settle() -> None:
        """Each multi-part family: its value when every part was read, else the first failing part's error."""
        for family, build in assemble:
            got = parts.pop(family, {})
            failed = next((v for ok, v in got.values() if not ok), None)
            if failed is _BUDGET_SPENT:
                errors[family] = "not read: the workspace's time budget was spent"
            elif isinstance(failed, StateError):
                errors[family] = f"malformed answer: {failed}"
            elif isinstance(failed, Exception):
                errors[family] = describe(failed)
            else:
                try:
                    data[family] = build({k: v for k, (_, v) in got.items()})
                except StateError as exc:
                    errors[family] = f"malformed answer: {exc}"
        assemble.clear()

    if needs.token_permissions:
        one("token_permissions", lambda: parse_token_permissions(get(TOKEN_PERMISSIONS_PATH), where))
    if needs.settings_types:
        unknown = next((t for t in needs.settings_types if t not in SETTING_PAYLOADS), None)
        if unknown is not None:
            errors["workspace_settings"] = f"malformed answer: {where}: unknown settings type {unknown!r}"
        else:
            # One call per settings type, all at once (they do not depend on each other); the family is read
            # when every type is, else its error is the first failing type's, as when read in turn.
            for t in needs.settings_types:
                part("workspace_settings", t, functools.partial(
                    lambda t: parse_setting(t, get(SETTINGS_PATH.format(type=t)), where), t))
            assemble.append(("workspace_settings", lambda got: dict(got)))
    if needs.scim:
        def scim_pages(resource: str) -> list[Any]:
            items: list[Any] = []
            start = 1
            for _ in range(MAX_SCIM_PAGES):
                if time.monotonic() >= deadline:
                    raise TimeoutError("the workspace's time budget was spent")
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
        # The three resource types page independently: read at once, parsed together.
        for resource in ("Users", "ServicePrincipals", "Groups"):
            part("scim", resource, functools.partial(scim_pages, resource))
        assemble.append(("scim", lambda got: parse_scim(got["Users"], got["ServicePrincipals"], got["Groups"],
                                                        where)))
    if needs.secret_scopes or needs.secret_acls:
        one("secret_scopes", lambda: parse_secret_scopes(get(SECRET_SCOPES_PATH), where))
    flush()  # the families above are independent; the ACLs need the scope list
    settle()
    if needs.secret_acls:
        scopes = data.get("secret_scopes")
        acl_family = "secret_acls"
        if scopes is None:
            errors[acl_family] = "not read: the secret scope list could not be read"
        elif len(scopes) > MAX_SECRET_SCOPES:
            errors[acl_family] = f"not read: more than {MAX_SECRET_SCOPES} secret scopes"
        else:
            def acls() -> dict[str, Any]:
                out: dict[str, Any] = {}
                for sc in scopes:
                    if time.monotonic() >= deadline:
                        raise TimeoutError("the workspace's time budget was spent")
                    raw = call(functools.partial(w.api_client.do, "GET", SECRET_ACLS_PATH, query={"scope": sc.name},
                                                 headers={"Accept": "application/json"}))
                    out[sc.name] = parse_secret_acls(raw, sc.name, where)
                return out
            one(acl_family, acls)
    flush()
    return data, errors

"""DBX-IAM-001, 003, 004: workspace identities from SCIM (Users, ServicePrincipals, Groups); DBX-IAM-002:
Azure RBAC on the workspace (ARM role assignments and role definitions).

Effective group membership is resolved here, from the listed groups (no call per member): nested groups
are followed with a cycle guard and a depth limit; a member id that is neither a listed principal nor a
listed group is reported, never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from core.baseline.load import EffectiveBaseline
from core.baseline.model import FORBIDDEN_USERS_ENTITLEMENTS
from core.rules.registry import Violation, rule
from core.state.model import RbacState, RoleDefinitionState, ScimPrincipal, ScimState, WorkspaceState
from core.state.reads import Read, ReadPlan

MAX_GROUP_DEPTH = 10
SYSTEM_GROUPS = ("admins", "users")


def _scim(ws: WorkspaceState) -> ScimState:
    api = ws.workspace_api
    assert api is not None and api.scim is not None
    return api.scim


def effective_members(scim: ScimState, group_name: str) -> tuple[list[ScimPrincipal], list[str], bool]:
    """(principals, unresolved member ids, depth limit hit) of a group, nested groups resolved."""
    groups = {g.id: g for g in scim.groups}
    principals = {p.id: p for p in scim.principals}
    root = next((g for g in scim.groups if g.display_name == group_name), None)
    if root is None:
        return [], [], False
    found: dict[str, ScimPrincipal] = {}
    unresolved: list[str] = []
    seen = {root.id}
    frontier = [root]
    too_deep = False
    for depth in range(MAX_GROUP_DEPTH + 1):
        if not frontier:
            break
        if depth == MAX_GROUP_DEPTH:
            too_deep = True
            break
        nxt = []
        for g in frontier:
            for mid in g.members:
                if mid in principals:
                    found[mid] = principals[mid]
                elif mid in groups:
                    if mid not in seen:  # cycle guard
                        seen.add(mid)
                        nxt.append(groups[mid])
                else:
                    unresolved.append(mid)
        frontier = nxt
    return list(found.values()), unresolved, too_deep


@rule(id="DBX-IAM-001", inputs=ReadPlan.of(Read.SCIM), api_family="scim",
      remediation="Remove the principal from the workspace `admins` group (or from the nested group that "
                  "makes it an admin), or add it to iam.admins after review.",
      applies=lambda s: s.iam is not None and (s.iam.admins is not None or s.iam.max_admins is not None))
def admins_group(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads SCIM Groups (`displayName` admins, `members[].value`, nested groups followed up to 10 deep with
    a cycle guard), Users (`userName`) and ServicePrincipals (`applicationId`). One finding per unexpected
    and per missing principal, one for the count over `iam.max_admins`."""
    iam = b.settings.iam
    assert iam is not None
    members, unresolved, too_deep = effective_members(_scim(ws), "admins")
    names = {p.name.casefold(): p for p in members}
    if iam.admins is not None:
        want = {a.casefold(): a for a in iam.admins}
        for key, p in sorted(names.items()):
            if key not in want:
                yield Violation(f"{p.kind.replace('_', ' ')} {p.name} is an effective workspace admin but not in "
                                f"iam.admins.", expected=sorted(iam.admins), actual=p.name,
                                subject=f"unexpected:{p.name}")
        for key, name in sorted(want.items()):
            if key not in names:
                yield Violation(f"Baseline admin {name} is not an effective member of admins.", expected=name,
                                actual=None, subject=f"missing:{name}")
    if iam.max_admins is not None and len(members) > iam.max_admins:
        yield Violation(f"admins has {len(members)} effective members, more than {iam.max_admins}.",
                        expected=f"<= {iam.max_admins}", actual=len(members), subject="count")
    for mid in sorted(set(unresolved)):
        yield Violation(f"admins has a member id {mid} that is no listed user, service principal or group.",
                        expected="resolvable", actual=mid, subject=f"unresolved:{mid}")
    if too_deep:
        yield Violation(f"admins nests groups deeper than {MAX_GROUP_DEPTH}; deeper members were not resolved.",
                        expected=f"<= {MAX_GROUP_DEPTH} levels", actual="deeper", subject="depth")


@rule(id="DBX-IAM-003", inputs=ReadPlan.of(Read.SCIM), api_family="scim",
      remediation="Provision the identity through SCIM from Microsoft Entra ID (or automatic identity "
                  "management) and remove the workspace-local one, or list a break-glass account in "
                  "iam.local_allowlist.",
      applies=lambda s: s.iam is not None and bool(s.iam.require_idp))
def identities_from_idp(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads SCIM Users (`userName`, `externalId`, `active`) and Groups (`displayName`, `externalId`): every
    active user and every group except `admins`/`users` has an externalId, unless in `iam.local_allowlist`.
    Service principals are not judged (they are often workspace-created)."""
    iam = b.settings.iam
    assert iam is not None
    allow = {a.casefold() for a in iam.local_allowlist}
    scim = _scim(ws)
    for p in scim.principals:
        if p.kind == "user" and p.active is not False and not p.external_id and p.name.casefold() not in allow:
            yield Violation(f"User {p.name} has no externalId (not provisioned from the IdP).",
                            expected="externalId", actual=None, subject=f"user:{p.name}")
    for g in scim.groups:
        if g.display_name in SYSTEM_GROUPS or g.external_id or g.display_name.casefold() in allow:
            continue
        yield Violation(f"Group {g.display_name} has no externalId (a workspace-local group).",
                        expected="externalId", actual=None, subject=f"group:{g.display_name}")


@rule(id="DBX-IAM-004", inputs=ReadPlan.of(Read.SCIM), api_family="scim",
      remediation="PATCH /api/2.0/preview/scim/v2/Groups/{users id} removing the entitlement; grant cluster "
                  "creation to a smaller group through cluster policies instead.",
      applies=lambda s: s.iam is not None and s.iam.users_entitlements is not None)
def users_entitlements(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads SCIM Groups `users` `entitlements[].value` (workspace-access, databricks-sql-access,
    allow-cluster-create, allow-instance-pool-create, ...): never the two create entitlements; the others
    equal `iam.users_entitlements`."""
    iam = b.settings.iam
    assert iam is not None and iam.users_entitlements is not None
    users = next((g for g in _scim(ws).groups if g.display_name == "users"), None)
    if users is None:
        yield Violation("The users group was not found in SCIM Groups.", expected="users group", actual=None,
                        subject="users")
        return
    have, want = set(users.entitlements), set(iam.users_entitlements)
    for e in sorted(have - want):
        why = "may never be granted to every user" if e in FORBIDDEN_USERS_ENTITLEMENTS else "is not in the baseline"
        yield Violation(f"The users group has entitlement {e}, which {why}.", expected=sorted(want), actual=e,
                        subject=f"unexpected:{e}")
    for e in sorted(want - have):
        yield Violation(f"The users group lacks entitlement {e}.", expected=e, actual=None, subject=f"missing:{e}")


OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR_ROLE = "b24988ac-6180-42a0-ab88-20f7382dd24c"
"""Built-in role GUIDs (Microsoft Learn "Azure built-in roles"; the same GUID at every scope)."""
ADMIN_ROLE_NAMES = {OWNER_ROLE: "Owner", CONTRIBUTOR_ROLE: "Contributor"}
WORKSPACE_WRITE_ACTIONS = ("Microsoft.Databricks/workspaces/write",)
"""The control-plane action a custom role must allow (after its notActions) to count as a workspace admin
path. Which exact action the portal launch checks is not published; write on the workspace is what
Owner and Contributor share with any role that can change it."""


@lru_cache(maxsize=1024)
def _action_pattern(pattern: str) -> re.Pattern[str]:
    # Azure RBAC wildcards: `*` matches any run of characters (including `/`), case-insensitively;
    # nothing else is special.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.IGNORECASE)


def action_allowed(defn: RoleDefinitionState, action: str) -> bool:
    """Whether a role definition allows a control-plane action: some permission block's `actions` match it
    and none of *that block's* `notActions` do (notActions subtract only within their block)."""
    for perm in defn.permissions:
        if any(_action_pattern(a).fullmatch(action) for a in perm.actions) and not any(
                _action_pattern(n).fullmatch(action) for n in perm.not_actions):
            return True
    return False


def _role_key(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _scope_label(scope: str) -> str:
    low = scope.rstrip("/").lower()
    if low in ("", "/"):
        return "the tenant root"
    if "/providers/microsoft.management/managementgroups/" in low:
        return f"management group {scope.rstrip('/').rsplit('/', 1)[-1]}"
    parts = low.strip("/").split("/")
    if len(parts) == 2:
        return f"subscription {scope.strip('/').split('/')[1]}"
    if len(parts) == 4:
        return f"resource group {scope.strip('/').split('/')[3]}"
    return "the workspace"


def _rbac(ws: WorkspaceState) -> RbacState:
    assert ws.rbac is not None
    return ws.rbac


@rule(id="DBX-IAM-002", inputs=ReadPlan.of(Read.RBAC),
      remediation="Remove the role assignment (or narrow it to a role without Microsoft.Databricks/workspaces/"
                  "write), or add the principal's object id to iam.azure_admins after review: Owner, "
                  "Contributor and such roles make a principal a workspace admin when it opens the workspace "
                  "from the Azure portal.",
      applies=lambda s: s.iam is not None and s.iam.azure_admins is not None)
def azure_rbac_admins(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads ARM `{workspaceId}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()` (every
    assignment at the workspace, its resource group, subscription, management groups and root; `principalId`,
    `principalType`, `roleDefinitionId`, `scope`) and the role definitions listed at the workspace scope
    (`.../providers/Microsoft.Authorization/roleDefinitions`: `permissions[].actions/notActions`, wildcards
    evaluated). Principals holding Owner,
    Contributor or a role allowing `Microsoft.Databricks/workspaces/write` must be in `iam.azure_admins`; one
    finding per other principal. An assignment whose role definition is not listed is a finding too
    (unknown is not compliant)."""
    iam = b.settings.iam
    assert iam is not None and iam.azure_admins is not None
    allowed = {a.lower() for a in iam.azure_admins}
    rbac = _rbac(ws)
    definitions = {d.name.lower(): d for d in rbac.definitions}
    grants: dict[str, list[tuple[str, str, str | None, str | None]]] = {}
    unresolved: dict[str, list[str]] = {}
    for a in rbac.assignments:
        pid = a.principal_id.lower()
        if pid in allowed:
            continue
        key = _role_key(a.role_definition_id)
        defn = definitions.get(key)
        if key in ADMIN_ROLE_NAMES:
            role = ADMIN_ROLE_NAMES[key]
        elif defn is None:
            unresolved.setdefault(key, []).append(a.principal_id)
            continue
        elif any(action_allowed(defn, act) for act in WORKSPACE_WRITE_ACTIONS):
            role = defn.role_name or defn.name
        else:
            continue
        grants.setdefault(pid, []).append((role, a.scope, a.principal_type, a.id))
    for pid, held in sorted(grants.items()):
        kind = next((t for _, _, t, _ in held if t), None) or "Principal"
        where = "; ".join(sorted({f"{role} at {_scope_label(scope)}" for role, scope, _, _ in held}))
        yield Violation(f"{kind} {pid} holds {where}, which makes it a workspace admin, but is not in "
                        f"iam.azure_admins.", expected=sorted(iam.azure_admins),
                        actual=sorted({role for role, _, _, _ in held}), subject=f"principal:{pid}",
                        related_resource_id=held[0][3])
    for key, principals in sorted(unresolved.items()):
        yield Violation(f"Role definition {key} (assigned to {', '.join(sorted(set(principals)))}) is not among the "
                        f"role definitions listed for the workspace; whether it grants admin access is unknown.",
                        expected="a listed role definition", actual=key, subject=f"role:{key}")

"""DBX-IAM-001, 003, 004: workspace identities from SCIM (Users, ServicePrincipals, Groups).

Effective group membership is resolved here, from the listed groups (no call per member): nested groups
are followed with a cycle guard and a depth limit; a member id that is neither a listed principal nor a
listed group is reported, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.baseline.model import FORBIDDEN_USERS_ENTITLEMENTS
from core.rules.registry import Violation, rule
from core.state.model import ScimPrincipal, ScimState, WorkspaceState

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


@rule(id="DBX-IAM-001", title="The admins group has exactly the baseline's members", severity="critical",
      needs="workspace_api", api_family="scim",
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


@rule(id="DBX-IAM-003", title="Users and groups come from the identity provider", severity="medium",
      needs="workspace_api", api_family="scim",
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


@rule(id="DBX-IAM-004", title="The users group has only the baseline's entitlements", severity="high",
      needs="workspace_api", api_family="scim",
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

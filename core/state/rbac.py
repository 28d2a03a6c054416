"""Azure RBAC documents (role assignments, role definitions) -> RbacState.

Shapes from azure-rest-api-specs `specification/authorization/resource-manager/Microsoft.Authorization/
stable/2022-04-01/authorization-RoleAssignmentsCalls.json` (`RoleAssignment`: `properties.roleDefinitionId`
and `properties.principalId` required, `scope`, `principalType`) and `authorization-RoleDefinitionsCalls.json`
(`RoleDefinition`: `properties.roleName`, `properties.permissions[].actions/notActions`), examples
`RoleAssignments_ListForScope.json` and `GetRoleDefinitionById.json`. A document without the required
fields is malformed (StateError), never silently skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from core.arm_ids import arm_fold
from core.state.model import RbacState, RoleAssignmentState, RoleDefinitionState, RolePermission
from core.state.parse import StateError

_ASSIGNMENTS = re.compile(r"/providers/microsoft\.authorization/roleassignments/", re.IGNORECASE)
ROLE_ASSIGNMENT_TYPE = "microsoft.authorization/roleassignments"
ROLE_DEFINITION_TYPE = "microsoft.authorization/roledefinitions"


def _text(value: Any, where: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise StateError(f"{where}: expected a non-empty string")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StateError(f"{where}: expected a list of strings")
    return tuple(value)


def scope_of_assignment(doc: Mapping[str, Any]) -> str | None:
    """`properties.scope`, or the part of the id before `/providers/Microsoft.Authorization/roleAssignments/`."""
    props = doc.get("properties")
    scope = props.get("scope") if isinstance(props, Mapping) else None
    if isinstance(scope, str) and scope.strip():
        return scope
    rid = doc.get("id")
    found = _ASSIGNMENTS.search(rid) if isinstance(rid, str) else None  # on the original string: lower() may
    return (str(rid)[: found.start()] or "/") if found else None       # change its length


_DEFINITIONS = re.compile(r"/providers/microsoft\.authorization/roledefinitions/", re.IGNORECASE)


def scope_of_definition(resource_id: str) -> str:
    """The scope a role definition id lives at (`/subscriptions/{id}` for built-ins listed there; `/` at the root)."""
    found = _DEFINITIONS.search(resource_id)
    return (resource_id[: found.start()] or "/") if found else resource_id


def parse_role_assignment(doc: Any, where: str) -> RoleAssignmentState:
    if not isinstance(doc, Mapping):
        raise StateError(f"{where}: expected an object")
    props = doc.get("properties")
    if not isinstance(props, Mapping):
        raise StateError(f"{where}: properties: expected an object")
    scope = scope_of_assignment(doc)
    if scope is None:
        raise StateError(f"{where}: properties.scope: missing (and the id does not name it)")
    return RoleAssignmentState(
        id=doc.get("id") if isinstance(doc.get("id"), str) else None, scope=scope,
        role_definition_id=str(_text(props.get("roleDefinitionId"), f"{where}: properties.roleDefinitionId")),
        principal_id=str(_text(props.get("principalId"), f"{where}: properties.principalId")),
        principal_type=_text(props.get("principalType"), f"{where}: properties.principalType", required=False))


def parse_role_definition(doc: Any, where: str) -> RoleDefinitionState:
    if not isinstance(doc, Mapping):
        raise StateError(f"{where}: expected an object")
    rid = str(_text(doc.get("id"), f"{where}: id"))
    props = doc.get("properties")
    if not isinstance(props, Mapping):
        raise StateError(f"{where}: properties: expected an object")
    perms_raw = props.get("permissions")
    if perms_raw is not None and not isinstance(perms_raw, list):
        raise StateError(f"{where}: properties.permissions: expected a list")
    perms = []
    for i, p in enumerate(perms_raw or ()):
        if not isinstance(p, Mapping):
            raise StateError(f"{where}: properties.permissions[{i}]: expected an object")
        perms.append(RolePermission(actions=_strings(p.get("actions"), f"{where}: properties.permissions[{i}].actions"),
                                    not_actions=_strings(p.get("notActions"),
                                                         f"{where}: properties.permissions[{i}].notActions")))
    raw_name = doc.get("name")
    name = raw_name if isinstance(raw_name, str) and raw_name else rid.rstrip("/").rsplit("/", 1)[-1]
    return RoleDefinitionState(id=rid, name=str(name), role_name=_text(props.get("roleName"),
                                                                         f"{where}: properties.roleName",
                                                                         required=False),
                               permissions=tuple(perms))


def parse_rbac(assignments: Iterable[Any], definitions: Iterable[Any], where: str) -> RbacState:
    return RbacState(
        assignments=tuple(parse_role_assignment(a, f"{where}: roleAssignments[{i}]")
                          for i, a in enumerate(assignments)),
        definitions=tuple(parse_role_definition(d, f"{where}: roleDefinitions[{i}]")
                          for i, d in enumerate(definitions)))


def is_at_or_above(scope: str, resource_id: str) -> bool:
    """Whether `scope` is `resource_id` itself or one of its parents (case-insensitive, whole segments).

    `/` (the tenant root) and management-group scopes are above every resource: ARM returns assignments
    there for `$filter=atScope()` too, so they are kept when listed.
    """
    s = arm_fold(scope).rstrip("/")
    r = arm_fold(resource_id).rstrip("/")
    if s == "" or s.startswith("/providers/microsoft.management/managementgroups/"):
        return True
    return r == s or r.startswith(s + "/")

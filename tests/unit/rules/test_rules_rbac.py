"""DBX-IAM-002 (Azure RBAC on the workspace): violating, compliant, not checked, unreadable; RBAC wildcards;
role-assignment event routing. Documents in the shapes of azure-rest-api-specs Microsoft.Authorization
stable/2022-04-01 examples RoleAssignments_ListForScope.json and GetRoleDefinitionById.json (samples/factory.py)."""

from __future__ import annotations

from typing import Any

import pytest

from core.rules import evaluate_workspace
from core.rules.iam import action_allowed
from core.state.model import CollectionError, RoleDefinitionState, RolePermission
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, states

SUB = f"/subscriptions/{f.SUB_PROD}"
RG = f.rg_id(f.SUB_PROD, "rg-a")
WS = f"{RG}/providers/Microsoft.Databricks/workspaces/dbw-a"
IAM = {"azure_admins": [f.PLATFORM_GROUP_OID.upper()]}


def _estate(*assignments: dict[str, Any]) -> dict[str, Any]:
    def add(estate: dict[str, Any]) -> None:
        estate["resources"] += [*f.role_definitions(f.SUB_PROD),
                                f.role_assignment(SUB, "b0000000-0000-4000-8000-000000000001", f.OWNER_ROLE,
                                                  f.PLATFORM_GROUP_OID, "Group"),
                                f.role_assignment(SUB, "b0000000-0000-4000-8000-000000000002", f.READER_ROLE,
                                                  f.AUDITOR_OID),
                                *assignments]
    return compliant_estate(add)


def _iam002(estate: dict[str, Any], iam: dict[str, Any] | None = None) -> list[tuple[str, str | None]]:
    (ws,) = states(estate)
    ev = evaluate_workspace(ws, baseline(iam=IAM if iam is None else iam), now=NOW)
    return sorted((fd.rule_id, fd.subject) for fd in ev.findings if fd.rule_id == "DBX-IAM-002")


def _ra(scope: str, n: int, role: str, who: str, kind: str = "User") -> dict[str, Any]:
    return f.role_assignment(scope, f"c0000000-0000-4000-8000-00000000000{n}", role, who, kind)


def test_only_allowed_owner_and_a_reader_pass() -> None:
    assert _iam002(_estate()) == []


def test_contributor_above_and_custom_write_role_on_the_workspace_fire() -> None:
    other_ws = f"{RG}/providers/Microsoft.Databricks/workspaces/dbw-other"
    got = _iam002(_estate(
        _ra(RG, 1, f.CONTRIBUTOR_ROLE, f.CONTRACTOR_OID),
        _ra(WS, 2, f.DBX_OPERATOR_ROLE, f.ETL_SP_OID, "ServicePrincipal"),
        _ra(WS, 3, f.DBX_VIEWER_ROLE, f.AUDITOR_OID),  # write is in its notActions: no admin path
        _ra(other_ws, 4, f.OWNER_ROLE, "d0000000-0000-4000-8000-000000000009"),  # below the RG, not above dbw-a
    ))
    assert got == [("DBX-IAM-002", f"principal:{f.CONTRACTOR_OID}"), ("DBX-IAM-002", f"principal:{f.ETL_SP_OID}")]


def test_owner_is_admin_even_without_its_definition_and_unknown_roles_are_findings() -> None:
    estate = _estate(_ra(SUB, 1, "e0000000-0000-4000-8000-00000000000e", f.CONTRACTOR_OID),
                     _ra(RG, 2, f.OWNER_ROLE, f.ETL_SP_OID, "ServicePrincipal"))
    estate["resources"] = [r for r in estate["resources"] if not r["id"].endswith(f.OWNER_ROLE)]
    assert _iam002(estate) == [("DBX-IAM-002", f"principal:{f.ETL_SP_OID}"),
                               ("DBX-IAM-002", "role:e0000000-0000-4000-8000-00000000000e")]


def test_not_checked_without_azure_admins_and_unreadable_is_eval_001() -> None:
    from core.rules import rbac_rules_on

    estate = _estate(_ra(RG, 1, f.CONTRIBUTOR_ROLE, f.CONTRACTOR_OID))
    assert _iam002(estate, {}) == []
    assert not rbac_rules_on(baseline().effective_for(_identity(estate)))
    (ws,) = states(estate)
    broken = ws.model_copy(update={"rbac": None, "errors": (CollectionError(
        stage="rbac", message="HTTP 403 AuthorizationFailed", related_resource_id=WS),)})
    ev = evaluate_workspace(broken, baseline(iam=IAM), now=NOW)
    assert "DBX-IAM-002" not in ev.evaluated_rules
    assert [(fd.rule_id, fd.subject) for fd in ev.findings if fd.rule_id.startswith("DBX-EVAL")] == [
        ("DBX-EVAL-001", "role_assignments")]


def _identity(estate: dict[str, Any]) -> Any:
    from core.rules import identity_of
    (ws,) = states(estate)
    return identity_of(ws)


@pytest.mark.parametrize(("actions", "not_actions", "allowed"), [
    (["*"], [], True),
    (["*/write"], [], True),
    (["microsoft.databricks/WORKSPACES/*"], [], True),
    (["Microsoft.Databricks/*/read"], [], False),
    (["*"], ["Microsoft.Databricks/*"], False),
    (["*"], ["*/write"], False),
    (["Microsoft.Databricks/workspaces/write?"], [], False),  # `?` is not a wildcard in Azure RBAC
])
def test_rbac_wildcards(actions: list[str], not_actions: list[str], allowed: bool) -> None:
    role = RoleDefinitionState(id="x", name="x", permissions=(RolePermission(actions=tuple(actions),
                                                                             not_actions=tuple(not_actions)),))
    assert action_allowed(role, "Microsoft.Databricks/workspaces/write") is allowed


def test_not_actions_subtract_only_within_their_block() -> None:
    role = RoleDefinitionState(id="x", name="x", permissions=(
        RolePermission(actions=("*",), not_actions=("Microsoft.Databricks/*",)),
        RolePermission(actions=("Microsoft.Databricks/workspaces/*",)),
    ))
    assert action_allowed(role, "Microsoft.Databricks/workspaces/write")


def test_baseline_names_a_bad_object_id() -> None:
    from core.errors import InputError
    with pytest.raises(InputError, match="not-a-guid"):
        baseline(iam={"azure_admins": ["not-a-guid"]})


def test_malformed_role_assignment_names_the_field_and_blocks_only_iam_002() -> None:
    bad = _ra(RG, 1, f.CONTRIBUTOR_ROLE, f.CONTRACTOR_OID)
    del bad["properties"]["principalId"]
    (ws,) = states(_estate(bad))
    ev = evaluate_workspace(ws, baseline(iam=IAM), now=NOW)
    (eval_001,) = [fd for fd in ev.findings if fd.rule_id == "DBX-EVAL-001"]
    assert eval_001.subject == "role_assignments" and "principalId" in eval_001.message and bad["id"] in eval_001.message
    assert "DBX-IAM-002" not in ev.evaluated_rules and "DBX-WS-001" in ev.evaluated_rules


def test_role_assignment_events_route_to_the_workspaces_at_and_below_the_scope() -> None:
    from core.events.route import route_delivery
    from core.events.topology import Topology

    topo = Topology.from_states(states(_estate()))

    def route(rid: str, delete: bool = False) -> tuple[str, list[str]]:
        op = "delete" if delete else "write"
        event = {"id": "e", "eventType": "Microsoft.Resources.ResourceDeleteSuccess" if delete else
                 "Microsoft.Resources.ResourceWriteSuccess", "subject": rid, "eventTime": "2026-11-18T00:00:00Z",
                 "dataVersion": "2", "data": {"resourceUri": rid, "status": "Succeeded",
                                              "operationName": f"Microsoft.Authorization/roleAssignments/{op}"}}
        (d,) = route_delivery([event], topo)
        return d.action, d.workspaces

    tail = "/providers/Microsoft.Authorization/roleAssignments/0f0f0f0f-0000-4000-8000-000000000000"
    assert route(WS + tail) == ("scan", [WS])
    assert route(RG.upper() + tail, delete=True) == ("scan", [WS])
    assert route(SUB + tail) == ("scan", [WS])
    assert route(f.rg_id(f.SUB_PROD, "rg-b") + tail)[0] == "ignore"
    assert route(f"{RG}/providers/Microsoft.Storage/storageAccounts/st{tail}")[0] == "ignore"

"""DBX-IAM-001/003/004: violating, compliant, not checked; nested groups with cycles and the depth limit."""

from __future__ import annotations

from typing import Any

from core.rules import evaluate_workspace
from core.rules.iam import MAX_GROUP_DEPTH, effective_members
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, states

IAM = {"admins": ["ALICE@contoso.com", f.ADMIN_SP_APP_ID], "max_admins": 2, "require_idp": True,
       "local_allowlist": ["breakglass@contoso.com"], "users_entitlements": ["workspace-access",
                                                                          "databricks-sql-access"]}


def _eval(api: dict[str, Any], iam: dict[str, Any] | None = None) -> list[tuple[str, str | None]]:
    (ws,) = states(compliant_estate(api=api))
    ev = evaluate_workspace(ws, baseline(iam=IAM if iam is None else iam), now=NOW)
    return sorted((fd.rule_id, fd.subject) for fd in ev.findings if fd.rule_id.startswith("DBX-IAM"))


def _groups(api: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["displayName"]: g for g in api["scim"]["Groups"]}


def test_compliant_identities_pass() -> None:
    assert _eval(f.api_state()) == []


def test_nested_admin_missing_admin_count_and_cycle() -> None:
    api = f.api_state()
    g = _groups(api)
    g["platform-admins"]["members"] = [{"value": "1003"}, {"value": "3001"}]  # dana via nesting; loop back
    got = _eval(api, {**IAM, "max_admins": 1})
    assert got == [("DBX-IAM-001", "count"), ("DBX-IAM-001", f"missing:{f.ADMIN_SP_APP_ID}"),
                   ("DBX-IAM-001", "unexpected:dana@contoso.com")]


def test_unresolved_member_and_depth_limit() -> None:
    api = f.api_state()
    chain = [{"id": f"g{i}", "displayName": f"chain-{i}", "externalId": f"x{i}",
              "members": [{"value": f"g{i + 1}"}]} for i in range(MAX_GROUP_DEPTH + 2)]
    api["scim"]["Groups"] += chain
    _groups(api)["admins"]["members"].append({"value": "g0"})
    _groups(api)["admins"]["members"].append({"value": "nobody"})
    got = _eval(api, {"admins": IAM["admins"]})
    assert ("DBX-IAM-001", "depth") in got and ("DBX-IAM-001", "unresolved:nobody") in got


def test_effective_members_follow_nesting() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert ws.workspace_api is not None and ws.workspace_api.scim is not None
    members, unresolved, deep = effective_members(ws.workspace_api.scim, "admins")
    assert sorted(p.name for p in members) == sorted(["alice@contoso.com", f.ADMIN_SP_APP_ID])
    assert unresolved == [] and not deep


def test_local_identities_and_allowlist() -> None:
    api = f.api_state()
    api["scim"]["Users"].append({"id": "1099", "userName": "local@contoso.com", "active": True})
    api["scim"]["Users"].append({"id": "1098", "userName": "gone@contoso.com", "active": False})
    api["scim"]["Groups"].append({"id": "3099", "displayName": "adhoc"})
    got = _eval(api)
    assert got == [("DBX-IAM-003", "group:adhoc"), ("DBX-IAM-003", "user:local@contoso.com")]


def test_users_entitlements() -> None:
    api = f.api_state()
    ents = _groups(api)["users"]["entitlements"]
    ents[:] = [{"value": "workspace-access"}, {"value": "allow-instance-pool-create"}]
    assert _eval(api) == [("DBX-IAM-004", "missing:databricks-sql-access"),
                          ("DBX-IAM-004", "unexpected:allow-instance-pool-create")]


def test_iam_off_reads_and_reports_nothing() -> None:
    from core.collect.collector import api_needs
    from core.rules import identity_of, read_plan
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert _eval(f.api_state(), {}) == []
    assert api_needs(read_plan(baseline().effective_for(identity_of(ws)))).families.scim is False
    assert api_needs(read_plan(baseline(iam=IAM).effective_for(identity_of(ws)))).families.scim is True


def test_baseline_rejects_cluster_create_for_users() -> None:
    import pytest

    from core.errors import InputError
    with pytest.raises(InputError, match="allow-cluster-create"):
        baseline(iam={"users_entitlements": ["allow-cluster-create"]})


def test_emulator_scim_pages_like_databricks() -> None:
    from emulator.workspace_families import scim_list
    scim = {"Users": [{"id": str(i), "userName": f"u{i}@x", "externalId": "e"} for i in range(5)]}
    page = scim_list(scim, "Users", {"startIndex": "3", "count": "2", "attributes": "userName"})
    assert page["totalResults"] == 5 and page["startIndex"] == 3 and page["itemsPerPage"] == 2
    assert page["Resources"] == [{"id": "2", "userName": "u2@x"}, {"id": "3", "userName": "u3@x"}]

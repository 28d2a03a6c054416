"""Token permissions and settings-v2 families end to end: databricks-sdk 0.162.0 (`ApiClient.do`) against the
estate emulator, with per-endpoint faults. Shapes: databricks-sdk-py `service/settings.py`
(`TokenManagementAPI.get_permissions`, `RestrictWorkspaceAdminsAPI.get` and siblings)."""

from __future__ import annotations

from typing import Any

from core.baseline import Baseline, parse_baseline
from core.scan import run_scan
from emulator.server import EmulatorServer
from samples import factory as f
from tests.support.collect import fast_config
from tests.support.request_order import workspace_api_depths

BI = "dbw-bi-prod"


def _scan(emulator: EmulatorServer, b: Baseline) -> Any:
    return run_scan(fast_config(emulator), b, subscriptions=[f.SUB_PROD, f.SUB_DEV])


def _of(out: Any, name: str, prefix: str) -> list[tuple[str, str | None]]:
    return sorted((fd.rule_id, fd.subject) for fd in out.result.findings
                  if fd.workspace_name == name and fd.rule_id.startswith(prefix))


def test_live_token_acl_and_settings_findings(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    out = _scan(emulator, example_baseline)
    assert _of(out, BI, "DBX-TOKEN-003") == [("DBX-TOKEN-003", "group:users"),
                                             ("DBX-TOKEN-003", "user:analyst@contoso.com")]
    assert _of(out, BI, "DBX-SET") == [("DBX-SET-001", None), ("DBX-SET-003", None)]
    assert ("DBX-TOKEN-004", "stale:feedc0ffee000003") in _of(out, BI, "DBX-TOKEN-004")
    assert _of(out, "dev-sandbox", "DBX-TOKEN") == [("DBX-TOKEN-005", None)]
    assert _of(out, "dbw-analytics-prod", "DBX-") == []
    counts = emulator.request_counts()["by_endpoint"]
    assert counts.get("GET ws:token-permissions") and counts.get("GET ws:settings")


def test_403_on_token_permissions_is_one_family_not_the_workspace(emulator: EmulatorServer,
                                                                  example_baseline: Baseline) -> None:
    emulator.set_faults([{"match": "/permissions/authorization/tokens", "action": "403"},
                         {"match": "/settings/types/sql_results_download", "action": "404"}])
    out = _scan(emulator, example_baseline)
    bi = _of(out, BI, "DBX-")
    assert ("DBX-EVAL-002", "token_permissions") in bi and ("DBX-EVAL-002", "workspace_settings") in bi
    assert ("DBX-EVAL-002", None) not in bi
    assert not any(r in ("DBX-TOKEN-003", "DBX-SET-001", "DBX-SET-003") for r, _ in bi)
    assert ("DBX-IPACL-003", "0.0.0.0/0") in bi and ("DBX-TOKEN-002", "feedc0ffee000001") in bi


def test_no_family_call_when_its_rules_are_off(emulator: EmulatorServer) -> None:
    b = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {"tokens": {"max_lifetime_days": 90}}})
    emulator.reset_requests()
    _scan(emulator, b)
    counts = emulator.request_counts()["by_endpoint"]
    assert "GET ws:token-permissions" not in counts and "GET ws:settings" not in counts
    assert "GET arm:roleAssignments.list" not in counts and "GET arm:roleDefinitions.list" not in counts
    assert counts.get("GET ws:tokens")


def test_live_secret_scopes_and_acl_fault(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    out = _scan(emulator, example_baseline)
    assert ("DBX-SEC-001", "backend:bi-legacy") in _of(out, BI, "DBX-SEC-001")
    assert ("DBX-SEC-003", "kv-bi:users") in _of(out, BI, "DBX-SEC-003")
    assert _of(out, "dbw-finance-prod", "DBX-SEC") == []
    emulator.set_faults([{"match": "/secrets/acls/list", "action": "403"}])
    out = _scan(emulator, example_baseline)
    bi = _of(out, BI, "DBX-")
    assert ("DBX-EVAL-002", "secret_acls") in bi and not any(r == "DBX-SEC-003" for r, _ in bi)
    assert ("DBX-SEC-001", "backend:bi-legacy") in bi
    recent = emulator.request_counts()["recent"]
    assert not any("/secrets/get" in str(r) or "/secrets/list" in str(r) for r in recent)


def test_live_scim_pages_and_nested_admins(emulator: EmulatorServer, example_baseline: Baseline,
                                           monkeypatch: Any) -> None:
    from core.collect import workspace_families
    monkeypatch.setattr(workspace_families, "SCIM_PAGE", 2)  # the sample's 4-5 groups take several pages
    emulator.reset_requests()
    out = _scan(emulator, example_baseline)
    scim_rules = ("DBX-IAM-001", "DBX-IAM-003", "DBX-IAM-004")  # DBX-IAM-002 reads ARM, not SCIM
    assert [x for x in _of(out, BI, "DBX-IAM") if x[0] in scim_rules] == [
                                       ("DBX-IAM-001", "unexpected:bob@contoso.com"),
                                       ("DBX-IAM-003", "group:bi-local"), ("DBX-IAM-003", "user:bob@contoso.com"),
                                       ("DBX-IAM-004", "unexpected:allow-cluster-create")]
    assert _of(out, "dbw-analytics-prod", "DBX-IAM") == []
    bi_host = "adb-0000000000001005.5.azuredatabricks.net"
    pages = [r for r in emulator.request_counts()["recent"] if r["path"].endswith(f"{bi_host}/api/2.0/preview/scim/v2/Groups")]
    assert len(pages) == 3  # 5 groups, 2 per page: startIndex 1, 3, 5
    emulator.set_faults([{"match": "/preview/scim/v2/Groups", "action": "403"}])
    out = _scan(emulator, example_baseline)
    bi = _of(out, BI, "DBX-")
    assert ("DBX-EVAL-002", "scim") in bi and not any(r in scim_rules for r, _ in bi)
    assert ("DBX-IAM-002", f"principal:{f.CONTRACTOR_OID}") in bi  # another family, still evaluated
    assert ("DBX-SET-001", None) in bi


def test_live_azure_rbac_paged_and_403_is_one_family(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    """DBX-IAM-002 through the azure-mgmt pipeline against the emulator's ARM RoleAssignments_ListForScope
    (`$filter=atScope()`, 2022-04-01) and RoleDefinitions_List, paged by nextLink (page_size=3); a 403 on
    role assignments leaves only DBX-IAM-002 unevaluated (DBX-EVAL-001 `role_assignments`)."""
    out = _scan(emulator, example_baseline)
    assert _of(out, BI, "DBX-IAM-002") == [("DBX-IAM-002", f"principal:{f.CONTRACTOR_OID}"),
                                           ("DBX-IAM-002", f"principal:{f.ETL_SP_OID}")]
    assert _of(out, "dbw-finance-prod", "DBX-IAM-002") == [] and _of(out, "dev-sandbox", "DBX-IAM-002") == []
    # dbw-bi-prod sees 4 assignments at or above it: two pages of 3, so more list calls than the 9 workspaces
    assert emulator.request_counts()["by_endpoint"]["GET arm:roleAssignments.list"] > 9
    emulator.set_faults([{"match": "/providers/Microsoft.Authorization/roleAssignments", "action": "403"}])
    out = _scan(emulator, example_baseline)
    bi = _of(out, BI, "DBX-")
    assert ("DBX-EVAL-001", "role_assignments") in bi and ("DBX-EVAL-001", None) not in bi
    assert not any(r == "DBX-IAM-002" for r, _ in bi) and ("DBX-IAM-001", "unexpected:bob@contoso.com") in bi


def test_secret_acls_follow_the_scope_list_directly_and_are_read_at_once(
        emulator: EmulatorServer, example_baseline: Baseline) -> None:
    """Event latency (issue 14 §5): dbw-bi-prod's four scopes' ACLs are read at once, right after the scope
    list (not a wave behind the other families, not one scope after another), so no workspace-API call is
    more than two deep (`workspace_api_depths`; one scope after another: five)."""
    bi = next(r for r in f.sample_estate()["resources"] if r.get("name") == BI)
    host = bi["properties"]["workspaceUrl"]
    emulator.set_faults(latency_ms=100)
    emulator.reset_requests()
    out = run_scan(fast_config(emulator), example_baseline, workspace_ids=[bi["id"]])
    emulator.clear_faults()
    depths = workspace_api_depths(emulator, host)
    acls = [d for path, d in depths if path == "/api/2.0/secrets/acls/list"]
    assert acls == [2, 2, 2, 2] and max(d for _, d in depths) == 2, depths
    (state,) = out.states
    assert state.workspace_api is not None and state.workspace_api.secret_acls is not None
    assert len(state.workspace_api.secret_acls) == 4

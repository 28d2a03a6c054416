"""DBX-SEC-001..003: violating, compliant, not checked, and the scope list / ACL families failing apart."""

from __future__ import annotations

from typing import Any

from core.rules import evaluate_workspace
from samples import factory as f
from tests.support.estates import NOW, baseline, compliant_estate, states

SECRETS = {"scopes": ["kv-*", "kv-pipelines"], "backend": "AZURE_KEYVAULT", "allowed_vaults": [f.VAULT_ID.upper()],
           "managers": ["Admins"]}


def _eval(api: dict[str, Any], secrets: dict[str, Any] | None = None) -> Any:
    (ws,) = states(compliant_estate(api=api))
    return evaluate_workspace(ws, baseline(secrets=SECRETS if secrets is None else secrets), now=NOW)


def _sec(ev: Any) -> list[tuple[str, str | None]]:
    return sorted((fd.rule_id, fd.subject) for fd in ev.findings if fd.rule_id.startswith("DBX-SEC"))


def test_compliant_scopes_pass() -> None:
    ev = _eval(f.api_state())
    assert _sec(ev) == [] and {"DBX-SEC-001", "DBX-SEC-002", "DBX-SEC-003"} <= ev.evaluated_rules


def test_inventory_backend_vault_dns_shared_and_acls() -> None:
    api = f.api_state()
    api["secret_scopes"] += [
        {"name": "legacy", "backend_type": "DATABRICKS"},
        {"name": "kv-b", "backend_type": "AZURE_KEYVAULT",
         "keyvault_metadata": {"resource_id": f.VAULT_ID, "dns_name": "https://other.vault.azure.net/"}},
    ]
    api["secret_acls"] = {"kv-pipelines": [{"principal": "users", "permission": "READ"},
                                           {"principal": "bob@contoso.com", "permission": "MANAGE"},
                                           {"principal": "admins", "permission": "MANAGE"}]}
    got = _sec(_eval(api))
    shared = f"shared:{f.VAULT_ID.lower()}"
    assert got == sorted([("DBX-SEC-001", "unexpected:legacy"), ("DBX-SEC-001", "backend:legacy"),
                          ("DBX-SEC-002", "dns:kv-b"), ("DBX-SEC-002", shared),
                          ("DBX-SEC-003", "kv-pipelines:users"), ("DBX-SEC-003", "kv-pipelines:bob@contoso.com")])


def test_missing_plain_scope_and_unapproved_vault() -> None:
    api = f.api_state()
    api["secret_scopes"][0]["keyvault_metadata"]["resource_id"] = f.VAULT_ID.replace("kv-dbx-prod", "kv-x")
    got = _sec(_eval(api, {**SECRETS, "scopes": ["kv-pipelines", "kv-audit"]}))
    assert got == [("DBX-SEC-001", "missing:kv-audit"), ("DBX-SEC-002", "vault:kv-pipelines")]


def test_secrets_not_in_baseline_are_not_checked() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    ev = evaluate_workspace(ws, baseline(), now=NOW)
    assert _sec(ev) == []


def test_acl_family_failure_keeps_scope_rules_evaluated() -> None:
    (ws,) = states(compliant_estate(api=f.api_state()))
    assert ws.workspace_api is not None
    api = ws.workspace_api.model_copy(update={"secret_acls": None, "family_errors": {"secret_acls": "timed out"}})
    ev = evaluate_workspace(ws.model_copy(update={"workspace_api": api}), baseline(secrets=SECRETS), now=NOW)
    assert [(fd.rule_id, fd.subject) for fd in ev.findings] == [("DBX-EVAL-002", "secret_acls")]
    assert "DBX-SEC-003" not in ev.evaluated_rules and {"DBX-SEC-001", "DBX-SEC-002"} <= ev.evaluated_rules

"""DBX-SEC-*: secret scopes (GET /api/2.0/secrets/scopes/list and /api/2.0/secrets/acls/list).

Names, backends, Key Vault metadata and ACLs only: no secret value is ever read, stored or reported.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterator
from urllib.parse import urlsplit

from core.arm_ids import parse_arm_id
from core.baseline.load import EffectiveBaseline
from core.rules.registry import Violation, rule
from core.state.model import SecretScopeState, WorkspaceState
from core.state.reads import Read, ReadPlan

_GLOB = set("*?[")


def _scopes(ws: WorkspaceState) -> tuple[SecretScopeState, ...]:
    api = ws.workspace_api
    assert api is not None and api.secret_scopes is not None
    return api.secret_scopes


@rule(id="DBX-SEC-001", inputs=ReadPlan.of(Read.SECRET_SCOPES), api_family="secret_scopes",
      remediation="Delete unexpected scopes (POST /api/2.0/secrets/scopes/delete) or add them to "
                  "secrets.scopes; recreate Databricks-backed scopes as Azure Key Vault-backed ones.",
      applies=lambda s: s.secrets is not None and (s.secrets.scopes is not None or s.secrets.backend is not None))
def secret_scope_inventory(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/secrets/scopes/list `scopes[].name` and `backend_type` (AZURE_KEYVAULT |
    DATABRICKS): each scope name must match `secrets.scopes` (exact names or globs, case-sensitive as
    Databricks scope names are), each plain name must exist, and each backend must be `secrets.backend`."""
    sec = b.settings.secrets
    assert sec is not None
    scopes = _scopes(ws)
    if sec.scopes is not None:
        plain = [p for p in sec.scopes if not (_GLOB & set(p))]
        for sc in scopes:
            if not any(fnmatch.fnmatchcase(sc.name, p) for p in sec.scopes):
                yield Violation(f"Secret scope {sc.name} is not in the baseline.", expected=sorted(sec.scopes),
                                actual=sc.name, subject=f"unexpected:{sc.name}")
        names = {sc.name for sc in scopes}
        for p in plain:
            if p not in names:
                yield Violation(f"Baseline secret scope {p} does not exist.", expected=p, actual=None,
                                subject=f"missing:{p}")
    if sec.backend is not None:
        for sc in scopes:
            if sc.backend_type != sec.backend:
                yield Violation(f"Secret scope {sc.name} is {sc.backend_type or 'of unknown backend'}, baseline "
                                f"requires {sec.backend}.", expected=sec.backend, actual=sc.backend_type,
                                subject=f"backend:{sc.name}")


def _vault_name(resource_id: str) -> str | None:
    parts = parse_arm_id(resource_id)
    if str(parts.get("namespace", "")).lower() != "microsoft.keyvault" or \
            str(parts.get("type", "")).lower() != "vaults":
        return None
    name = parts.get("name")
    return str(name).lower() if name else None


@rule(id="DBX-SEC-002", inputs=ReadPlan.of(Read.SECRET_SCOPES), api_family="secret_scopes",
      remediation="Recreate the scope on an approved vault (or add the vault to secrets.allowed_vaults); give "
                  "each scope its own vault, since any reader of one scope reaches every secret in the vault.",
      applies=lambda s: s.secrets is not None and s.secrets.allowed_vaults is not None)
def secret_scope_vaults(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `keyvault_metadata.resource_id` and `dns_name` of AZURE_KEYVAULT scopes: the resource id must be
    in `secrets.allowed_vaults` (case-insensitive), the DNS name's first label must be that vault's name, and
    a vault backing several scopes is a finding unless listed in `secrets.shared_vaults`."""
    sec = b.settings.secrets
    assert sec is not None and sec.allowed_vaults is not None
    allowed = {v.lower() for v in sec.allowed_vaults}
    shared_ok = {v.lower() for v in sec.shared_vaults}
    by_vault: dict[str, list[str]] = defaultdict(list)
    for sc in _scopes(ws):
        if sc.backend_type != "AZURE_KEYVAULT":
            continue
        rid = (sc.keyvault_resource_id or "").strip()
        if not rid or rid.lower() not in allowed:
            yield Violation(f"Secret scope {sc.name} points at a vault not in the baseline ({rid or 'none'}).",
                            expected=sorted(sec.allowed_vaults), actual=rid or None, subject=f"vault:{sc.name}",
                            related_resource_id=rid or None)
            continue
        by_vault[rid.lower()].append(sc.name)
        host = (urlsplit(sc.keyvault_dns_name or "").hostname or "").lower()
        if host.split(".", 1)[0] != (_vault_name(rid) or "\0"):
            yield Violation(f"Secret scope {sc.name}: dns_name {sc.keyvault_dns_name!r} is not the vault {rid}.",
                            expected=f"https://{_vault_name(rid)}.vault...", actual=sc.keyvault_dns_name,
                            subject=f"dns:{sc.name}", related_resource_id=rid)
    for rid, names in sorted(by_vault.items()):
        if len(names) > 1 and rid not in shared_ok:
            yield Violation(f"Vault {rid} backs {len(names)} secret scopes ({', '.join(sorted(names))}).",
                            expected="one scope per vault", actual=sorted(names), subject=f"shared:{rid}",
                            related_resource_id=rid)


@rule(id="DBX-SEC-003", inputs=ReadPlan.of(Read.SECRET_SCOPES, Read.SECRET_ACLS), api_family="secret_acls",
      remediation="POST /api/2.0/secrets/acls/delete {scope, principal} for the entry (workspace admin or "
                  "MANAGE on the scope).",
      applies=lambda s: s.secrets is not None and s.secrets.managers is not None)
def secret_scope_acls(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/secrets/acls/list?scope=<name> `items[].principal` and `permission` (READ | WRITE
    | MANAGE) of every scope: no entry for `users`; MANAGE only for `secrets.managers` (case-insensitive)."""
    sec = b.settings.secrets
    api = ws.workspace_api
    assert sec is not None and sec.managers is not None and api is not None and api.secret_acls is not None
    managers = {m.casefold() for m in sec.managers}
    for scope, items in sorted(api.secret_acls.items()):
        for acl in items:
            if acl.principal.casefold() == "users":
                yield Violation(f"Secret scope {scope}: the group users holds {acl.permission}.",
                                expected="no ACL for users", actual=acl.permission, subject=f"{scope}:users")
            elif (acl.permission or "").upper() == "MANAGE" and acl.principal.casefold() not in managers:
                yield Violation(f"Secret scope {scope}: {acl.principal} holds MANAGE but is not in "
                                f"secrets.managers.", expected=sorted(sec.managers), actual="MANAGE",
                                subject=f"{scope}:{acl.principal}")

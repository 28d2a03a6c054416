"""DBX-TOKEN-*: personal access token policy (workspace-conf and token management)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.rules.applicability import _labelled
from core.rules.data.workspace_conf_defaults import platform_default
from core.rules.registry import Violation, rule
from core.state.model import TokenInfo, WorkspaceState
from core.state.reads import Read, ReadPlan

DAY_MS = 86_400_000
TOKENS_CONF_KEY = "enableTokensConfig"
TOKENS_DISABLED_REASON = ("not applicable: personal access tokens are disabled in this workspace "
                          "(workspace-conf enableTokensConfig is \"false\")")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def tokens_enabled_value(ws: WorkspaceState) -> str | None:
    """`enableTokensConfig` as read ("true"/"false"), the platform default ("true") while unset or absent
    (as DBX-CONF-001 treats a key), None when the workspace API was not read or rejects the key."""
    api = ws.workspace_api
    if api is None or TOKENS_CONF_KEY in api.unsupported_conf_keys:
        return None
    raw = api.conf.get(TOKENS_CONF_KEY)
    value = raw if raw is not None else platform_default(TOKENS_CONF_KEY)
    return None if value is None else value.strip().lower()


@_labelled("enableTokensConfig \"false\" (tokens disabled)")
def tokens_disabled(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[tuple[str | None, str]]:
    """While PATs are disabled there are no usable tokens and no token ACL to judge (DBX-TOKEN-005 is the
    check that fires when they should be enabled)."""
    if tokens_enabled_value(ws) == "false":
        yield None, TOKENS_DISABLED_REASON


def _max_days(b: EffectiveBaseline) -> int | None:
    return b.settings.tokens.max_lifetime_days if b.settings.tokens else None


@rule(id="DBX-TOKEN-001", inputs=ReadPlan.of(conf_keys=("maxTokenLifetimeDays",)),
      remediation="PATCH /api/2.0/workspace-conf {\"maxTokenLifetimeDays\": \"<days>\"} with at most the "
                  "baseline's days.",
      applies=lambda s: s.tokens is not None and s.tokens.max_lifetime_days is not None)
def max_token_lifetime(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads workspace-conf `maxTokenLifetimeDays` (unset, empty or 0 means tokens may live forever)."""
    assert ws.workspace_api is not None
    want = _max_days(b)
    if "maxTokenLifetimeDays" in ws.workspace_api.unsupported_conf_keys:
        yield Violation("The workspace does not support the workspace-conf key maxTokenLifetimeDays, so the "
                        "token lifetime limit cannot be confirmed.", expected=want, actual="unsupported key")
        return
    raw = ws.workspace_api.conf.get("maxTokenLifetimeDays")
    try:
        days = int(str(raw).strip()) if raw not in (None, "") else None
    except ValueError:
        days = None
    if days is None or days <= 0 or (want is not None and days > want):
        yield Violation(f"maxTokenLifetimeDays is {raw!r}, baseline requires 1..{want}.",
                        expected=want, actual=raw)


@rule(id="DBX-TOKEN-002", inputs=ReadPlan.of(Read.TOKENS, conf_keys=(TOKENS_CONF_KEY,)),
      remediation="Revoke the token (DELETE /api/2.0/token-management/tokens/{token_id}) and issue one with "
                  "a lifetime within policy.",
      applies=lambda s: s.tokens is not None and s.tokens.max_lifetime_days is not None,
      inapplicable=tokens_disabled)
def token_lifetimes(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/token-management/tokens: `creation_time` and `expiry_time` (ms; -1 or 0 = never)
    of each token. Only token ids and owners are reported, never token values."""
    assert ws.workspace_api is not None
    want = _max_days(b)
    for tok in ws.workspace_api.tokens:
        owner = tok.created_by or tok.owner_id or "unknown owner"
        if tok.expiry_time is None or tok.expiry_time <= 0:
            yield Violation(f"Token {tok.token_id} ({owner}) never expires.", expected=f"<= {want} days",
                            actual="no expiry", subject=tok.token_id)
            continue
        if want is not None and (tok.creation_time is None or tok.creation_time <= 0):
            # Unknown is not compliant: a lifetime that cannot be computed is reported, never skipped.
            yield Violation(f"Token {tok.token_id} ({owner}) has no usable creation time; its lifetime is unknown.",
                            expected=f"<= {want} days", actual="unknown lifetime", subject=tok.token_id)
            continue
        if want is not None and tok.creation_time is not None:
            days = (tok.expiry_time - tok.creation_time) / DAY_MS
            if days > want + 1e-9:
                yield Violation(f"Token {tok.token_id} ({owner}) lives {days:.1f} days, more than {want}.",
                                expected=f"<= {want} days", actual=f"{days:.1f} days", subject=tok.token_id)


@rule(id="DBX-TOKEN-003", inputs=ReadPlan.of(Read.TOKEN_PERMISSIONS, conf_keys=(TOKENS_CONF_KEY,)),
      api_family="token_permissions",
      remediation="PUT /api/2.0/permissions/authorization/tokens with an access_control_list of only the "
                  "baseline's principals (never the `users` group); workspace admin.",
      applies=lambda s: s.tokens is not None and s.tokens.allowed_users is not None,
      inapplicable=tokens_disabled)
def token_permissions(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads the raw JSON of GET /api/2.0/permissions/authorization/tokens `access_control_list[]`
    (`user_name` | `group_name` | `service_principal_name`, `all_permissions[].permission_level`). The
    group `users` may never appear; any other principal with CAN_USE must be in `tokens.allowed_users`
    (case-insensitive). CAN_MANAGE (admins, cannot be revoked) is not judged here."""
    api = ws.workspace_api
    assert api is not None and api.token_permissions is not None and b.settings.tokens is not None
    allowed = {p.casefold() for p in b.settings.tokens.allowed_users or ()}
    for entry in api.token_permissions:
        if entry.principal_type == "group" and entry.principal.casefold() == "users":
            yield Violation("The group users (every workspace user) is in the token permissions "
                            f"({', '.join(entry.levels) or 'no level'}).", expected="no entry for users",
                            actual=list(entry.levels), subject=f"group:{entry.principal}")
            continue
        if "CAN_USE" in entry.levels and entry.principal.casefold() not in allowed:
            yield Violation(f"{entry.principal_type} {entry.principal} may use tokens (CAN_USE) but is not in "
                            f"tokens.allowed_users.", expected=sorted(b.settings.tokens.allowed_users or ()),
                            actual="CAN_USE", subject=f"{entry.principal_type}:{entry.principal}")


def _human_owned(tok: TokenInfo) -> bool | None:
    """Service principals' token owners are their applicationId (a UUID); a userName has an @."""
    name = tok.created_by
    if not name:
        return None
    if _UUID.match(name):
        return False
    return True if "@" in name else None


@rule(id="DBX-TOKEN-004", inputs=ReadPlan.of(Read.TOKENS, conf_keys=(TOKENS_CONF_KEY,)),
      remediation="Revoke the token (DELETE /api/2.0/token-management/tokens/{token_id}); give automation a "
                  "service principal with OAuth instead of a person's PAT.",
      applies=lambda s: s.tokens is not None and (s.tokens.stale_days is not None or
                                                  bool(s.tokens.service_principals_only)),
      inapplicable=tokens_disabled)
def stale_and_human_tokens(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/token-management/tokens (no extra call): `last_used_day` (ms; absent or 0 = never
    used, then `creation_time` is the age) against `tokens.stale_days` at the time of the read, and
    `created_by_username` (a service principal's is its applicationId) with `tokens.service_principals_only`.
    An owner that is neither is reported as unknown, not passed."""
    api = ws.workspace_api
    assert api is not None and b.settings.tokens is not None
    stale_days = b.settings.tokens.stale_days
    sp_only = bool(b.settings.tokens.service_principals_only)
    now = api.observed_at_ms
    for tok in api.tokens:
        owner = tok.created_by or tok.owner_id or "unknown owner"
        if stale_days is not None:
            used = tok.last_used_day if tok.last_used_day and tok.last_used_day > 0 else None
            since = used if used is not None else tok.creation_time
            if now is None or since is None or since <= 0:
                yield Violation(f"Token {tok.token_id} ({owner}): its last use cannot be determined.",
                                expected=f"used within {stale_days} days", actual=None,
                                subject=f"stale:{tok.token_id}")
            elif (now - since) / DAY_MS > stale_days:
                days = (now - since) / DAY_MS
                what = "last used" if used is not None else "never used, created"
                yield Violation(f"Token {tok.token_id} ({owner}) was {what} {days:.0f} days ago, more than "
                                f"{stale_days}.", expected=f"used within {stale_days} days",
                                actual=f"{days:.0f} days", subject=f"stale:{tok.token_id}")
        if sp_only:
            human = _human_owned(tok)
            if human is not False:
                yield Violation(f"Token {tok.token_id} is owned by {'a person' if human else 'an unknown owner'} "
                                f"({owner}); the baseline allows service principals only.",
                                expected="service principal owner",
                                actual=owner if human else f"unknown ({owner})", subject=f"owner:{tok.token_id}")


@rule(id="DBX-TOKEN-005", inputs=ReadPlan.of(conf_keys=(TOKENS_CONF_KEY,)),
      remediation="PATCH /api/2.0/workspace-conf {\"enableTokensConfig\": \"false\"} (or \"true\") as the "
                  "baseline says; partner integrations that need PATs must move to OAuth first.",
      applies=lambda s: s.tokens is not None and s.tokens.enabled is not None)
def tokens_enabled(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads workspace-conf `enableTokensConfig` ("true"/"false"; unset = platform default "true")."""
    assert b.settings.tokens is not None
    want = "true" if b.settings.tokens.enabled else "false"
    api = ws.workspace_api
    assert api is not None
    if TOKENS_CONF_KEY in api.unsupported_conf_keys:
        yield Violation("The workspace does not support the workspace-conf key enableTokensConfig.",
                        expected=want, actual="unsupported key")
        return
    got = tokens_enabled_value(ws)
    if got != want:
        raw = api.conf.get(TOKENS_CONF_KEY)
        shown = got if raw is not None else f"unset (default {got})"
        yield Violation(f"enableTokensConfig is {shown}, baseline requires {want!r}.", expected=want,
                        actual=shown)

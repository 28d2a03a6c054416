"""DBX-TOKEN-*: personal access token policy (workspace-conf and token management)."""

from __future__ import annotations

from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.rules.registry import Violation, rule
from core.state.model import WorkspaceState

DAY_MS = 86_400_000


def _max_days(b: EffectiveBaseline) -> int | None:
    return b.settings.tokens.max_lifetime_days if b.settings.tokens else None


@rule(id="DBX-TOKEN-001", title="Maximum token lifetime is set and within the baseline", severity="medium",
      needs="workspace_api",
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


@rule(id="DBX-TOKEN-002", title="No token without expiry or beyond the maximum lifetime", severity="high",
      needs="workspace_api",
      remediation="Revoke the token (DELETE /api/2.0/token-management/tokens/{token_id}) and issue one with "
                  "a lifetime within policy.",
      applies=lambda s: s.tokens is not None and s.tokens.max_lifetime_days is not None)
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

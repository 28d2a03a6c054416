"""DBX-CONF-*: workspace-conf keys (GET /api/2.0/workspace-conf)."""

from __future__ import annotations

from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.rules.registry import Violation, rule
from core.state.model import WorkspaceState

_BOOLISH = {"true", "false"}


def conf_equal(actual: str | None, want: str) -> bool:
    """workspace-conf values are strings; "true"/"false" compare case-insensitively."""
    if actual is None:
        return False
    a, w = actual.strip(), want.strip()
    if a.lower() in _BOOLISH and w.lower() in _BOOLISH:
        return a.lower() == w.lower()
    return a == w


@rule(id="DBX-CONF-001", title="Workspace-conf keys have the baseline values", severity="medium",
      needs="workspace_api",
      remediation="PATCH /api/2.0/workspace-conf with the expected value for the key (workspace admin).",
      applies=lambda s: bool(s.workspace_conf))
def workspace_conf_values(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/workspace-conf?keys=... for each key named in `workspace_conf`; one finding
    per key."""
    assert ws.workspace_api is not None
    for key, want in sorted((b.settings.workspace_conf or {}).items()):
        actual = ws.workspace_api.conf.get(key)
        if not conf_equal(actual, want):
            yield Violation(f"workspace-conf {key} is {actual!r}, baseline requires {want!r}.", expected=want,
                            actual=actual, subject=key)

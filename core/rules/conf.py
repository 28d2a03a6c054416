"""DBX-CONF-*: workspace-conf keys (GET /api/2.0/workspace-conf)."""

from __future__ import annotations

from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.baseline.model import Settings
from core.rules.data.workspace_conf_defaults import platform_default
from core.rules.registry import Violation, rule
from core.state.model import WorkspaceState
from core.state.reads import Read, ReadPlan

_BOOLISH = {"true", "false"}


def conf_equal(actual: str | None, want: str) -> bool:
    """workspace-conf values are strings; "true"/"false" compare case-insensitively."""
    if actual is None:
        return False
    a, w = actual.strip(), want.strip()
    if a.lower() in _BOOLISH and w.lower() in _BOOLISH:
        return a.lower() == w.lower()
    return a == w


def _baseline_conf_keys(s: Settings) -> ReadPlan:
    """The workspace-conf keys the baseline names (sorted: one stable query whatever the YAML order)."""
    return ReadPlan.of(conf_keys=sorted(s.workspace_conf or {}))


@rule(id="DBX-CONF-001", inputs=ReadPlan.of(Read.WORKSPACE_CONF), more_inputs=_baseline_conf_keys,
      remediation="PATCH /api/2.0/workspace-conf with the expected value for the key (workspace admin).",
      applies=lambda s: bool(s.workspace_conf))
def workspace_conf_values(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads GET /api/2.0/workspace-conf?keys=... for each key named in `workspace_conf`; one finding
    per key. An unset key (null) takes its platform default from core/rules/data/workspace_conf_defaults.py:
    compliant when that default is the expected value, a finding when it is not or is not known. Keys the
    workspace does not support are DBX-CONF-002's."""
    api = ws.workspace_api
    assert api is not None
    unsupported = set(api.unsupported_conf_keys)
    for key, want in sorted((b.settings.workspace_conf or {}).items()):
        if key in unsupported:
            continue
        actual = api.conf.get(key)
        if actual is None:
            default = platform_default(key)
            if default is not None and conf_equal(default, want):
                continue
            shown = f"unset (default {default})" if default is not None else None
            yield Violation(f"workspace-conf {key} is {shown or 'unset (platform default unknown)'}, baseline "
                            f"requires {want!r}.", expected=want, actual=shown, subject=key)
            continue
        if not conf_equal(actual, want):
            yield Violation(f"workspace-conf {key} is {actual!r}, baseline requires {want!r}.", expected=want,
                            actual=actual, subject=key)


@rule(id="DBX-CONF-002", inputs=ReadPlan.of(Read.WORKSPACE_CONF), more_inputs=_baseline_conf_keys,
      remediation="Check the key's spelling against the Databricks workspace-conf keys; remove a key the "
                  "platform has retired from `workspace_conf` (or scope it to the workspaces that support it).",
      applies=lambda s: bool(s.workspace_conf))
def workspace_conf_unsupported(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads the keys GET /api/2.0/workspace-conf rejected with "Invalid keys: [...]" (HTTP 400
    INVALID_PARAMETER_VALUE); the collector drops them and reads the rest, so one typo or retired key is
    one finding, not a blind workspace. One finding per baseline key."""
    api = ws.workspace_api
    assert api is not None
    unsupported = set(api.unsupported_conf_keys)
    for key, want in sorted((b.settings.workspace_conf or {}).items()):
        if key in unsupported:
            yield Violation(f"The workspace does not support the workspace-conf key {key!r} (Invalid keys), so "
                            f"the baseline value {want!r} cannot be checked.", expected=want,
                            actual="unsupported key", subject=key)

"""DBX-SET-*: workspace settings-v2 (`GET /api/2.0/settings/types/<type>/names/default`).

Shapes (databricks-sdk-py 0.162.0 `service/settings.py`, `*Setting.from_dict`): every answer is
`{"etag", "setting_name": "default", <payload key>: {...}}`; the payload key is the type name except for
`sql_results_download`, whose payload key is `boolean_val`. The collector keeps the raw payload value
(`status` for restrict_workspace_admins, `value` for the boolean ones), so an enum value the SDK does not
know is compared as read, not as None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from core.baseline.load import EffectiveBaseline
from core.baseline.model import Settings
from core.rules.registry import Violation, rule
from core.state.model import WorkspaceState
from core.state.reads import ReadPlan

FAMILY = "workspace_settings"


def _want(s: Settings, name: str) -> object:
    return None if s.settings is None else getattr(s.settings, name)


def _applies(name: str) -> Callable[[Settings], bool]:
    return lambda s: _want(s, name) is not None


def _compare(ws: WorkspaceState, b: EffectiveBaseline, name: str) -> Iterator[Violation]:
    api = ws.workspace_api
    assert api is not None and api.workspace_settings is not None
    want = _want(b.settings, name)
    if name not in api.workspace_settings:
        return  # the collector records every type it was asked for; absent = not asked (no judgement)
    got = api.workspace_settings[name]
    if got != want:
        shown = "no value in the answer" if got is None else got
        yield Violation(f"Setting {name} is {shown!r}, baseline requires {want!r}.", expected=want, actual=got)


@rule(id="DBX-SET-001", inputs=ReadPlan.of(settings_types=("restrict_workspace_admins",)), api_family=FAMILY,
      remediation="PATCH /api/2.0/settings/types/restrict_workspace_admins/names/default with "
                  "restrict_workspace_admins.status set to the baseline value (an account admin who is a "
                  "workspace member).",
      applies=_applies("restrict_workspace_admins"))
def restrict_workspace_admins(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads settings-v2 `restrict_workspace_admins.status` (ALLOW_ALL | RESTRICT_TOKENS_AND_JOB_RUN_AS;
    a workspace that never set it answers the default ALLOW_ALL)."""
    yield from _compare(ws, b, "restrict_workspace_admins")


@rule(id="DBX-SET-002", inputs=ReadPlan.of(settings_types=("disable_legacy_dbfs",)), api_family=FAMILY,
      remediation="PATCH /api/2.0/settings/types/disable_legacy_dbfs/names/default "
                  "{\"setting\": {\"disable_legacy_dbfs\": {\"value\": true}}, ...}; restart clusters.",
      applies=_applies("disable_legacy_dbfs"))
def disable_legacy_dbfs(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads settings-v2 `disable_legacy_dbfs.value` (bool)."""
    yield from _compare(ws, b, "disable_legacy_dbfs")


@rule(id="DBX-SET-003", inputs=ReadPlan.of(settings_types=("sql_results_download",)), api_family=FAMILY,
      remediation="PATCH /api/2.0/settings/types/sql_results_download/names/default "
                  "{\"setting\": {\"boolean_val\": {\"value\": false}}, ...}.",
      applies=_applies("sql_results_download"))
def sql_results_download(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads settings-v2 `sql_results_download`, payload key `boolean_val.value` (bool; default true)."""
    yield from _compare(ws, b, "sql_results_download")


@rule(id="DBX-SET-004", inputs=ReadPlan.of(settings_types=("disable_legacy_access",)), api_family=FAMILY,
      remediation="PATCH /api/2.0/settings/types/disable_legacy_access/names/default "
                  "{\"setting\": {\"disable_legacy_access\": {\"value\": true}}, ...}.",
      applies=_applies("disable_legacy_access"))
def disable_legacy_access(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads settings-v2 `disable_legacy_access.value` (bool: no direct Hive metastore access, no
    external-location fallback, no DBR below 13.3 LTS)."""
    yield from _compare(ws, b, "disable_legacy_access")

"""Known workspace-conf keys and the platform default that applies while a key is unset.

`GET /api/2.0/workspace-conf?keys=...` answers `null` for a key that was never set; the platform default
then applies (databricks-sdk-py `WorkspaceConfAPI.get_status` returns the plain map). An unset key whose
default equals the baseline's expected value is compliant (DBX-CONF-001 shows "unset (default X)");
a key whose default is not known here (`None`) stays a finding when unset: unknown is not compliant.

Sources, per entry (`source`):
- SAT = Databricks Security Analysis Tool (databricks-industry-solutions/security-analysis-tool),
  `tests/automated/checks/workspace_settings_v1.py` pass rules and `configs/security_best_practices.csv`
  (summarised in the project research notes, databricks-checks.md §3.10 and the SAT key table).
  Where SAT passes an unset key (INFO-8..11) the default is the passing value. Where SAT fails an unset key
  for a "must be X" rule (DP-5/6/7/8/9/13, GOV-15, NS-11, INFO-42), the unset platform state is
  not X, i.e. the other boolean.
- DOCS = Databricks / Microsoft Learn documentation, page named in the entry.
Values are the strings the API uses ("true" / "false").
"""

from __future__ import annotations

from typing import NamedTuple


class ConfKey(NamedTuple):
    default: str | None
    """The effective value while the key is unset; None = not documented here (unset stays a finding)."""
    source: str


WORKSPACE_CONF_KEYS: dict[str, ConfKey] = {
    "enableIpAccessLists": ConfKey("false", "SAT NS-11 fails unset (lists have no effect until enabled)"),
    "maxTokenLifetimeDays": ConfKey(None, "DBX-TOKEN-001 treats unset as no limit"),
    "enableTokensConfig": ConfKey("true", "DOCS learn.microsoft.com/azure/databricks/administration-guide/"
                                          "access-control/tokens: 'Personal access token authentication is "
                                          "enabled by default for all Azure Databricks workspaces that were "
                                          "created in 2018 or later'"),
    "enableResultsDownloading": ConfKey("true", "SAT DP-5 fails unset (downloads allowed by default)"),
    "enableExportNotebook": ConfKey("true", "SAT DP-6 fails unset (notebook export allowed by default)"),
    "enableNotebookTableClipboard": ConfKey("true", "SAT DP-7 fails unset (clipboard allowed by default)"),
    "storeInteractiveNotebookResultsInCustomerAccount": ConfKey("false", "SAT DP-8 fails unset"),
    "enableFileStoreEndpoint": ConfKey("true", "SAT DP-9 fails unset"),
    "enableDbfsFileBrowser": ConfKey("true", "SAT DP-13 fails unset"),
    "enableVerboseAuditLogs": ConfKey("false", "SAT GOV-15 fails unset (verbose audit logs are opt-in)"),
    "enableProjectsAllowList": ConfKey("false", "SAT INFO-42 fails unset"),
    "enableJobViewAcls": ConfKey("true", "SAT INFO-8 passes unset"),
    "enforceClusterViewAcls": ConfKey("true", "SAT INFO-9 passes unset"),
    "enforceWorkspaceViewAcls": ConfKey("true", "SAT INFO-10 passes unset"),
    "enableProjectTypeInWorkspace": ConfKey("true", "SAT INFO-11 passes unset"),
    # Collected by SAT (ws_settings_client.py) without a pass rule: known keys, default not documented here.
    "enforceUserIsolation": ConfKey(None, "SAT collects it; no pass rule"),
    "enableDcs": ConfKey(None, "SAT collects it; no pass rule"),
    "enableWebTerminal": ConfKey(None, "SAT collects it; no pass rule"),
    "enableUploadDataUis": ConfKey(None, "SAT collects it; no pass rule"),
    "enableNotebookGitVersioning": ConfKey(None, "SAT collects it; no pass rule"),
    "enableDeprecatedGlobalInitScripts": ConfKey(None, "SAT collects it; no pass rule"),
    "enableDeprecatedClusterNamedInitScripts": ConfKey(None, "SAT (removed GOV-26) collected it"),
    "enableLibraryAndInitScriptOnSharedCluster": ConfKey(None, "SAT collects it; no pass rule"),
    "enable-X-Frame-Options": ConfKey(None, "SAT collects it; no pass rule"),
    "enable-X-Content-Type-Options": ConfKey(None, "SAT collects it; no pass rule"),
    "enable-X-XSS-Protection": ConfKey(None, "SAT collects it; no pass rule"),
    "projectsAllowList": ConfKey(None, "SAT collects it; free text"),
    "mlflowModelServingEndpointCreationEnabled": ConfKey(None, "SAT collects it; no pass rule"),
}


def platform_default(key: str) -> str | None:
    entry = WORKSPACE_CONF_KEYS.get(key)
    return entry.default if entry is not None else None

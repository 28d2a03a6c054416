"""Named workspace-conf profiles a baseline can select with `workspace_conf_profile` (DBX-CONF-001).

`sat-hardening`: every workspace-conf key the Databricks Security Analysis Tool scores (configs/
security_best_practices.csv, DP-5..9, DP-13, GOV-15, INFO-8..11, INFO-42; research note
databricks-checks.md section 2.1) at its secure value, plus `enableTokensConfig`, `enableWebTerminal`,
`enableUploadDataUis` and `enableDcs` switched off. Two keys SAT scores are left to their own rules:
`enableIpAccessLists` (DBX-IPACL-001, which knows private-only workspaces) and `maxTokenLifetimeDays`
(DBX-TOKEN-001, a number). Keys the baseline's own `workspace_conf` names win over the profile. An unset
key is judged by its platform default (core/rules/data/workspace_conf_defaults.py, shown in docs/rules.md).
"""

from __future__ import annotations

WORKSPACE_CONF_PROFILES: dict[str, dict[str, tuple[str, str]]] = {
    "sat-hardening": {
        # key: (secure value, why)
        "enableResultsDownloading": ("false", "SAT DP-5: no download of notebook results"),
        "enableExportNotebook": ("false", "SAT DP-6: no notebook export"),
        "enableNotebookTableClipboard": ("false", "SAT DP-7: no copy of result tables to the clipboard"),
        "storeInteractiveNotebookResultsInCustomerAccount": ("true", "SAT DP-8: results stay in your storage"),
        "enableFileStoreEndpoint": ("false", "SAT DP-9: no public /FileStore endpoint"),
        "enableDbfsFileBrowser": ("false", "SAT DP-13: no DBFS file browser"),
        "enableVerboseAuditLogs": ("true", "SAT GOV-15: verbose audit logs"),
        "enableJobViewAcls": ("true", "SAT INFO-8: job visibility control"),
        "enforceClusterViewAcls": ("true", "SAT INFO-9: cluster visibility control"),
        "enforceWorkspaceViewAcls": ("true", "SAT INFO-10: workspace visibility control"),
        "enableProjectTypeInWorkspace": ("true", "SAT INFO-11: Repos as a workspace object type"),
        "enableProjectsAllowList": ("true", "SAT INFO-42: Git URL allow list for Repos"),
        "enableTokensConfig": ("false", "PATs off: Entra ID (OAuth) tokens instead; override with "
                                        "workspace_conf {enableTokensConfig: \"true\"} where partners need PATs"),
        "enableWebTerminal": ("false", "no shell on cluster drivers from the browser"),
        "enableUploadDataUis": ("false", "no ad-hoc file upload through the UI"),
        "enableDcs": ("false", "no custom container images (Databricks Container Services)"),
    },
}
"""Profile name -> workspace-conf key -> (expected value, reason)."""


def profile_conf(name: str) -> dict[str, str]:
    """The key -> expected value map of a profile (KeyError for an unknown name; the model validates names)."""
    return {key: value for key, (value, _) in WORKSPACE_CONF_PROFILES[name].items()}

"""The workspace-conf keys this emulated Databricks supports; any other key is rejected.

Databricks answers `GET /api/2.0/workspace-conf?keys=a,b,c` with HTTP 400
`{"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid keys: [\"b\"]"}` when any requested key is not
one it supports: nothing is returned for the valid keys either (databricks/terraform-provider-databricks
issue #1769, `cannot read workspace conf: Invalid keys: ["enableByocUi"]`; DatabricksPS docs: "If one of the
keys does not exist, it will throw an error"). databricks-sdk-py maps that status and code to
`databricks.sdk.errors.InvalidParameterValue`. A supported key that was never set reads as `null`.

The list: the keys the Databricks Security Analysis Tool reads (`ws_settings_client.py`) plus the security
keys documented for `databricks_workspace_conf` (Terraform provider docs) and on Microsoft Learn (IP access
lists, token management). Keys are case-sensitive, as on the wire. To emulate a retired key or a typo,
ask for a key that is not here.
"""

from __future__ import annotations

KNOWN_WORKSPACE_CONF_KEYS: frozenset[str] = frozenset({
    "enableIpAccessLists",
    "enableTokensConfig",
    "maxTokenLifetimeDays",
    "enableDbfsFileBrowser",
    "enableExportNotebook",
    "enableResultsDownloading",
    "enableNotebookTableClipboard",
    "enableUploadDataUis",
    "enableWebTerminal",
    "enableDcs",
    "enableFileStoreEndpoint",
    "enableVerboseAuditLogs",
    "enableDeprecatedGlobalInitScripts",
    "enableDeprecatedClusterNamedInitScripts",
    "enforceUserIsolation",
    "enableJobViewAcls",
    "enforceClusterViewAcls",
    "enforceWorkspaceViewAcls",
    "enableProjectTypeInWorkspace",
    "enableProjectsAllowList",
    "projectsAllowList",
    "storeInteractiveNotebookResultsInCustomerAccount",
    "enable-X-Frame-Options",
    "enable-X-Content-Type-Options",
    "enable-X-XSS-Protection",
    "enableLibraryAndInitScriptOnSharedCluster",
    "mlflowModelServingEndpointCreationEnabled",
    "enableNotebookGitVersioning",
    "enableDatabricksAutologgingAdminConf",
    "enableHlsRuntime",
    "enableGp3",
    "enableEnforceImdsV2",
    "enableJobsEmailsV2",
    "enableWorkspaceFilesystem",
    "jobsListBackendPaginationEnabled",
    "mlflowModelRegistryEmailNotificationsEnabled",
    "intercomAdminConsent",
    "heapAnalyticsAdminConsent",
})


def invalid_keys_message(keys: list[str]) -> str:
    """Databricks' message for rejected keys: a JSON list of the names, in request order."""
    import json

    return f"Invalid keys: {json.dumps(keys)}"

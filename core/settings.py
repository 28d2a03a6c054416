"""Every app setting driftwatch reads, in one place (ARCHITECTURE 4.7).

The Functions app, the CLI and the infra templates use these names; `tests/infra` checks that
the Bicep app settings name exactly the settings below that are meant to be deployed, and a
test checks that no module reads an environment variable that is not listed here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

STORAGE = "AzureWebJobsStorage"
"""Connection string (Azurite / dev) or, in Azure, the identity-based prefix below."""
STORAGE_ACCOUNT_NAME = "AzureWebJobsStorage__accountName"
STORAGE_CREDENTIAL = "AzureWebJobsStorage__credential"
STORAGE_CLIENT_ID = "AzureWebJobsStorage__clientId"
BASELINE = "DRIFTWATCH_BASELINE"
SUBSCRIPTIONS = "DRIFTWATCH_SUBSCRIPTIONS"
ARM_ENDPOINT = "DRIFTWATCH_ARM_ENDPOINT"
WORKSPACE_BASE_URL = "DRIFTWATCH_WORKSPACE_BASE_URL"
"""Template for the workspace API base URL; `{workspaceUrl}` is replaced by the workspace host."""
AUTH = "DRIFTWATCH_AUTH"
TEAMS_WEBHOOK_URL = "TEAMS_WEBHOOK_URL"
SWEEP_SCHEDULE = "DRIFTWATCH_SWEEP_SCHEDULE"
NOTIFY_MIN_SEVERITY = "DRIFTWATCH_NOTIFY_MIN_SEVERITY"
PUBLIC_API_URL = "DRIFTWATCH_PUBLIC_API_URL"
"""Base URL of the auditors' findings API as people open it (e.g. `https://func-x.azurewebsites.net/api`);
when set, Teams cards link each finding to `{url}/findings/{id}`."""
ROUTE_WEBHOOK_PREFIX = "TEAMS_WEBHOOK_URL_"
"""Extra webhooks named by the baseline's `notifications.routes[].webhook` are app settings
`TEAMS_WEBHOOK_URL_<NAME>` (one per channel; Key Vault references in Azure)."""
ROUTE_WEBHOOK_SETTING_RE = re.compile(r"^TEAMS_WEBHOOK_URL(?:_[A-Z0-9]+)+$")
MANAGED_IDENTITY_CLIENT_ID = "AZURE_CLIENT_ID"
"""Client id of the user-assigned managed identity (read by azure-identity itself)."""
AUDIT_EVENTHUB = "DRIFTWATCH_AUDIT_EVENTHUB"
"""Event Hub the workspaces' diagnostic settings stream audit records to (`on_workspace_audit`)."""
AUDIT_CONSUMER_GROUP = "DRIFTWATCH_AUDIT_CONSUMER_GROUP"
"""driftwatch's own consumer group on that hub."""
AUDIT_CONNECTION = "DRIFTWATCH_AUDIT_EVENTHUB_CONNECTION"
"""Prefix of the identity-based Event Hubs connection (read by the Functions host, not our code)."""
AUDIT_NAMESPACE = f"{AUDIT_CONNECTION}__fullyQualifiedNamespace"
AUDIT_CREDENTIAL = f"{AUDIT_CONNECTION}__credential"
AUDIT_CLIENT_ID = f"{AUDIT_CONNECTION}__clientId"
AUDITORS_GROUP_ID = "DRIFTWATCH_AUDITORS_GROUP_ID"
"""Object id of the Entra ID group of human auditors (Bicep `auditorsGroupObjectId`; empty = function keys
only). With App Service authentication on, the API routes take a signed-in member of this group instead of a
function key (core/api_access.py)."""

DEPLOYED_SETTINGS: tuple[str, ...] = (
    STORAGE_ACCOUNT_NAME,
    STORAGE_CREDENTIAL,
    STORAGE_CLIENT_ID,
    BASELINE,
    SUBSCRIPTIONS,
    ARM_ENDPOINT,
    WORKSPACE_BASE_URL,
    AUTH,
    TEAMS_WEBHOOK_URL,
    SWEEP_SCHEDULE,
    NOTIFY_MIN_SEVERITY,
    PUBLIC_API_URL,
    MANAGED_IDENTITY_CLIENT_ID,
    AUDIT_EVENTHUB,
    AUDIT_CONSUMER_GROUP,
    AUDIT_NAMESPACE,
    AUDIT_CREDENTIAL,
    AUDIT_CLIENT_ID,
    AUDITORS_GROUP_ID,
)
"""What the Bicep template must set on the Function App (identity-based storage and Event Hubs, no keys)."""

AZURE_HOST_INSTANCE = "WEBSITE_INSTANCE_ID"
"""Set by App Service / the Functions host on every instance in Azure (never by Core Tools locally; see
github.com/projectkudu/kudu/wiki/Azure-runtime-environment): emulator mode is refused when it is present."""

EASY_AUTH_ENABLED = "WEBSITE_AUTH_ENABLED"
"""Read-only, injected by App Service into the app when App Service authentication is on (`True`; Microsoft
Learn, App Service environment variables reference, "Authentication & authorization"). Never set it in app
settings: it is the platform's word that Easy Auth strips and sets the `X-MS-CLIENT-PRINCIPAL` headers."""

ALL_SETTINGS: tuple[str, ...] = (STORAGE, *DEPLOYED_SETTINGS, AZURE_HOST_INSTANCE, EASY_AUTH_ENABLED)

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_WORKSPACE_BASE_URL = "https://{workspaceUrl}"
DEFAULT_SWEEP_SCHEDULE = "0 0 */6 * * *"
DEFAULT_NOTIFY_MIN_SEVERITY = "high"


@dataclass(frozen=True)
class Settings:
    """The settings as one typed object, read once from the environment."""

    storage: str | None = field(repr=False)
    """A connection string may hold the AccountKey: never in a repr."""
    storage_account_name: str | None
    storage_client_id: str | None
    baseline: str | None
    subscriptions: tuple[str, ...]
    arm_endpoint: str
    workspace_base_url: str
    auth: str
    teams_webhook_url: str | None = field(repr=False)
    notify_min_severity: str
    public_api_url: str | None = None
    route_webhooks: Mapping[str, str] = field(default_factory=dict, repr=False)
    """`TEAMS_WEBHOOK_URL_<NAME>` settings present in the environment (secrets: never in a repr)."""
    running_in_azure: bool = False
    """The Functions host says this process runs in Azure (`WEBSITE_INSTANCE_ID`)."""
    auditors_group_id: str | None = None
    """`DRIFTWATCH_AUDITORS_GROUP_ID`, stripped; None = function keys only."""
    easy_auth_enabled: bool = False
    """App Service says its authentication module is on (`WEBSITE_AUTH_ENABLED` is `True`)."""

    @property
    def emulator_mode(self) -> bool:
        """Exactly `DRIFTWATCH_AUTH=emulator` (case-sensitive): `Emulator` or ` emulator` is refused, not guessed."""
        return self.auth == "emulator"

    def webhook_url(self, setting: str) -> str | None:
        """The URL held by `TEAMS_WEBHOOK_URL` or a `TEAMS_WEBHOOK_URL_<NAME>` route setting (None if unset)."""
        if setting == TEAMS_WEBHOOK_URL:
            return self.teams_webhook_url
        return self.route_webhooks.get(setting) or None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read the settings from `env` (default: the process environment)."""
    e = os.environ if env is None else env
    subs = tuple(s.strip() for s in (e.get(SUBSCRIPTIONS) or "").replace(";", ",").split(",") if s.strip())
    return Settings(
        storage=e.get(STORAGE) or None,
        storage_account_name=e.get(STORAGE_ACCOUNT_NAME) or None,
        storage_client_id=e.get(STORAGE_CLIENT_ID) or None,
        baseline=e.get(BASELINE) or None,
        subscriptions=subs,
        arm_endpoint=(e.get(ARM_ENDPOINT) or DEFAULT_ARM_ENDPOINT).rstrip("/"),
        workspace_base_url=e.get(WORKSPACE_BASE_URL) or DEFAULT_WORKSPACE_BASE_URL,
        auth=e.get(AUTH) or "azure",  # verbatim: CollectConfig refuses anything but `azure` / `emulator`
        teams_webhook_url=e.get(TEAMS_WEBHOOK_URL) or None,
        notify_min_severity=(e.get(NOTIFY_MIN_SEVERITY) or DEFAULT_NOTIFY_MIN_SEVERITY).strip().lower(),
        public_api_url=(e.get(PUBLIC_API_URL) or "").strip() or None,
        route_webhooks={k: v for k, v in e.items() if ROUTE_WEBHOOK_SETTING_RE.match(k) and v},
        running_in_azure=bool((e.get(AZURE_HOST_INSTANCE) or "").strip()),
        auditors_group_id=(e.get(AUDITORS_GROUP_ID) or "").strip() or None,
        easy_auth_enabled=(e.get(EASY_AUTH_ENABLED) or "").strip().casefold() == "true",
    )

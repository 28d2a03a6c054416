"""How collectors reach Azure: endpoints, auth mode, timeouts and concurrency, in one object."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from urllib.parse import urlparse

from core.errors import InputError
from core.settings import DEFAULT_ARM_ENDPOINT, DEFAULT_WORKSPACE_BASE_URL, Settings

DATABRICKS_API_VERSION = "2026-01-01"
NETWORK_API_VERSION = "2025-07-01"
DIAGNOSTICS_API_VERSION = "2021-05-01-preview"
"""Each must be a version its provider publishes (emulator/api_versions.json lists them with the spec
folders); ARM answers anything else with 400 NoRegisteredProviderFound, and so does the emulator."""
AZURE_DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
"""The Azure Databricks first-party application: Entra tokens for the workspace API use it."""


def is_loopback_host(host: str | None) -> bool:
    """`localhost` or a loopback IP literal (127.0.0.0/8, ::1); a name that merely resolves there is not."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ConfigError(InputError):
    """Settings that would be unsafe or cannot work (e.g. plain HTTP outside emulator mode)."""


class WorkspaceHostError(InputError):
    """A workspace host the managed identity's Databricks token must not be sent to."""


DATABRICKS_HOST_SUFFIXES: dict[str, tuple[str, ...]] = {
    # Per-workspace URLs are adb-<id>.<n>.<suffix>: learn.microsoft.com/azure/databricks/workspace/per-workspace-urls
    # (public), docs.azure.cn/databricks/workspace/per-workspace-urls (China); Azure Government uses
    # .databricks.azure.us (databricks-sdk-py databricks/sdk/environments.py, AZURE_USGOV).
    "https://management.azure.com": (".azuredatabricks.net",),
    "https://management.chinacloudapi.cn": (".databricks.azure.cn",),
    "https://management.usgovcloudapi.net": (".databricks.azure.us",),
}
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")


@dataclass(frozen=True)
class CollectConfig:
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    workspace_base_url: str = DEFAULT_WORKSPACE_BASE_URL
    emulator_mode: bool = False
    managed_identity_client_id: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0
    arm_retries: int = 3
    workspace_timeout_s: int = 30
    """Upper bound for all retries of one workspace-API call (databricks-sdk retries for 300 s by default)."""
    concurrency: int = 32
    per_subscription_concurrency: int = 16
    running_in_azure: bool = False

    def __post_init__(self) -> None:
        if self.emulator_mode and self.running_in_azure:
            raise ConfigError("DRIFTWATCH_AUTH: emulator mode is refused when running in Azure "
                              "(the Functions host sets WEBSITE_INSTANCE_ID); use DRIFTWATCH_AUTH=azure")
        for name, url in (("DRIFTWATCH_ARM_ENDPOINT", self.arm_endpoint),
                          ("DRIFTWATCH_WORKSPACE_BASE_URL", self.workspace_base_url.replace("{workspaceUrl}", "x"))):
            parsed = urlparse(url)
            scheme = parsed.scheme
            if scheme not in ("https", "http"):
                raise ConfigError(f"{name}: must be an https URL, got scheme {scheme!r}")
            if scheme == "http" and not self.emulator_mode:
                raise ConfigError(f"{name}: plain http is refused outside emulator mode (DRIFTWATCH_AUTH=emulator)")
            if scheme == "http" and not is_loopback_host(parsed.hostname):
                raise ConfigError(f"{name}: plain http is allowed only to a loopback host in emulator mode, "
                                  f"got host {str(parsed.hostname)[:100]!r}")
        if "{workspaceUrl}" not in self.workspace_base_url:
            raise ConfigError("DRIFTWATCH_WORKSPACE_BASE_URL: must contain the {workspaceUrl} placeholder")
        if not self.emulator_mode:
            if self.arm_endpoint not in DATABRICKS_HOST_SUFFIXES:
                raise ConfigError(f"DRIFTWATCH_ARM_ENDPOINT: not a known Azure cloud's Resource Manager endpoint "
                                  f"(known: {', '.join(DATABRICKS_HOST_SUFFIXES)})")
            # The token goes to the host ARM names, nowhere else: no proxy host, no path, no user-info.
            if self.workspace_base_url.rstrip("/") != "https://{workspaceUrl}":
                raise ConfigError("DRIFTWATCH_WORKSPACE_BASE_URL: outside emulator mode it must be "
                                  "https://{workspaceUrl} (the workspace's own Databricks host)")

    @property
    def databricks_host_suffixes(self) -> tuple[str, ...]:
        return DATABRICKS_HOST_SUFFIXES.get(self.arm_endpoint, DATABRICKS_HOST_SUFFIXES[DEFAULT_ARM_ENDPOINT])

    def checked_workspace_host(self, workspace_host: str) -> str:
        """`properties.workspaceUrl` as ARM gave it, if it is a plain DNS name under this cloud's Databricks
        suffix; anything else (`adb-1.azuredatabricks.net@127.0.0.1:80`, a port, a path, another domain)
        raises WorkspaceHostError, so the bearer token never leaves for another host."""
        host = workspace_host.strip().lower() if isinstance(workspace_host, str) else ""
        if not _DNS_NAME.match(host) or not host.endswith(self.databricks_host_suffixes):
            shown = repr(workspace_host[:100]) if isinstance(workspace_host, str) else type(workspace_host).__name__
            raise WorkspaceHostError(f"workspaceUrl {shown} is not a Databricks host "
                                     f"(expected a name under {', '.join(self.databricks_host_suffixes)})")
        return host

    def workspace_url(self, workspace_host: str) -> str:
        host = self.checked_workspace_host(workspace_host)
        return self.workspace_base_url.replace("{workspaceUrl}", host).rstrip("/")

    @classmethod
    def from_settings(cls, s: Settings) -> CollectConfig:
        if s.auth not in ("azure", "emulator"):  # exact, case-sensitive
            raise ConfigError(f"DRIFTWATCH_AUTH: expected 'azure' or 'emulator', got {s.auth!r}")
        import os

        return cls(arm_endpoint=s.arm_endpoint, workspace_base_url=s.workspace_base_url,
                   emulator_mode=s.emulator_mode, managed_identity_client_id=os.environ.get("AZURE_CLIENT_ID"),
                   running_in_azure=s.running_in_azure)

    @classmethod
    def for_emulator(cls, url: str, **overrides: object) -> CollectConfig:
        """Every client pointed at a running estate emulator, with its static token."""
        base = url.rstrip("/")
        return replace(cls(arm_endpoint=base, workspace_base_url=f"{base}/ws/{{workspaceUrl}}", emulator_mode=True),
                       **overrides)  # type: ignore[arg-type]

"""How collectors reach Azure: endpoints, auth mode, timeouts and concurrency, in one object."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlparse

from core.errors import InputError
from core.settings import DEFAULT_ARM_ENDPOINT, DEFAULT_WORKSPACE_BASE_URL, Settings

DATABRICKS_API_VERSION = "2026-01-01"
NETWORK_API_VERSION = "2025-07-01"
DIAGNOSTICS_API_VERSION = "2021-05-01-preview"
LOCKS_API_VERSION = "2020-05-01"
"""specification/resources/resource-manager/Microsoft.Authorization/locks/stable/2020-05-01/locks.json."""
"""Each must be a version its provider publishes (emulator/api_versions.json lists them with the spec
folders); ARM answers anything else with 400 NoRegisteredProviderFound, and so does the emulator."""
AZURE_DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
"""The Azure Databricks first-party application: Entra tokens for the workspace API use it."""


class ConfigError(InputError):
    """Settings that would be unsafe or cannot work (e.g. plain HTTP outside emulator mode)."""


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

    def __post_init__(self) -> None:
        for name, url in (("DRIFTWATCH_ARM_ENDPOINT", self.arm_endpoint),
                          ("DRIFTWATCH_WORKSPACE_BASE_URL", self.workspace_base_url.replace("{workspaceUrl}", "x"))):
            scheme = urlparse(url).scheme
            if scheme not in ("https", "http"):
                raise ConfigError(f"{name}: must be an https URL, got scheme {scheme!r}")
            if scheme == "http" and not self.emulator_mode:
                raise ConfigError(f"{name}: plain http is refused outside emulator mode (DRIFTWATCH_AUTH=emulator)")
        if "{workspaceUrl}" not in self.workspace_base_url:
            raise ConfigError("DRIFTWATCH_WORKSPACE_BASE_URL: must contain the {workspaceUrl} placeholder")

    def workspace_url(self, workspace_host: str) -> str:
        return self.workspace_base_url.replace("{workspaceUrl}", workspace_host).rstrip("/")

    @classmethod
    def from_settings(cls, s: Settings) -> CollectConfig:
        if s.auth not in ("azure", "emulator"):
            raise ConfigError(f"DRIFTWATCH_AUTH: expected 'azure' or 'emulator', got {s.auth!r}")
        import os

        return cls(arm_endpoint=s.arm_endpoint, workspace_base_url=s.workspace_base_url,
                   emulator_mode=s.emulator_mode, managed_identity_client_id=os.environ.get("AZURE_CLIENT_ID"))

    @classmethod
    def for_emulator(cls, url: str, **overrides: object) -> CollectConfig:
        """Every client pointed at a running estate emulator, with its static token."""
        base = url.rstrip("/")
        return replace(cls(arm_endpoint=base, workspace_base_url=f"{base}/ws/{{workspaceUrl}}", emulator_mode=True),
                       **overrides)  # type: ignore[arg-type]

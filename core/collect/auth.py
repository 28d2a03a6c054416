"""Credentials for ARM and the workspace API.

In Azure: azure-identity (managed identity in the Function App, DefaultAzureCredential elsewhere).
In emulator mode: a static token, and a policy that sends it over plain http, which azure-core's
bearer policy rightly refuses to do. Tokens are never logged or put in messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy

from core.collect.config import AZURE_DATABRICKS_SCOPE, CollectConfig

EMULATOR_TOKEN = "driftwatch-emulator"  # noqa: S105  (not a secret: the emulator accepts any token)


class StaticTokenCredential:
    """A TokenCredential for the emulator."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(EMULATOR_TOKEN, int(time.time()) + 3600)


class EmulatorBearerPolicy(SansIOHTTPPolicy):
    """Sets the emulator's bearer token; used only in emulator mode (plain http allowed there)."""

    def on_request(self, request: PipelineRequest) -> None:
        request.http_request.headers["Authorization"] = f"Bearer {EMULATOR_TOKEN}"


_credential_lock = threading.Lock()
_credentials: dict[str | None, Any] = {}


def azure_credential(client_id: str | None) -> Any:
    """One azure-identity credential per process (token caches are per credential object)."""
    with _credential_lock:
        cred = _credentials.get(client_id)
        if cred is None:
            from azure.identity import DefaultAzureCredential

            cred = (DefaultAzureCredential(managed_identity_client_id=client_id) if client_id
                    else DefaultAzureCredential())
            _credentials[client_id] = cred
        return cred


def arm_client_kwargs(config: CollectConfig) -> tuple[Any, dict[str, Any]]:
    """(credential, extra client kwargs) for azure-mgmt clients."""
    if config.emulator_mode:
        return StaticTokenCredential(), {"authentication_policy": EmulatorBearerPolicy()}
    return azure_credential(config.managed_identity_client_id), {}


CredentialsProvider = Callable[[], dict[str, str]]
"""databricks-sdk's `CredentialsProvider`: a callable returning the auth headers of one request."""


class EntraTokenStrategy:
    """databricks-sdk credentials from an Entra token for the Azure Databricks resource.

    The two strategies implement databricks-sdk's `CredentialsStrategy` protocol (`auth_type()` and
    `__call__(cfg)`, all `Config.init_auth` calls) without importing it: importing any databricks.sdk
    module here would load the SDK for scans that never call a workspace (core/collect/databricks_client.py).
    """

    def __init__(self, credential: Any) -> None:
        self._credential = credential

    def auth_type(self) -> str:
        return "driftwatch-entra"

    def __call__(self, cfg: Any) -> CredentialsProvider:
        def headers() -> dict[str, str]:
            token = self._credential.get_token(AZURE_DATABRICKS_SCOPE)
            return {"Authorization": f"Bearer {token.token}"}

        return headers


class StaticTokenStrategy:
    """databricks-sdk credentials for the emulator."""

    def auth_type(self) -> str:
        return "driftwatch-emulator"

    def __call__(self, cfg: Any) -> CredentialsProvider:
        return lambda: {"Authorization": f"Bearer {EMULATOR_TOKEN}"}


def databricks_strategy(config: CollectConfig) -> EntraTokenStrategy | StaticTokenStrategy:
    if config.emulator_mode:
        return StaticTokenStrategy()
    return EntraTokenStrategy(azure_credential(config.managed_identity_client_id))

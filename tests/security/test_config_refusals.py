"""Unsafe settings are refused before anything is sent: the webhook allow-list and plain HTTP."""

from __future__ import annotations

import pytest

from core.collect.config import CollectConfig, ConfigError
from core.notify.teams import TeamsNotifier, WebhookConfigError, validate_webhook_url
from core.settings import load_settings

SIG = "WeBhOoKsIg-0123456789abcdef"
QUERY = f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
GOOD = [
    f"https://prod-42.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke{QUERY}",
    f"https://default1234.56.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc/invoke{QUERY}",
    "https://contoso.webhook.office.com/webhookb2/abc/IncomingWebhook/def/ghi",
]
BAD = [
    f"http://prod-42.westeurope.logic.azure.com/workflows/abc/invoke{QUERY}",  # plain http
    f"https://evil.example.com/workflows/abc/invoke{QUERY}",  # not on the allow-list
    f"https://webhook.office.com.evil.com/x{QUERY}",  # suffix trick
    f"https://evil-webhook.office.com/x{QUERY}",  # no dot boundary
    f"https://logic.azure.com/x{QUERY}",  # the suffix itself is not a subdomain
    f"https://user:pw@prod-1.westeurope.logic.azure.com/x{QUERY}",  # user info
    f"https://prod-1.westeurope.logic.azure.com:8443/x{QUERY}",  # non-default port
    f"https://prod-1.westeurope.logic.azure.com\\@evil.com/x{QUERY}",  # parser confusion
    f"http://127.0.0.1:8600/teams/webhook{QUERY}",  # loopback http only in emulator mode
    f"ftp://prod-1.westeurope.logic.azure.com/x{QUERY}",
    "",
]


@pytest.mark.parametrize("url", GOOD)
def test_allowed_https_webhook_hosts_are_accepted(url: str) -> None:
    assert validate_webhook_url(url, emulator_mode=False) == url


@pytest.mark.parametrize("url", BAD)
def test_other_webhook_urls_are_refused_without_echoing_the_secret(url: str) -> None:
    with pytest.raises(WebhookConfigError) as info:
        TeamsNotifier(url, emulator_mode=False)
    text = str(info.value) + repr(info.value)
    assert SIG not in text and "sig=" not in text and "/workflows/" not in text
    assert info.value.__cause__ is None


def test_emulator_mode_allows_plain_http_to_loopback_only() -> None:
    assert validate_webhook_url(f"http://127.0.0.1:8600/teams/webhook{QUERY}", emulator_mode=True)
    assert validate_webhook_url(f"http://localhost:8600/teams/webhook{QUERY}", emulator_mode=True)
    with pytest.raises(WebhookConfigError):
        validate_webhook_url(f"http://10.0.0.5:8600/teams/webhook{QUERY}", emulator_mode=True)
    with pytest.raises(WebhookConfigError):
        validate_webhook_url(f"http://evil.example.com/teams/webhook{QUERY}", emulator_mode=True)


def test_the_notifier_shows_only_the_host() -> None:
    notifier = TeamsNotifier(GOOD[0])
    try:
        assert repr(notifier) == "TeamsNotifier(teams-webhook(prod-42.westeurope.logic.azure.com))"
        assert SIG not in repr(notifier) and SIG not in str(vars(notifier).get("label"))
    finally:
        notifier.close()


@pytest.mark.parametrize(("field", "setting"), [
    ("arm_endpoint", "DRIFTWATCH_ARM_ENDPOINT"),
    ("workspace_base_url", "DRIFTWATCH_WORKSPACE_BASE_URL"),
])
def test_plain_http_to_arm_or_databricks_is_refused_outside_emulator_mode(field: str, setting: str) -> None:
    value = "http://127.0.0.1:8600" if field == "arm_endpoint" else "http://{workspaceUrl}"
    with pytest.raises(ConfigError, match=setting):
        CollectConfig(**{field: value})  # type: ignore[arg-type]
    # emulator mode: plain http to loopback only (issue 10 §8; tests/security/test_modes.py)
    local = "http://127.0.0.1:8600" if field == "arm_endpoint" else "http://127.0.0.1:8600/ws/{workspaceUrl}"
    assert CollectConfig(**{field: local}, emulator_mode=True)  # type: ignore[arg-type]


def test_the_settings_path_refuses_plain_http_too() -> None:
    env = {"DRIFTWATCH_ARM_ENDPOINT": "http://management.azure.com", "DRIFTWATCH_AUTH": "azure"}
    with pytest.raises(ConfigError, match="DRIFTWATCH_ARM_ENDPOINT"):
        CollectConfig.from_settings(load_settings(env))
    env = {"DRIFTWATCH_WORKSPACE_BASE_URL": "http://{workspaceUrl}"}  # DRIFTWATCH_AUTH defaults to azure
    with pytest.raises(ConfigError, match="DRIFTWATCH_WORKSPACE_BASE_URL"):
        CollectConfig.from_settings(load_settings(env))
    with pytest.raises(ConfigError, match="DRIFTWATCH_AUTH"):
        CollectConfig.from_settings(load_settings({"DRIFTWATCH_AUTH": "none"}))


def test_the_emulator_token_is_used_only_in_emulator_mode() -> None:
    from core.collect.auth import (
        EntraTokenStrategy,
        StaticTokenCredential,
        StaticTokenStrategy,
        arm_client_kwargs,
        databricks_strategy,
    )

    real = CollectConfig()
    credential, extra = arm_client_kwargs(real)
    assert not isinstance(credential, StaticTokenCredential) and "authentication_policy" not in extra
    assert isinstance(databricks_strategy(real), EntraTokenStrategy)
    emu = CollectConfig.for_emulator("http://127.0.0.1:8600")
    assert isinstance(arm_client_kwargs(emu)[0], StaticTokenCredential)
    assert isinstance(databricks_strategy(emu), StaticTokenStrategy)

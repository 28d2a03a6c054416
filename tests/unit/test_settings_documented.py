"""Every app setting is documented and deployed; the notify settings appear in the local sample."""

from __future__ import annotations

import json
from pathlib import Path

from core import settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_in_the_deploy_guide() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for name in settings.DEPLOYED_SETTINGS:
        short = name.replace("AzureWebJobsStorage", "")  # documented as `AzureWebJobsStorage__accountName` / `__credential` ...
        assert f"`{name}`" in text or f"`{short}`" in text, f"docs/deploy.md does not document {name}"
    assert "`TEAMS_WEBHOOK_URL_<NAME>`" in text


def test_notify_settings_are_in_the_local_sample_and_operations_guide() -> None:
    values = json.loads((ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))["Values"]
    for name in (settings.TEAMS_WEBHOOK_URL, settings.NOTIFY_MIN_SEVERITY, settings.PUBLIC_API_URL):
        assert name in values
    assert any(settings.ROUTE_WEBHOOK_SETTING_RE.match(k) for k in values)
    ops = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for needle in ("notifications.routes", "TEAMS_WEBHOOK_URL_<NAME>", "DRIFTWATCH_PUBLIC_API_URL", "make cards"):
        assert needle in ops


def test_public_api_url_is_deployed() -> None:
    assert settings.PUBLIC_API_URL in settings.DEPLOYED_SETTINGS
    bicep = (ROOT / "infra" / "modules" / "functionapp.bicep").read_text(encoding="utf-8")
    assert "name: 'DRIFTWATCH_PUBLIC_API_URL'" in bicep

"""Issue 10 §8: emulator mode is one exact value, plain HTTP goes only to loopback, and never in Azure."""

from __future__ import annotations

import pytest

from core.collect.config import CollectConfig, ConfigError
from core.settings import load_settings

LOCAL = {"DRIFTWATCH_ARM_ENDPOINT": "http://127.0.0.1:9", "DRIFTWATCH_WORKSPACE_BASE_URL": "http://127.0.0.1:9/ws/{workspaceUrl}"}


def test_emulator_mode_is_exactly_the_lower_case_value() -> None:
    assert CollectConfig.from_settings(load_settings({**LOCAL, "DRIFTWATCH_AUTH": "emulator"})).emulator_mode
    for near_miss in ("Emulator", "EMULATOR", " emulator", "emulator ", "emulator\n"):
        with pytest.raises(ConfigError, match="DRIFTWATCH_AUTH"):
            CollectConfig.from_settings(load_settings({**LOCAL, "DRIFTWATCH_AUTH": near_miss}))


@pytest.mark.parametrize("url", ["http://arm.example", "http://10.0.0.4:8080", "http://127.0.0.1.nip.io",
                                 "http://localhost.attacker.example", "http://169.254.169.254"])
def test_emulator_mode_allows_plain_http_only_to_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        CollectConfig(arm_endpoint=url, emulator_mode=True)
    with pytest.raises(ConfigError, match="loopback"):
        CollectConfig(workspace_base_url=url + "/{workspaceUrl}", emulator_mode=True)
    for ok in ("http://127.0.0.1:7071", "http://localhost:1", "http://[::1]:8080"):
        assert CollectConfig(arm_endpoint=ok, emulator_mode=True).arm_endpoint == ok


def test_emulator_mode_is_refused_when_the_functions_host_says_azure() -> None:
    env = {**LOCAL, "DRIFTWATCH_AUTH": "emulator", "WEBSITE_INSTANCE_ID": "a1b2c3"}
    with pytest.raises(ConfigError, match="running in Azure"):
        CollectConfig.from_settings(load_settings(env))
    # azure mode in Azure is the normal case
    assert not CollectConfig.from_settings(load_settings({"WEBSITE_INSTANCE_ID": "a1b2c3"})).emulator_mode


def test_library_log_levels_are_set_in_code_not_only_in_host_json() -> None:
    """host.json filters host categories; Python records all arrive as `Function.<name>.User`, so a key
    named after a Python logger there filters nothing. Every such key must be enforced in code."""
    import json
    import logging
    from pathlib import Path

    import core  # noqa: F401  (installs the levels)
    from core.logsafe import LIBRARY_LOG_LEVELS

    levels = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text())["logging"]["logLevel"]
    python_keys = {k: v for k, v in levels.items() if k not in ("default", "Function") and not k.startswith("Host")}
    assert python_keys, "host.json names no Python logger (the check would be vacuous)"
    for name, level in python_keys.items():
        assert name in LIBRARY_LOG_LEVELS, name
        assert logging.getLogger(name).getEffectiveLevel() >= logging.getLevelName(level.upper().replace(
            "INFORMATION", "INFO")), name

"""Every environment variable the code reads is a documented setting (core/settings.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from core.settings import ALL_SETTINGS, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _read_names(path: Path) -> set[str]:
    """String literals passed to os.environ.get / os.getenv / os.environ[...] in one module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            target = ast.unparse(node.func)
            if target in ("os.environ.get", "os.getenv", "environ.get") and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ") \
                and isinstance(node.slice, ast.Constant):
            names.add(str(node.slice.value))
    return names


def test_code_reads_only_documented_settings() -> None:
    files = [*ROOT.joinpath("core").rglob("*.py"), *ROOT.joinpath("functions").rglob("*.py"),
             ROOT / "function_app.py"]
    read = set().union(*(_read_names(p) for p in files))
    assert read, "the scan found no setting reads at all (the scanner is broken)"
    assert read <= set(ALL_SETTINGS), sorted(read - set(ALL_SETTINGS))


def test_settings_parse_lists_and_defaults() -> None:
    s = load_settings({"DRIFTWATCH_SUBSCRIPTIONS": " a, b;c ,", "DRIFTWATCH_AUTH": "emulator"})
    assert s.subscriptions == ("a", "b", "c")
    assert s.emulator_mode and s.arm_endpoint == "https://management.azure.com"
    assert s.workspace_base_url == "https://{workspaceUrl}" and s.notify_min_severity == "high"


def test_bad_settings_are_refused_with_the_setting_named() -> None:
    import pytest

    from core.collect.config import ConfigError
    from core.service import Runtime

    with pytest.raises(ConfigError, match="DRIFTWATCH_NOTIFY_MIN_SEVERITY"):
        Runtime.from_settings(load_settings({"DRIFTWATCH_NOTIFY_MIN_SEVERITY": "loud"}))
    with pytest.raises(ConfigError, match="DRIFTWATCH_AUTH"):
        Runtime.from_settings(load_settings({"DRIFTWATCH_AUTH": "none"}))
    with pytest.raises(ConfigError, match="DRIFTWATCH_ARM_ENDPOINT"):
        Runtime.from_settings(load_settings({"DRIFTWATCH_ARM_ENDPOINT": "http://arm.example"}))


def test_local_settings_sample_starts_without_event_hubs() -> None:
    """`func start` must not need an Event Hub: on_workspace_audit is disabled there, with a comment."""
    import json
    from pathlib import Path

    from core import settings

    doc = json.loads((Path(__file__).resolve().parents[2] / "local.settings.sample.json").read_text())
    assert doc["Values"]["AzureWebJobs.on_workspace_audit.Disabled"] == "true"
    assert "Event Hubs emulator" in doc["Comments"]["AzureWebJobs.on_workspace_audit.Disabled"]
    # The trigger's %...% names resolve even while it is disabled.
    assert doc["Values"][settings.AUDIT_EVENTHUB] and doc["Values"][settings.AUDIT_CONSUMER_GROUP]


def test_the_settings_repr_holds_no_secret() -> None:
    """Issue 11 §6: `repr(Settings)` printed the storage AccountKey and the webhook `sig`."""
    key = "c2VjcmV0LWtleS1ub3QtZm9yLWxvZ3M="
    s = load_settings(
        {
            "AzureWebJobsStorage": f"DefaultEndpointsProtocol=https;AccountName=st;AccountKey={key}",
            "TEAMS_WEBHOOK_URL": "https://x.webhook.office.com/workflows/1?sig=topsecret",
            "TEAMS_WEBHOOK_URL_SECOPS": "https://x.webhook.office.com/workflows/2?sig=othersecret",
        }
    )
    text = repr(s) + str(s)
    assert key not in text and "topsecret" not in text and "othersecret" not in text
    assert s.storage is not None and key in s.storage  # still there for the code that needs it

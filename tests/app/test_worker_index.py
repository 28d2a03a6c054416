"""The Python worker's own indexer (azure-functions-runtime) accepts our app and refuses a broken one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.version_info < (3, 13), reason="azure-functions-runtime targets Python 3.13")


def index(app_dir: Path) -> tuple[int, dict]:
    out = subprocess.run([sys.executable, "-m", "samples.worker_index", str(app_dir)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    return out.returncode, json.loads(out.stdout.strip().splitlines()[-1])


def test_worker_indexes_every_function() -> None:
    code, doc = index(ROOT)
    assert code == 0, doc
    names = {f["name"] for f in doc["functions"]}
    assert {"on_resource_change", "scheduled_sweep", "scan_workspace", "notify_drift", "on_workspace_audit"} <= names
    audit = next(f for f in doc["functions"] if f["name"] == "on_workspace_audit")["bindings"][0]
    assert audit["type"] == "eventHubTrigger" and audit["cardinality"] == "MANY"
    assert audit["connection"] == "DRIFTWATCH_AUDIT_EVENTHUB_CONNECTION"
    assert audit["consumerGroup"] == "%DRIFTWATCH_AUDIT_CONSUMER_GROUP%"


def test_worker_refuses_a_binding_that_does_not_match_the_signature(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(textwrap.dedent('''
        import azure.functions as func
        app = func.FunctionApp()

        @app.function_name("broken")
        @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        def broken(message: func.QueueMessage) -> None:
            pass
    '''))
    code, doc = index(tmp_path)
    assert code == 1 and doc["function"] == "broken"

"""`--format ocsf`: OCSF Compliance Finding events built with py-ocsf-models, validated against the OCSF
1.5.0 JSON schema (the class schema packaged by `ocsf-json-schema`, read offline) and the package's models."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from core.cli import main
from core.findings.model import Finding
from core.ocsf import ocsf_events

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def compliance_finding_schema() -> dict[str, Any]:
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
    from py_ocsf_models import OCSF_VERSION

    return OcsfJsonSchemaEmbedded(get_ocsf_schema(OCSF_VERSION)).get_class_schema("compliance_finding")


def assert_valid_ocsf(events: list[dict[str, Any]]) -> None:
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    validator = jsonschema.Draft202012Validator(compliance_finding_schema())
    for ev in events:
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(ev)]
        assert not errors, errors
        ComplianceFinding.model_validate(ev)
        assert ev["class_uid"] == 2003 and ev["category_uid"] == 2 and ev["type_uid"] == 200300 + ev["activity_id"]


def test_evaluate_format_ocsf_is_valid_ocsf(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "--state", str(ROOT / "samples" / "estate.json"), "--baseline",
                 str(ROOT / "baseline.example.yaml"), "--format", "ocsf"])
    events = json.loads(capsys.readouterr().out)
    assert code in (0, 3) and len(events) > 5
    assert_valid_ocsf(events)
    pe = next(e for e in events if e["metadata"]["event_code"] == "DBX-WS-005")
    assert pe["compliance"]["requirements"] == ["CIS 2.1.11", "MCSB NS-2"]
    assert pe["compliance"]["status_id"] == 3 and pe["resources"][0]["type"] == "Microsoft.Databricks/workspaces"
    assert pe["finding_info"]["first_seen_time"] <= pe["finding_info"]["last_seen_time"]


@pytest.mark.parametrize(("status", "activity", "status_id", "compliance_status"),
                         [("open", 1, 1, 3), ("exempted", 2, 3, 3), ("resolved", 3, 4, 1)])
def test_status_mapping(status: str, activity: int, status_id: int, compliance_status: int) -> None:
    from tests.support.store import T0, make_finding, ws_id

    f: Finding = make_finding(ws_id("ws-o"), "DBX-TOKEN-002", "tok-1", status=status,
                              resolved_at=T0 if status == "resolved" else None)
    ev = ocsf_events([f])[0]
    assert_valid_ocsf([ev])
    assert (ev["activity_id"], ev["status_id"], ev["compliance"]["status_id"]) == (activity, status_id,
                                                                                     compliance_status)
    assert ev["severity_id"] == 4 and ev["finding_info"]["uid"] == f.id
    assert "CIS 2.1.6" in ev["compliance"]["requirements"]  # no MCSB control (mappings.yaml unmapped_for)

"""Realistic digests built from the sample factory and the example baseline (no hand-written findings).

`large_workspace()` is the 149-finding workspace of issue 15: a legacy workspace with ARM drift, IP
access lists off with 0.0.0.0/0 and many unexpected ALLOW CIDRs, workspace-conf drift and 25 tokens
that never expire. The findings come from the real rules evaluating a `driftwatch.estate/v1` snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.baseline import parse_baseline
from core.evaluate import evaluate_states
from core.findings.model import Finding
from core.state import parse_estate
from samples import factory as f

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LARGE_NAME = "dbw-legacy-ops"
LARGE_ID = f"{f.rg_id(f.SUB_PROD, 'rg-legacy')}/providers/Microsoft.Databricks/workspaces/{LARGE_NAME}"
UNEXPECTED_CIDRS = 102
NEVER_EXPIRING_TOKENS = 25


def large_workspace_estate(*, cidrs: int = UNEXPECTED_CIDRS, tokens: int = NEVER_EXPIRING_TOKENS) -> dict[str, Any]:
    ws = f.workspace_doc(f.SUB_PROD, "rg-legacy", LARGE_NAME, 1077, location="East US 2", sku="standard",
                         npip=None, public_access="Enabled", private_endpoint=None, cmk=False,
                         infra_encryption=False, esc=False, tags={"env": "prod", "team": "ops"})
    # Shuffled on purpose: the card must sort 100.64.2.0/24 before 100.64.10.0/24.
    allow = ["203.0.113.0/24", "0.0.0.0/0"] + [f"100.64.{(i * 37) % cidrs + 1}.0/24" for i in range(cidrs)]
    conf = dict(f.COMPLIANT_CONF, enableIpAccessLists="false", maxTokenLifetimeDays="365",
                enableDbfsFileBrowser="true", enableVerboseAuditLogs="false")
    toks = [f.token(f"0ddba11{i:09x}", None, f"svc-{i:02d}@contoso.com") for i in range(tokens)]
    api = f.api_state(conf=conf, allow=allow, block=[], tokens=toks)
    return {"schema": "driftwatch.estate/v1",
            "subscriptions": [{"subscriptionId": f.SUB_PROD, "displayName": "contoso-data-prod", "state": "Enabled"}],
            "resources": [ws], "databricks": {ws["properties"]["workspaceUrl"]: api}}


ISSUE_13_ARM_KEYS = ("diagnostic_destination", "compute_mode", "access_connector", "default_storage_firewall",
                     "cmk_keys", "resource_lock", "required_tags", "compliance_standards")


def evaluate(estate: dict[str, Any]) -> list[Finding]:
    """The example baseline without issue 13's ARM property keys: the issue-15 workspaces were designed (and
    their digests measured) before those rules existed, so their finding counts stay what was designed."""
    import yaml


    doc = yaml.safe_load((ROOT / "baseline.example.yaml").read_text(encoding="utf-8"))
    for key in ISSUE_13_ARM_KEYS:
        doc["defaults"].pop(key, None)
        for scope in doc.get("scopes") or []:
            scope["set"].pop(key, None)
    doc["defaults"]["network"].pop("private_dns_zone", None)
    baseline = parse_baseline(doc, "baseline.example.yaml (without issue 13 ARM keys)")
    states, errors = parse_estate(estate).workspace_states()
    result = evaluate_states(states, baseline, source="sweep", now=NOW, errors=errors)
    return [fd for ev in result.evaluations for fd in ev.findings]


def transitions(findings: list[Finding], kind: str = "opened", at: datetime = NOW) -> list[dict[str, Any]]:
    out = []
    for fd in findings:
        doc = fd.to_json_dict()
        if kind == "resolved":
            doc.update(status="resolved", resolved_at=at.isoformat().replace("+00:00", "Z"))
        out.append({"schema": "driftwatch.transition/v1", "transition": kind,
                    "at": at.isoformat().replace("+00:00", "Z"), "finding": doc})
    return out


def large_findings() -> list[Finding]:
    return evaluate(large_workspace_estate())

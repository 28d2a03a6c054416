"""Teams-notifier builders: workspace ids, finding documents and transition messages, a webhook secret to hunt for."""

from __future__ import annotations

from typing import Any

from core.findings import finding_id

SUB = "1b0c4e2a-1111-4c1e-9a51-2f6a0c9d7e01"
WS_A = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Databricks/workspaces/dbx-prod-a"
WS_B = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Databricks/workspaces/dbx-prod-b"
NSG = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-dbx"
SIG = "SeCrEtSiG0123456789abcdefXYZ"
QUERY = f"api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
MINIMAL_SEED: dict[str, Any] = {"schema": "driftwatch.estate/v1", "subscriptions": [], "resources": [], "databricks": {}}


def finding(
    resource_id: str = WS_A,
    rule_id: str = "DBX-WS-001",
    severity: str = "high",
    *,
    subject: str | None = None,
    status: str = "open",
    **overrides: Any,
) -> dict[str, Any]:
    """A valid driftwatch.finding/v1 dict (wire form)."""
    doc: dict[str, Any] = {
        "schema": "driftwatch.finding/v1",
        "id": finding_id(resource_id, rule_id, subject),
        "rule_id": rule_id,
        "title": f"Title of {rule_id}",
        "severity": severity,
        "status": status,
        "resource_id": resource_id,
        "subscription_id": SUB,
        "workspace_name": resource_id.rsplit("/", 1)[-1],
        "related_resource_id": None,
        "subject": subject,
        "expected": "premium",
        "actual": "standard",
        "message": f"{rule_id} drifted",
        "remediation": f"Fix {rule_id} in the portal.",
        "first_seen": "2026-11-01T08:00:00Z",
        "last_seen": "2026-11-26T12:00:00Z",
        "resolved_at": "2026-11-26T12:00:00Z" if status == "resolved" else None,
        "source": "sweep",
        "baseline_sha256": "0" * 64,
        "exemption": None,
    }
    doc.update(overrides)
    return doc


def transition(kind: str, doc: dict[str, Any], at: str = "2026-11-26T12:00:00Z") -> dict[str, Any]:
    return {"schema": "driftwatch.transition/v1", "transition": kind, "at": at, "finding": doc}


# Every card any test builds is validated by tests/card_check.py (installed from tests/conftest.py).

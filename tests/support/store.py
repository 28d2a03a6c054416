"""Store-test builders: workspace ids, findings as the rules engine builds them, an emptied account."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from core.findings.model import Finding, finding_id
from core.store import StorageConnection
from core.store.connection import QUEUES, TABLES
from tests.azurite import AzuriteProcess, azurite  # noqa: F401  (re-exported fixture)

SUB = "11111111-1111-4111-8111-111111111111"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)



def ws_id(name: str = "ws-prod", sub: str = SUB, rg: str = "rg-data") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Databricks/workspaces/{name}"


def make_finding(resource_id: str, rule_id: str = "DBX-WS-001", subject: str | None = None, *,
                 status: str = "open", severity: str = "high", now: datetime = T0, **extra: Any) -> Finding:
    """A finding as the rules engine would build it (first_seen = last_seen = now)."""
    parts = resource_id.split("/")
    data: dict[str, Any] = {
        "id": finding_id(resource_id, rule_id, subject), "rule_id": rule_id, "title": f"title of {rule_id}",
        "severity": severity, "status": status, "resource_id": resource_id, "subscription_id": parts[2],
        "workspace_name": parts[-1], "subject": subject, "expected": True, "actual": False,
        "message": f"{rule_id} drifted", "remediation": "fix it", "first_seen": now, "last_seen": now,
        "source": "sweep", "baseline_sha256": "0" * 64,
        "exemption": {"reason": "vendor", "expires": "2027-03-31"} if status == "exempted" else None,
    }
    data.update(extra)
    return Finding.model_validate(data)


def reset_storage(conn: StorageConnection) -> None:
    """Drop and recreate every table/queue so each test sees an empty account."""
    svc = conn.table_service
    for name in TABLES:
        svc.delete_table(name)
    for q in QUEUES:
        with contextlib.suppress(ResourceNotFoundError):
            conn.queue_service.delete_queue(q)
    conn.ensure()



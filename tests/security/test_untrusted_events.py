"""Issue 10 §7: the Event Grid function never raises on bad input, and ids/names are escaped in logs.

An exception from `on_resource_change` makes Event Grid retry the delivery (and finally dead-letter
it), so a hostile or malformed event must be rejected with a reason instead. Event shape: Event Grid
schema for Resource Manager events (Microsoft Learn, "Azure Resource Manager as an Event Grid source",
learn.microsoft.com/azure/event-grid/event-schema-resource-groups).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from samples.factory import SUB_PROD
from tests.support.app import App

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
RG = f"/subscriptions/{SUB_PROD}/resourceGroups/rg-analytics-prod"


def _event(subject: str, event_id: str = "e-1") -> dict[str, Any]:
    return {"id": event_id, "eventType": WRITE, "subject": subject, "topic": f"/subscriptions/{SUB_PROD}",
            "eventTime": "2026-11-18T10:00:00Z", "dataVersion": "2",
            "data": {"resourceUri": subject, "operationName": "Microsoft.Databricks/workspaces/write",
                     "status": "Succeeded", "subscriptionId": SUB_PROD}}


BAD = {
    "3000-char name": _event(f"{RG}/providers/Microsoft.Databricks/workspaces/{'w' * 3000}"),
    "no resourceGroups": _event(f"/subscriptions/{SUB_PROD}/providers/Microsoft.Databricks/workspaces/dbw-x"),
    "lone surrogate": _event(f"{RG}/providers/Microsoft.Databricks/workspaces/dbw-\udc80x"),
    "60 KB event id": _event(f"{RG}/providers/Microsoft.Databricks/workspaces/dbw-analytics-prod", "e" * 60_000),
    "CR/LF in id": _event(f"{RG}/providers/Microsoft.Databricks/workspaces/dbw-x\r\nFORGED log line"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_event_is_rejected_with_a_reason_never_raised(app: App, case: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        app.host.deliver_event_grid([BAD[case]])  # raising here would make Event Grid retry and dead-letter
    scans, _ = app.run_queues()
    assert scans.succeeded == 0 and scans.poisoned == 0  # nothing queued for a bad id
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "rejected event" in text
    for record in caplog.records:  # one record is one line: CR/LF from the estate never forges a log line
        assert "\r" not in record.getMessage() and "\n" not in record.getMessage()
        assert len(record.getMessage()) < 2_000  # a 60 KB id is not copied into the log either

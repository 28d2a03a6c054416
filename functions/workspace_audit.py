"""`on_workspace_audit`: Databricks audit records (Event Hubs, cardinality many) -> family-scoped scans.

A workspace's diagnostic setting streams its audit categories to an Event Hub; each event body is an
Azure diagnostic `{"records": [...]}` document. Routing is `core.events.audit`, coalescing
`core.service.handle_audit` (the same per-workspace marker as Event Grid).

Settings (ARCHITECTURE 4.7): the hub name `%DRIFTWATCH_AUDIT_EVENTHUB%`, the consumer group
`%DRIFTWATCH_AUDIT_CONSUMER_GROUP%`, and the identity-based connection `DRIFTWATCH_AUDIT_EVENTHUB_CONNECTION`
(`DRIFTWATCH_AUDIT_EVENTHUB_CONNECTION__fullyQualifiedNamespace`, `__credential`, `__clientId`).
Bad records never raise (they are rejected and logged); a storage failure raises, and the retry policy
below replays the batch instead of moving the checkpoint past it.
"""

from __future__ import annotations

import logging
import typing

import azure.functions as func

from core.settings import AUDIT_CONNECTION

bp = func.Blueprint()
log = logging.getLogger("driftwatch.functions")


@bp.function_name("on_workspace_audit")
@bp.retry(strategy="exponential_backoff", max_retry_count="5", minimum_interval="00:00:02",
          maximum_interval="00:01:00")
@bp.event_hub_message_trigger(arg_name="events", event_hub_name="%DRIFTWATCH_AUDIT_EVENTHUB%",
                              connection=AUDIT_CONNECTION, consumer_group="%DRIFTWATCH_AUDIT_CONSUMER_GROUP%",
                              cardinality="many", data_type="binary")
# typing.List, not list[...]: the Python worker's indexer refuses a PEP 585 alias as a binding annotation
# ("invalid non-type annotation list[EventHubEvent]"; samples/worker_index.py reproduces its check).
def on_workspace_audit(events: typing.List[func.EventHubEvent]) -> None:  # noqa: UP006
    from core import service  # lazy: keeps `import function_app` (cold start) light

    outcome = service.handle_audit(service.runtime(), [e.get_body() for e in events])
    c = outcome.counts
    log.info("audit batch: %d events, %d records: %d scan, %d ignored (%d unknown), %d rejected; "
             "%d scans enqueued, %d coalesced", len(events), c.get("records", 0), c.get("scan", 0),
             c.get("ignore", 0), c.get("unknown", 0), c.get("reject", 0), len(outcome.enqueued),
             len(outcome.coalesced))

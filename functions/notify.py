"""`notify_drift`: one `drift-findings` message -> the workspace's Teams digest (if not already sent)."""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("driftwatch.functions")


@bp.function_name("notify_drift")
@bp.queue_trigger(arg_name="msg", queue_name="drift-findings", connection="AzureWebJobsStorage")
def notify_drift(msg: func.QueueMessage) -> None:
    from core import service  # lazy: keeps `import function_app` (cold start) light

    body = service.decode_message(service.runtime(), "drift-findings", msg.get_body())
    if body is None:
        return
    outcome = service.notify_message(service.runtime(), body, dequeue_count=msg.dequeue_count or 1)
    log.info("notify %s: %d posted, %d below the minimum severity", outcome.workspace_id, outcome.posted,
             outcome.skipped)

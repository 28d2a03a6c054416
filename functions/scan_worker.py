"""`scan_workspace`: one `scan-requests` message -> collect, evaluate, reconcile, transitions queued.

A malformed message is kept in `scan-requests-poison` with the reason and not retried; a failure
while scanning raises, so the host retries and, after maxDequeueCount, moves it to the poison queue.
"""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("driftwatch.functions")


@bp.function_name("scan_workspace")
@bp.queue_trigger(arg_name="msg", queue_name="scan-requests", connection="AzureWebJobsStorage")
def scan_workspace(msg: func.QueueMessage) -> None:
    from core import service  # lazy: keeps `import function_app` (cold start) light

    body = service.decode_message(service.runtime(), "scan-requests", msg.get_body())
    if body is None:
        return
    outcome = service.scan_request(service.runtime(), body)
    log.info("scan %s: %d transitions%s%s", outcome.workspace_id, len(outcome.transitions),
             " (workspace deleted)" if outcome.deleted else "",
             f" (skipped: {outcome.skipped})" if outcome.skipped else "")

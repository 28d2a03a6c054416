"""`scheduled_sweep`: discover every workspace and fan out one scan request each."""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("driftwatch.functions")


@bp.function_name("scheduled_sweep")
@bp.timer_trigger(arg_name="timer", schedule="%DRIFTWATCH_SWEEP_SCHEDULE%", run_on_startup=False, use_monitor=True)
def scheduled_sweep(timer: func.TimerRequest) -> None:
    from core import service  # lazy: keeps `import function_app` (cold start) light

    if timer.past_due:
        log.warning("sweep is running late (past due)")
    outcome = service.sweep(service.runtime())
    log.info("sweep %s: %d workspaces, %d scan requests, %d errors, %d skipped", outcome.scan_id,
             outcome.workspaces, outcome.enqueued, len(outcome.errors), len(outcome.skipped))

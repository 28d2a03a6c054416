"""`on_resource_change`: Event Grid (ResourceWrite/Delete/ActionSuccess) -> coalesced scan requests.

Thin adapter: the routing is `core.events`, the coalescing `core.service.handle_events`.
"""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("driftwatch.functions")


@bp.function_name("on_resource_change")
@bp.event_grid_trigger(arg_name="event")
def on_resource_change(event: func.EventGridEvent) -> None:
    from core import service  # lazy: keeps `import function_app` (cold start) light

    rt = service.runtime()
    outcome = service.handle_events(rt, service.parse_event_grid_binding([event]))
    for d in outcome.decisions:
        log.info("event %s: %s %s (%s)", d.event_id, d.action, len(d.workspaces), d.reason)

"""`/_emulator/{name}`: inspection and control for tests and developers (no auth, not counted, never faulted).

The API is the table CONTROL_ROUTES, (method, name) -> handler; anything else answers 404
`{"error": "no control endpoint METHOD /_emulator/NAME"}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from emulator.faults import FaultError
from emulator.http_common import json_body
from emulator.seed import SeedError, load_seed
from emulator.state import Estate

if TYPE_CHECKING:
    from emulator.app import EmulatorApp

ControlHandler = Callable[["EmulatorApp", web.Request], Awaitable[web.Response]]

_OK = {"status": "ok"}


async def _health(_app: EmulatorApp, _request: web.Request) -> web.Response:
    return web.json_response(_OK)


async def _get_state(app: EmulatorApp, _request: web.Request) -> web.Response:
    app.lro.advance()
    return web.json_response(app.estate.snapshot())


async def _put_state(app: EmulatorApp, request: web.Request) -> web.Response:
    """Replace the whole estate with a new seed; operations in flight are forgotten."""
    try:
        app.estate = Estate(load_seed(await json_body(request) or {}))
        app.lro.operations.clear()
    except (SeedError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(_OK)


async def _get_faults(app: EmulatorApp, _request: web.Request) -> web.Response:
    return web.json_response(app.faults_view())


async def _clear_faults(app: EmulatorApp, _request: web.Request) -> web.Response:
    app.clear_faults()
    return web.json_response(app.faults_view())


async def _set_faults(app: EmulatorApp, request: web.Request) -> web.Response:
    try:
        app.apply_fault_spec(await json_body(request) or {})
    except (FaultError, ValueError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(app.faults_view())


async def _get_requests(app: EmulatorApp, _request: web.Request) -> web.Response:
    return web.json_response(app.request_counts())


async def _reset_requests(app: EmulatorApp, _request: web.Request) -> web.Response:
    app.reset_requests()
    return web.json_response(_OK)


async def _get_events(app: EmulatorApp, _request: web.Request) -> web.Response:
    return web.json_response({"events": app.outbox.events, "deliveries": app.outbox.deliveries})


async def _clear_events(app: EmulatorApp, _request: web.Request) -> web.Response:
    app.outbox.events.clear()
    app.outbox.deliveries.clear()
    return web.json_response(_OK)


async def _get_audit(app: EmulatorApp, _request: web.Request) -> web.Response:
    return web.json_response({"records": app.outbox.audit_records, "deliveries": app.outbox.audit_deliveries})


async def _clear_audit(app: EmulatorApp, _request: web.Request) -> web.Response:
    app.outbox.audit_records.clear()
    app.outbox.audit_deliveries.clear()
    return web.json_response(_OK)


async def _get_teams(app: EmulatorApp, _request: web.Request) -> web.Response:
    return web.json_response({"posts": app.teams.posts})


async def _clear_teams(app: EmulatorApp, _request: web.Request) -> web.Response:
    app.teams.posts.clear()
    return web.json_response(_OK)


CONTROL_ROUTES: dict[tuple[str, str], ControlHandler] = {
    ("GET", "health"): _health,
    ("GET", "state"): _get_state,
    ("PUT", "state"): _put_state,
    ("GET", "faults"): _get_faults,
    ("DELETE", "faults"): _clear_faults,
    ("POST", "faults"): _set_faults,
    ("GET", "requests"): _get_requests,
    ("DELETE", "requests"): _reset_requests,
    ("GET", "events"): _get_events,
    ("DELETE", "events"): _clear_events,
    ("GET", "audit"): _get_audit,
    ("DELETE", "audit"): _clear_audit,
    ("GET", "teams"): _get_teams,
    ("DELETE", "teams"): _clear_teams,
}
"""(method, name after `/_emulator/`) -> handler."""


async def serve_control(app: EmulatorApp, request: web.Request) -> web.Response:
    what = request.path.rstrip("/").removeprefix("/_emulator").strip("/")
    method = request.method.upper()
    handler = CONTROL_ROUTES.get((method, what))
    if handler is None:
        return web.json_response({"error": f"no control endpoint {method} /_emulator/{what}"}, status=404)
    return await handler(app, request)

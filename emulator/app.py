"""The aiohttp application: one catch-all route, dispatched on the first path segment to a surface.

One catch-all route and hand-written dispatch, because ARM paths are case-insensitive and of
arbitrary depth, and workspaces are told apart by a `/ws/{host}` path prefix. The surfaces live in
`emulator/routes/` (ARM, the workspace API, the Teams sink, the `/_emulator/` control table);
this module holds what they share: the estate, fault injection and latency, the request log and the
outbox. Handlers run on one event loop, so nothing is locked and the latency sleep never serializes
concurrent callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulator.faults import ConnectionReset, FaultRule, FaultSet, fault_response, parse_spec
from emulator.http_common import arm_error, dbx_error, segments
from emulator.outbox import Outbox
from emulator.request_log import RequestLog
from emulator.routes.arm import ArmRoutes
from emulator.routes.arm_operations import ArmOperations
from emulator.routes.control import serve_control
from emulator.routes.teams import TeamsSink
from emulator.routes.workspace import WorkspaceApiRoutes
from emulator.state import Estate

Handler = Callable[[web.Request], Awaitable[web.Response]]


class EmulatorApp:
    """The shared state of every surface, and the entry point that dispatches to them."""

    def __init__(
        self,
        seed: dict[str, Any],
        *,
        latency_ms: int = 0,
        event_target: str | None = None,
        page_size: int = 50,
        faults: list[FaultRule] | None = None,
        lro_delay_s: float = 0.0,
        audit_target: str | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if lro_delay_s < 0:
            raise ValueError("lro_delay_s must not be negative")
        self.estate = Estate(seed)
        self.latency_ms = latency_ms
        self.base_latency_ms = latency_ms
        self.faults = FaultSet()
        if faults:
            self.faults.set(faults)
        self.log = RequestLog()
        self.outbox = Outbox(event_target=event_target, audit_target=audit_target)
        self.lro = ArmOperations(self, delay_s=lro_delay_s)
        self.arm = ArmRoutes(self, page_size=page_size)
        self.workspace = WorkspaceApiRoutes(self)
        self.teams = TeamsSink()

    # ---- lifecycle -----------------------------------------------------------------------
    def build(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _cleanup(self, _app: web.Application) -> None:
        await self.outbox.close()

    # ---- inspection helpers (run on the loop) --------------------------------------------
    def request_counts(self) -> dict[str, Any]:
        return self.log.view()

    def reset_requests(self) -> None:
        self.log.reset()

    def clear_faults(self) -> None:
        """Drop every rule and go back to the latency the server was started with."""
        self.faults.clear()
        self.latency_ms = self.base_latency_ms

    def faults_view(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "rules": [r.as_dict() for r in self.faults.rules]}

    def apply_fault_spec(self, spec: dict[str, Any]) -> None:
        rules, latency = parse_spec(spec)
        if rules is not None:
            self.faults.set(rules, append=bool(spec.get("append")))
        if latency is not None:
            self.latency_ms = latency

    # ---- entry point ---------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_emulator/") or path == "/_emulator":
            return await serve_control(self, request)
        started = time.perf_counter()
        status = 0
        tick = self.log.started()
        try:
            response = await self._serve(request)
            status = response.status
            return response
        except ConnectionReset:
            self._reset_connection(request)
            raise asyncio.CancelledError() from None
        finally:
            self.log.finished(request.method, path, status, round((time.perf_counter() - started) * 1000, 2), tick)

    @staticmethod
    def _reset_connection(request: web.Request) -> None:
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        segs = segments(request.path)
        head = segs[0].lower() if segs else ""
        if head == "teams":
            return await self._with_faults(request, "teams", self.teams.serve)
        if head == ".well-known":
            return dbx_error(404, "ENDPOINT_NOT_FOUND", "No host metadata here.")
        if head == "ws" and len(segs) >= 2:
            if len(segs) >= 3 and segs[2].lower() == ".well-known":
                return dbx_error(404, "ENDPOINT_NOT_FOUND", "No host metadata here.")
            return await self._with_faults(request, "ws", self.workspace.serve, latency=True)
        if head == "subscriptions":
            return await self._with_faults(request, "arm", self.arm.serve, latency=True)
        return arm_error(404, "NotFound", f"No route for {request.method} {request.path}.")

    async def _with_faults(self, request: web.Request, kind: str, handler: Handler,
                           latency: bool = False) -> web.Response:
        if latency and self.latency_ms > 0:
            await asyncio.sleep(self.latency_ms / 1000)
        rule = self.faults.take(request.method, request.path)
        if rule is not None:
            response = await fault_response(rule, kind)
        else:
            response = await handler(request)
        if kind == "arm":
            self.arm.add_headers(request, response)
        return response

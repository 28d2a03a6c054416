"""Run the emulator in a background thread with its own event loop.

Tests and the CLI both need a real HTTP server that the synchronous SDK clients can call
while the caller's thread keeps going; a thread-owned loop gives that without the caller
having to be async. In-process helpers hop onto the server loop, so they see (and change)
the same state the HTTP handlers do, without locks.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from emulator.app import EmulatorApp
from emulator.faults import FaultRule, parse_rule
from emulator.seed import load_seed

T = TypeVar("T")
START_TIMEOUT_S = 30.0


def is_loopback(host: str) -> bool:
    """Only loopback binds are allowed: the emulator accepts any bearer token."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmulatorServer:
    """The estate emulator (ARM + workspace API + Teams sink) on one local port."""

    def __init__(
        self,
        seed: dict[str, Any] | str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: int = 0,
        event_target: str | None = None,
        page_size: int = 50,
        faults: list[dict[str, Any]] | None = None,
        lro_delay_s: float = 0.0,
        audit_target: str | None = None,
    ) -> None:
        if not is_loopback(host):
            raise ValueError(f"refusing to bind to non-loopback host {host!r}")
        rules: list[FaultRule] = [parse_rule(f) for f in faults or []]
        self._app = EmulatorApp(
            load_seed(seed),
            latency_ms=latency_ms,
            event_target=event_target,
            page_size=page_size,
            faults=rules,
            lro_delay_s=lro_delay_s,
            audit_target=audit_target,
        )
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def workspace_base_url(self) -> str:
        """Template for DRIFTWATCH_WORKSPACE_BASE_URL: `{workspaceUrl}` is left in literally."""
        return f"{self.url}/ws/{{workspaceUrl}}"

    def start(self) -> EmulatorServer:
        """Start listening; returns once the port is bound (raises if it cannot be)."""
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="driftwatch-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("emulator did not start in time")
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            raise self._start_error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _listen(self) -> None:
        runner = web.AppRunner(self._app.build(), handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=1024)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(timeout=30)
            self._runner = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._thread = None
        self._loop = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- in-process helpers --------------------------------------------------------------
    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server loop (so it never races a handler); directly if not running."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return fn()

        async def _wrapped() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(_wrapped(), loop).result(timeout=30)

    def set_faults(
        self,
        spec: dict[str, Any] | list[dict[str, Any]] | None = None,
        *,
        latency_ms: int | None = None,
        deny_workspace: str | None = None,
        status: int = 403,
        append: bool = False,
    ) -> None:
        """Replace (or with append=True extend) the fault rules; `spec` is a list of rules or a
        `POST /_emulator/faults` body."""
        body: dict[str, Any] = {}
        if isinstance(spec, list):
            body["rules"] = spec
        elif isinstance(spec, dict):
            body.update(spec)
        if latency_ms is not None:
            body["latency_ms"] = latency_ms
        if deny_workspace is not None:
            body["deny_workspace"] = deny_workspace
            body["status"] = status
        if append:
            body["append"] = True
        self._call(lambda: self._app.apply_fault_spec(body))

    def clear_faults(self) -> None:
        self._call(self._app.clear_faults)

    def request_counts(self) -> dict[str, Any]:
        """`{"total", "by_endpoint", "recent"}`, as `GET /_emulator/requests` returns it."""
        return self._call(lambda: copy.deepcopy(self._app.request_counts()))

    def reset_requests(self) -> None:
        self._call(self._app.reset_requests)

    def events(self) -> list[dict[str, Any]]:
        """The Event Grid events recorded so far (oldest first)."""
        return self._call(lambda: copy.deepcopy(self._app.outbox.events))

    def deliveries(self) -> list[dict[str, Any]]:
        """Delivery results per event (`pending`, `delivered`, `failed`, `not_sent`)."""
        return self._call(lambda: copy.deepcopy(self._app.outbox.deliveries))

    def clear_events(self) -> None:
        def _clear() -> None:
            self._app.outbox.events.clear()
            self._app.outbox.deliveries.clear()

        self._call(_clear)

    def audit_records(self) -> list[dict[str, Any]]:
        """Audit records emitted for workspace-API writes (Event Hubs shape), oldest first."""
        return self._call(lambda: copy.deepcopy(self._app.outbox.audit_records))

    def audit_deliveries(self) -> list[dict[str, Any]]:
        return self._call(lambda: copy.deepcopy(self._app.outbox.audit_deliveries))

    def teams_posts(self) -> list[dict[str, Any]]:
        return self._call(lambda: copy.deepcopy(self._app.teams.posts))

    def clear_teams(self) -> None:
        self._call(self._app.teams.posts.clear)

    def state(self) -> dict[str, Any]:
        """The current estate in the seed format (`driftwatch.estate/v1`)."""

        def _snapshot() -> dict[str, Any]:
            self._app.lro.advance()
            return self._app.estate.snapshot()

        return self._call(_snapshot)

    def finish_operations(self) -> int:
        """Complete every workspace PUT/DELETE still in flight; returns how many there were."""
        return int(self._call(self._app.lro.finish))

    def set_lro_delay(self, seconds: float) -> None:
        """How long workspace PUT/DELETE operations stay in flight from now on (0 = done by the next request)."""
        if seconds < 0:
            raise ValueError("lro delay must not be negative")

        def _set() -> None:
            self._app.lro.delay_s = seconds

        self._call(_set)

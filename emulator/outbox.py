"""What the emulator sends out: Event Grid events for ARM writes, Databricks audit records for workspace-API writes.

Both are recorded (for `GET /_emulator/events` and `/_emulator/audit`) and, when a target URL is
configured, POSTed in the background; a failed delivery is recorded, never raised into the request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

from emulator.audit import USER_HEADER, event_body
from emulator.events import make_event
from emulator.http_common import now_iso

DELIVERY_TIMEOUT_S = 10.0


class Outbox:
    """Recorded events and audit records, their delivery results, and the session that posts them."""

    def __init__(self, *, event_target: str | None = None, audit_target: str | None = None) -> None:
        self.event_target = event_target
        self.audit_target = audit_target
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.audit_records: list[dict[str, Any]] = []
        self.audit_deliveries: list[dict[str, Any]] = []
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        """Cancel deliveries still running and close the session (on application cleanup)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # ---- Event Grid (ARM writes) ---------------------------------------------------------
    def record_event(self, resource_id: str, method: str, request: web.Request, *, tenant_id: str) -> None:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
        event = make_event(
            resource_id,
            method,
            tenant_id=tenant_id,
            url=str(request.url),
            caller=request.headers.get(USER_HEADER),
            caller_ip=forwarded or None,
        )
        self.events.append(event)
        delivery: dict[str, Any] = {"event_id": event["id"], "target": self.event_target}
        delivery["status"] = "not_sent"
        self.deliveries.append(delivery)
        if self.event_target:
            delivery["status"] = "pending"
            self._spawn(self._deliver(event, delivery))

    async def _deliver(self, event: dict[str, Any], delivery: dict[str, Any]) -> None:
        """POST one event to the target as Event Grid does; failures are recorded, never raised."""
        assert self.event_target is not None
        self._open_session()
        delivery["attempted_at"] = now_iso()
        await self._post_delivery(self.event_target, json.dumps([event]),
                                  {"Content-Type": "application/json", "aeg-event-type": "Notification"}, delivery)

    # ---- Databricks audit records (diagnostic setting -> Event Hubs) ----------------------
    def record_audit(self, records: list[dict[str, Any]]) -> None:
        """Record (and send to --audit-target) the audit records of one workspace-API write."""
        self.audit_records.extend(records)
        delivery: dict[str, Any] = {"log_ids": [r["properties"]["logId"] for r in records],
                                    "target": self.audit_target, "status": "not_sent"}
        self.audit_deliveries.append(delivery)
        if self.audit_target:
            delivery["status"] = "pending"
            self._spawn(self._deliver_audit(records, delivery))

    async def _deliver_audit(self, records: list[dict[str, Any]], delivery: dict[str, Any]) -> None:
        """POST one Event Hubs body `{"records": [...]}`; failures are recorded, never raised."""
        assert self.audit_target is not None
        self._open_session()
        await self._post_delivery(self.audit_target, event_body(records), {"Content-Type": "application/json"},
                                  delivery)

    # ---- posting -------------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _open_session(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S))

    async def _post_delivery(self, url: str, data: str | bytes, headers: dict[str, str],
                             delivery: dict[str, Any]) -> None:
        """POST one delivery (Event Grid or Event Hubs stand-in); the outcome goes into `delivery`, never raised."""
        assert self._session is not None
        try:
            async with self._session.post(url, data=data, headers=headers) as resp:
                await resp.read()
                delivery["http_status"] = resp.status
                delivery["status"] = "delivered" if resp.status < 300 else "failed"
        except asyncio.CancelledError:
            delivery["status"] = "cancelled"
            raise
        except Exception as exc:
            delivery["status"] = "failed"
            delivery["error"] = f"{type(exc).__name__}: {exc}"

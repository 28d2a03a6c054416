"""A small stand-in for the Functions host, for the demo and tests (Core Tools cannot run here).

It invokes the *registered* functions of `function_app.app` with real `azure.functions` binding
objects and drains the Storage queues the way the host does: base64 message bodies, a visibility
timeout while a message is processed, retries up to host.json's `maxDequeueCount`, then the
`{queue}-poison` queue. `app.get_functions()` may be called only once per app, so it is cached.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

ROOT = Path(__file__).resolve().parents[1]
_functions_cache: dict[int, dict[str, Any]] = {}
_cache_lock = threading.Lock()


def registered_functions(app: func.FunctionApp) -> dict[str, Any]:
    """name -> the SDK's Function object (get_user_function(), get_function_json())."""
    with _cache_lock:
        cached = _functions_cache.get(id(app))
        if cached is None:
            cached = {f.get_function_name(): f for f in app.get_functions()}
            _functions_cache[id(app)] = cached
        return cached


def host_queue_settings() -> dict[str, Any]:
    return dict(json.loads((ROOT / "host.json").read_text())["extensions"]["queues"])


@dataclass
class DrainStats:
    processed: int = 0
    succeeded: int = 0
    failed_attempts: int = 0
    poisoned: int = 0
    errors: list[str] = field(default_factory=list)


class LocalFunctionsHost:
    def __init__(self, app: func.FunctionApp, connection_string: str, *, retry_visibility_s: int = 1,
                 visibility_s: int = 30) -> None:
        self.functions = registered_functions(app)
        self.connection_string = connection_string
        self.max_dequeue = int(host_queue_settings()["maxDequeueCount"])
        self.retry_visibility_s = retry_visibility_s
        self.visibility_s = visibility_s
        self._sequence = 0

    def call(self, name: str, *args: Any) -> Any:
        return self.functions[name].get_user_function()(*args)

    # -- triggers ------------------------------------------------------------------------------------
    def deliver_event_grid(self, events: Iterable[dict[str, Any]]) -> None:
        """Event Grid delivers a batch; the Python worker invokes the function once per event."""
        for e in events:
            when = e.get("eventTime")
            event = func.EventGridEvent(
                id=str(e.get("id")), data=e.get("data"), topic=str(e.get("topic", "")),  # type: ignore[arg-type]
                subject=str(e.get("subject", "")), event_type=str(e.get("eventType", "")),
                event_time=datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else None,
                data_version=str(e.get("dataVersion", "")))
            self.call("on_resource_change", event)

    def deliver_event_hub(self, bodies: Iterable[bytes], name: str = "on_workspace_audit", *,
                          partition_key: str | None = None) -> None:
        """One Event Hubs batch (cardinality many), decoded by azure.functions' own trigger converter
        from the shape the host sends the worker: `collection_bytes` bodies plus a
        `SystemPropertiesArray` with each event's enqueued time, sequence number and offset."""
        from types import SimpleNamespace

        from azure.functions.eventhub import EventHubTriggerConverter
        from azure.functions.meta import Datum

        bodies = list(bodies)
        if not bodies:
            return
        start = self._sequence
        self._sequence += len(bodies)
        enqueued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        props = [{"EnqueuedTimeUtc": enqueued, "SequenceNumber": start + i, "Offset": str((start + i) * 1024),
                  "PartitionKey": partition_key} for i in range(len(bodies))]
        data = Datum(SimpleNamespace(bytes=bodies), "collection_bytes")
        meta = {"SystemPropertiesArray": Datum(json.dumps(props), "json")}
        events = EventHubTriggerConverter.decode(data, trigger_metadata=meta)
        self.call(name, events)

    def fire_timer(self, name: str = "scheduled_sweep") -> None:
        self.call(name, TimerRequest(past_due=False))

    def http(self, name: str, method: str, url: str, *, params: dict[str, str] | None = None,
             route_params: dict[str, str] | None = None) -> func.HttpResponse:
        req = func.HttpRequest(method, url, params=params or {}, route_params=route_params or {}, body=b"")
        return self.call(name, req)  # type: ignore[no-any-return]

    # -- queues ------------------------------------------------------------------------------------------
    def _queue(self, name: str) -> Any:
        from azure.storage.queue import BinaryBase64DecodePolicy, BinaryBase64EncodePolicy, QueueClient

        client = QueueClient.from_connection_string(self.connection_string, name,
                                                    message_encode_policy=BinaryBase64EncodePolicy(),
                                                    message_decode_policy=BinaryBase64DecodePolicy())
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        return client

    def drain(self, queue_name: str, function_name: str, *, workers: int = 1, idle_s: float = 0.5,
              max_s: float = 120.0, on_message: Callable[[str], None] | None = None) -> DrainStats:
        """Process messages until the queue stays empty for `idle_s` (invisible ones are waited for)."""
        stats = DrainStats()
        lock = threading.Lock()
        deadline = time.monotonic() + max_s

        def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    work()
                    return
                except Exception as exc:  # storage down: like the host, keep polling until it is back
                    with lock:
                        stats.errors.append(f"poll: {exc.__class__.__name__}")
                    time.sleep(0.3)

        def work() -> None:
            q = self._queue(queue_name)
            poison = self._queue(f"{queue_name}-poison")
            quiet_since: float | None = None
            while time.monotonic() < deadline:
                batch = list(q.receive_messages(max_messages=16, visibility_timeout=self.visibility_s))
                if not batch:
                    props = q.get_queue_properties()
                    if props.approximate_message_count == 0:
                        quiet_since = quiet_since or time.monotonic()
                        if time.monotonic() - quiet_since >= idle_s:
                            return
                    else:
                        quiet_since = None
                    time.sleep(0.1)
                    continue
                quiet_since = None
                for m in batch:
                    body: bytes = m.content
                    msg = QueueMessage(id=m.id, body=body, dequeue_count=m.dequeue_count, pop_receipt=m.pop_receipt)
                    try:
                        self.call(function_name, msg)
                    except Exception as exc:  # the host's behaviour: retry, then poison
                        with lock:
                            stats.failed_attempts += 1
                            stats.errors.append(f"{exc.__class__.__name__}: {str(exc)[:200]}")
                        if m.dequeue_count >= self.max_dequeue:
                            poison.send_message(body)
                            q.delete_message(m)
                            with lock:
                                stats.poisoned += 1
                        else:
                            q.update_message(m, visibility_timeout=self.retry_visibility_s)
                        continue
                    q.delete_message(m)
                    with lock:
                        stats.processed += 1
                        stats.succeeded += 1
                    if on_message:
                        on_message(function_name)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return stats


def now() -> datetime:
    return datetime.now(UTC)

"""The use cases shared by the Functions and the CLI: route, sweep, scan, notify.

`functions/` only parses bindings and calls these; `core/cli/` calls the same code paths, so what
the demo and the tests exercise is what runs in Azure. One module per use case:

- `runtime`: settings, baseline and the adapters, built once per process;
- `messages`: the `scan-requests` / `drift-findings` message schemas and their validation;
- `routing`: Event Grid deliveries and audit records -> coalesced scan requests;
- `sweeping`: the timer sweep (discovery, fan-out, safety net);
- `scanning`: one scan request -> collect, evaluate, reconcile;
- `delivery`: recorded transitions -> `drift-findings` (the outbox re-driver too);
- `notifying`: one transition message -> a Teams digest.
"""

from __future__ import annotations

from core.service.delivery import redeliver_outbox, send_transitions
from core.service.messages import (
    MAX_DEQUEUE_COUNT,
    SCAN_REQUEST_SCHEMA,
    ChangeRecord,
    ScanRequest,
    decode_message,
    reject_message,
)
from core.service.notifying import (
    NOTIFY_BUSY_DELAY_S,
    NotifyBusy,
    NotifyOutcome,
    RoutingUnavailable,
    notifier,
    notify_message,
    notify_route,
    notify_workspace,
)
from core.service.routing import AuditOutcome, EventOutcome, handle_audit, handle_events, parse_event_grid_binding
from core.service.runtime import COALESCE_WINDOW_S, OUTBOX_REDRIVE_AFTER_S, Runtime, reset_runtime, runtime
from core.service.scanning import (
    Attributor,
    ScanWorkerOutcome,
    checked_rules,
    recheck_later,
    record_evaluation,
    resolve_deleted,
    rules_for,
    scan_request,
    store_evaluation,
)
from core.service.sweeping import SweepOutcome, sweep

__all__ = [
    "COALESCE_WINDOW_S",
    "MAX_DEQUEUE_COUNT",
    "NOTIFY_BUSY_DELAY_S",
    "OUTBOX_REDRIVE_AFTER_S",
    "SCAN_REQUEST_SCHEMA",
    "Attributor",
    "AuditOutcome",
    "ChangeRecord",
    "EventOutcome",
    "NotifyBusy",
    "NotifyOutcome",
    "RoutingUnavailable",
    "Runtime",
    "ScanRequest",
    "ScanWorkerOutcome",
    "SweepOutcome",
    "checked_rules",
    "decode_message",
    "handle_audit",
    "handle_events",
    "notifier",
    "notify_message",
    "notify_route",
    "notify_workspace",
    "parse_event_grid_binding",
    "recheck_later",
    "record_evaluation",
    "redeliver_outbox",
    "reject_message",
    "reset_runtime",
    "resolve_deleted",
    "rules_for",
    "runtime",
    "scan_request",
    "send_transitions",
    "store_evaluation",
    "sweep",
]

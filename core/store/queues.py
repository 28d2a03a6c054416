"""The two queues: `scan-requests` (one message per workspace to scan) and `drift-findings` (transitions).

Messages are JSON, base64-encoded text, as the Functions queue trigger expects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.store.connection import DRIFT_FINDINGS_QUEUE, SCAN_REQUESTS_QUEUE, StorageConnection, storage_call

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

    from core.findings.transition import Transition


MAX_MESSAGE_BYTES = 45_000
"""Queue messages may be 64 KiB; base64 (what the Functions trigger expects) grows text by 4/3, so the
JSON must stay under 48 KiB. 45,000 bytes leaves room for the encoding's padding."""
CUT_MARKER = "…[cut: the full value is in the findings store]"


KEPT_WHOLE = frozenset({"schema", "transition", "at", "id", "resource_id", "rule_id", "subscription_id",
                        "workspace_name", "status", "severity", "first_seen", "last_seen", "resolved_at"})
"""Identity and lifecycle fields are never cut: the receiver finds the workspace and finding by them."""


def _cut(value: Any, limit: int) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + CUT_MARKER
    if isinstance(value, dict):
        return {k: v if k in KEPT_WHOLE else _cut(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v, limit) for v in value]
    return value


def fit_message(msg: Mapping[str, Any]) -> str:
    """The message as JSON within MAX_MESSAGE_BYTES: long string values are cut (with CUT_MARKER), never
    the message dropped. The receiver reads the finding from the store, where the full value is kept."""
    text = json.dumps(dict(msg), separators=(",", ":"))
    limit = 4096
    while len(text.encode("utf-8")) > MAX_MESSAGE_BYTES and limit >= 16:
        text = json.dumps({**_cut(dict(msg), limit), "cut": True}, separators=(",", ":"))
        limit //= 2
    return text


class QueueBus:
    def __init__(self, connection: StorageConnection) -> None:
        self.connection = connection
        self._scan: QueueClient | None = None
        self._drift: QueueClient | None = None

    @property
    def scan_requests(self) -> QueueClient:
        if self._scan is None:
            self._scan = self.connection.queue(SCAN_REQUESTS_QUEUE)
        return self._scan

    @property
    def drift_findings(self) -> QueueClient:
        if self._drift is None:
            self._drift = self.connection.queue(DRIFT_FINDINGS_QUEUE)
        return self._drift

    def send_scan_request(self, msg: Mapping[str, Any], visibility_timeout: int = 0) -> None:
        with storage_call("send", SCAN_REQUESTS_QUEUE):
            self.scan_requests.send_message(json.dumps(dict(msg), separators=(",", ":")),
                                            visibility_timeout=visibility_timeout or None)

    def send_transition_body(self, body: str, visibility_timeout: int = 0) -> None:
        """Re-queue a `drift-findings` message as it was (a retry with a delay, not a failed attempt)."""
        with storage_call("send", DRIFT_FINDINGS_QUEUE):
            self.drift_findings.send_message(body, visibility_timeout=visibility_timeout or None)

    def send_transition(self, transition: Transition) -> None:
        with storage_call("send", DRIFT_FINDINGS_QUEUE):
            self.drift_findings.send_message(fit_message(transition.message()))

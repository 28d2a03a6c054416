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

    from core.store.findings import Transition


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
            self.drift_findings.send_message(json.dumps(transition.message(), separators=(",", ":")))

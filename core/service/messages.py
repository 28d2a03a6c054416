"""The queue messages the use cases exchange, in one place: `scan-requests` and `drift-findings`.

Anyone allowed to send to a queue can write a message, so every message is validated here and a
malformed one is kept in `{queue}-poison` with the reason (core/store/poison.py), never retried forever.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.arm_ids import same_arm_id
from core.findings.model import ChangeAttribution
from core.state.lifecycle import SETTLE_RECHECKS_S
from core.store.poison import keep_rejected
from core.terms import TRANSITION_SCHEMA as TRANSITION_MESSAGE_SCHEMA

if TYPE_CHECKING:
    from core.service.runtime import Runtime
    from core.store import Transition

log = logging.getLogger("driftwatch")

SCAN_REQUEST_SCHEMA = "driftwatch.scan-request/v1"
MAX_DEQUEUE_COUNT = 5
"""host.json `extensions.queues.maxDequeueCount` (a test keeps the two equal)."""


class ChangeRecord(BaseModel):
    """One change folded into a scan: attribution plus the families it can explain (None = any)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(default=None, max_length=256)
    at: str | None = Field(default=None, max_length=64)
    families: list[str] | None = Field(default=None, max_length=32)
    changed_by: str | None = Field(default=None, max_length=256)
    changed_from: str | None = Field(default=None, max_length=64)
    summary: str | None = Field(default=None, max_length=200)

    @classmethod
    def of(cls, attribution: ChangeAttribution, families: list[str] | None, at: str | None,
           event_id: str | None) -> ChangeRecord:
        return cls(event_id=event_id, at=at, families=families, changed_by=attribution.changed_by,
                   changed_from=attribution.changed_from, summary=attribution.change_summary)

    def attribution(self) -> ChangeAttribution:
        return ChangeAttribution(changed_by=self.changed_by, changed_from=self.changed_from,
                                 change_event_id=self.event_id, change_summary=self.summary)


class ScanRequest(BaseModel):
    """A `scan-requests` message: scan one workspace (sweep fan-out, coalesced event, re-check)."""

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["driftwatch.scan-request/v1"] = Field(default="driftwatch.scan-request/v1", alias="schema")
    workspace_id: str = Field(min_length=1, max_length=2048, pattern=r"(?i)^/subscriptions/[^/]+/resourceGroups/")
    source: Literal["event", "sweep", "cli"]
    requested_at: datetime
    scan_id: str | None = None
    coalesced: bool = False
    workspace: dict[str, Any] | None = None
    """Accepted, never written nor evaluated: versions before 0.9 embedded the listed workspace document.
    The worker reads the workspace from ARM itself (a message is not trusted); a document that is not even
    the workspace the message names still marks a forged or broken message (`embedded_document_problem`)."""
    event_ids: list[str] = Field(default_factory=list, max_length=50)
    subnet_users: dict[str, list[str]] | None = None
    """Accepted and ignored, as `workspace`: subnet sharing comes from the topology table, never a message."""
    families: list[str] | None = Field(default=None, max_length=32)
    """Rule families to scan (audit-driven scans); absent = every family."""
    changes: list[ChangeRecord] = Field(default_factory=list, max_length=20)
    """Who changed what (attribution for the findings this scan opens or resolves)."""
    settle_attempt: int = Field(default=0, ge=0, le=len(SETTLE_RECHECKS_S))
    """How many times this workspace was re-checked because an ARM operation on it was in flight."""

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def embedded_document_problem(req: ScanRequest) -> str | None:
    """Why an embedded workspace document makes the message unusable (None when absent or consistent)."""
    doc = req.workspace
    if doc is None:
        return None
    rid, rtype = doc.get("id"), doc.get("type")
    if not isinstance(rid, str) or not same_arm_id(rid, req.workspace_id):
        return "workspace: embedded document is not the workspace the message names (id differs or is missing)"
    if not isinstance(rtype, str) or not same_arm_id(rtype, "Microsoft.Databricks/workspaces"):
        return "workspace: embedded document is not a Microsoft.Databricks/workspaces resource"
    return None


def validation_reason(exc: ValidationError) -> str:
    """pydantic's errors as `field.path: message; ...` (what a poison entry says)."""
    return "; ".join(f"{'.'.join(str(x) for x in e['loc']) or '(message)'}: {e['msg']}" for e in exc.errors())


def parse_transition_message(body: str) -> Transition:
    """A `drift-findings` message; ValueError (with the reason) when it is not one."""
    from core.findings.transition import Transition

    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError("message nests too deeply") from None
    if not isinstance(data, dict) or data.get("schema") != TRANSITION_MESSAGE_SCHEMA:
        raise ValueError(f"schema is not {TRANSITION_MESSAGE_SCHEMA}")
    return Transition.from_message(data)  # validates every field; ValueError names the field, never its value


def decode_message(rt: Runtime, queue: str, raw: bytes) -> str | None:
    """The message text, or None when it is not UTF-8 (then it is kept in the poison queue)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reject_message(rt, queue, raw.decode("utf-8", errors="replace"), f"message is not UTF-8 ({exc.reason})")
        return None


def reject_message(rt: Runtime, queue: str, body: str, reason: str) -> None:
    """Keep a malformed message (nothing is lost) in `{queue}-poison` instead of retrying it forever."""
    log.error("rejected a malformed %s message: %s", queue, reason[:500])
    keep_rejected(rt.connection, queue, body, reason)

"""One lifecycle change of one finding: the type the store records, the queue carries and the cards show.

There is one `Transition` in driftwatch. The store builds it when a reconcile changes a finding, writes
`message()` into the finding row's outbox and history, and the queue carries the same message; the notify
use case parses it back once, at the boundary (`from_message`), and hands the object to the cards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from core.findings.model import Finding
from core.terms import TRANSITION_SCHEMA

TransitionKind = Literal["opened", "resolved", "reopened", "exempted"]
TRANSITIONS: tuple[TransitionKind, ...] = ("opened", "reopened", "resolved", "exempted")


def utc(dt: datetime) -> datetime:
    """Aware UTC datetime (naive values are taken as UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso_z(dt: datetime) -> str:
    return utc(dt).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Transition:
    """A lifecycle change of one finding, as recorded in history and sent on `drift-findings`."""

    transition: TransitionKind
    at: datetime
    finding: Finding
    reason: str | None = None
    """Why, when it is not the plain observation: e.g. "not applicable: computeMode Serverless ..."."""

    def message(self) -> dict[str, Any]:
        """The `driftwatch.transition/v1` message of ARCHITECTURE 4.6 (`reason` only when there is one)."""
        msg = {"schema": TRANSITION_SCHEMA, "transition": self.transition, "at": iso_z(self.at),
               "finding": self.finding.to_json_dict()}
        if self.reason:
            msg["reason"] = self.reason
        return msg

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> Transition:
        """Validate one message; ValueError naming the bad field, never its value (messages are untrusted)."""
        if not isinstance(message, Mapping):
            raise ValueError("transition message: expected a JSON object")
        if message.get("schema") != TRANSITION_SCHEMA:
            raise ValueError(f"transition message: schema must be {TRANSITION_SCHEMA}")
        kind = message.get("transition")
        if kind not in TRANSITIONS:
            raise ValueError(f"transition message: transition must be one of {', '.join(TRANSITIONS)}")
        at = message.get("at")
        try:
            when = utc(datetime.fromisoformat(at.replace("Z", "+00:00"))) if isinstance(at, str) else None
        except ValueError:
            when = None
        if when is None:
            raise ValueError("transition message: at must be an ISO-8601 time")
        finding = message.get("finding")
        if not isinstance(finding, dict):
            raise ValueError("transition message: finding must be an object")
        try:
            parsed = Finding.from_json_dict(finding)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            raise ValueError(f"transition message: invalid finding field(s) {', '.join(fields)}") from None
        reason = message.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ValueError("transition message: reason must be a string")
        return cls(kind, when, parsed, reason or None)


def transition_id(finding_id: str, t: Transition) -> str:
    """The idempotency key of one transition: finding, the time it was recorded, its kind."""
    return f"{finding_id}-{utc(t.at):%Y%m%dT%H%M%S%fZ}-{t.transition}"

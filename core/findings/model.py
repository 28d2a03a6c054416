"""The Finding record (ARCHITECTURE 4.2) and the helpers every other layer shares."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.arm_ids import arm_fold
from core.terms import SEVERITIES, SEVERITY_ORDER, STATUSES, FindingStatus, Severity, severity_at_least

__all__ = ["FINDING_SCHEMA", "SEVERITIES", "SEVERITY_ORDER", "STATUSES", "Finding", "FindingStatus", "Severity",
           "Source", "finding_id", "severity_at_least"]

FINDING_SCHEMA = "driftwatch.finding/v1"

Source = Literal["event", "sweep", "cli"]


def finding_id(resource_id: str, rule_id: str, subject: str | None) -> str:
    """Stable id: the same workspace + rule + subject always gives the same id.

    ARM ids (and NSG rule names, CIDRs, token ids) compare case-insensitively, so the key is
    `arm_fold`ed (ARM's identity; equal to lower case for ASCII, so ids of ASCII resources are the ones
    stored before issue 10) before hashing. 32 hex characters keep it a valid Table Storage RowKey.
    """
    key = "\x1f".join((arm_fold(resource_id), rule_id.upper(), arm_fold(subject or "")))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


ATTRIBUTION_FIELDS = ("changed_by", "changed_from", "change_event_id", "change_summary")


class ChangeAttribution(BaseModel):
    """Who changed what, from where (ARCHITECTURE 4.2 optional fields): names and addresses only.

    Built from Event Grid `data.claims` / `data.httpRequest` (ARM changes) or a Databricks audit
    record's `identity` / `sourceIPAddress` (in-workspace changes); see core/events.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    changed_by: str | None = Field(default=None, max_length=256)
    changed_from: str | None = Field(default=None, max_length=64)
    change_event_id: str | None = Field(default=None, max_length=256)
    change_summary: str | None = Field(default=None, max_length=200)

    def fields(self) -> dict[str, str | None]:
        return {n: getattr(self, n) for n in ATTRIBUTION_FIELDS}

    def sentence(self, transition: str) -> str | None:
        """"opened after jane@contoso.com disabled IP access lists from 203.0.113.9" (None when unknown)."""
        if not self.changed_by and not self.change_summary:
            return None
        words = [f"{transition} after", self.changed_by or "someone", self.change_summary or "made a change"]
        if self.changed_from:
            words.append(f"from {self.changed_from}")
        return " ".join(words)


Attributor = Callable[[str], ChangeAttribution | None]
"""rule id -> the change (who/what/where) behind a transition of that rule's finding, if known."""


class Finding(BaseModel):
    """One drift finding: what was expected, what was observed, and its lifecycle."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["driftwatch.finding/v1"] = Field(default="driftwatch.finding/v1", alias="schema")
    id: str
    rule_id: str
    title: str
    severity: Severity
    status: FindingStatus = "open"
    resource_id: str
    subscription_id: str
    workspace_name: str
    related_resource_id: str | None = None
    subject: str | None = None
    expected: Any = None
    actual: Any = None
    message: str
    remediation: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    source: Source
    baseline_sha256: str
    exemption: dict[str, Any] | None = None
    changed_by: str | None = Field(default=None, max_length=256)
    """Who made the change that led to the latest transition (event-driven only; a name, never a token)."""
    changed_from: str | None = Field(default=None, max_length=64)
    """The IP address that change came from, when the event says so."""
    change_event_id: str | None = Field(default=None, max_length=256)
    """Event Grid event id or audit record logId of that change."""
    change_summary: str | None = Field(default=None, max_length=200)
    """What the change did, in words ("disabled IP access lists"); never request values."""
    controls: list[dict[str, str]] | None = None
    """Optional (4.2): the framework controls the rule evidences (core/frameworks), added on output."""

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form (4.2): `schema` first, ISO-8601 times; attribution fields and `controls` only when
        known."""
        doc = self.model_dump(mode="json", by_alias=True)
        for name in (*ATTRIBUTION_FIELDS, "controls"):
            if doc.get(name) is None:
                doc.pop(name, None)
        return doc

    def attribution(self) -> ChangeAttribution | None:
        if not any(getattr(self, n) for n in ATTRIBUTION_FIELDS):
            return None
        return ChangeAttribution(**{n: getattr(self, n) for n in ATTRIBUTION_FIELDS})

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Finding:
        return cls.model_validate(data)

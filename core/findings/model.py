"""The Finding record (ARCHITECTURE 4.2) and the helpers every other layer shares."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FINDING_SCHEMA = "driftwatch.finding/v1"

Severity = Literal["critical", "high", "medium", "low", "info"]
FindingStatus = Literal["open", "resolved", "exempted"]
Source = Literal["event", "sweep", "cli"]

SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when `severity` ranks at or above `threshold` (both lower-case names)."""
    return SEVERITY_ORDER[severity] >= SEVERITY_ORDER[threshold]


def finding_id(resource_id: str, rule_id: str, subject: str | None) -> str:
    """Stable id: the same workspace + rule + subject always gives the same id.

    ARM ids (and NSG rule names, CIDRs, token ids) compare case-insensitively, so the key is
    lower-cased before hashing. 32 hex characters keep it a valid Table Storage RowKey.
    """
    key = "\x1f".join((resource_id.strip().casefold(), rule_id.upper(), (subject or "").strip().casefold()))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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
    controls: list[dict[str, str]] | None = None
    """Optional (4.2): the framework controls the rule evidences (core/frameworks), added on output."""

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form (4.2): `schema` first, ISO-8601 times; `controls` only when set."""
        return self.model_dump(mode="json", by_alias=True, exclude={"controls"} if self.controls is None else None)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Finding:
        return cls.model_validate(data)

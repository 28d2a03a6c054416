"""Findings: the driftwatch.finding/v1 record, severities and stable ids (no I/O)."""

from core.findings.model import (
    FINDING_SCHEMA,
    SEVERITY_ORDER,
    Finding,
    FindingStatus,
    Severity,
    Source,
    finding_id,
    severity_at_least,
)

__all__ = [
    "FINDING_SCHEMA",
    "SEVERITY_ORDER",
    "Finding",
    "FindingStatus",
    "Severity",
    "Source",
    "finding_id",
    "severity_at_least",
]

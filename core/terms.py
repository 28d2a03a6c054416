"""driftwatch's shared vocabulary, each term defined once (ARCHITECTURE 4.2, 4.4).

A leaf with no imports of its own, so the CLI's `--help`, the HTTP API's models, the store's query
validation and the cards all use these without loading pydantic or an SDK.
"""

from __future__ import annotations

import re
from typing import Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
"""Most severe first: the order of every count, column and choice list."""
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

FindingStatus = Literal["open", "resolved", "exempted"]
STATUSES: tuple[FindingStatus, ...] = ("open", "resolved", "exempted")

RULE_ID_PATTERN = r"^DBX-[A-Z]+-\d{3}$"
"""The shape of a rule id (ARCHITECTURE 4.4); the ids themselves are in the catalogue
(`core.catalogue.RULE_IDS`, from core/catalogue/rules.yaml)."""
RULE_ID_RE = re.compile(RULE_ID_PATTERN)


def severity_at_least(severity: str, threshold: str) -> bool:
    """True when `severity` ranks at or above `threshold` (both lower-case names)."""
    return SEVERITY_ORDER[severity] >= SEVERITY_ORDER[threshold]

# Message and document schema names (ARCHITECTURE 4): each written here once and imported where used.
TRANSITION_SCHEMA = "driftwatch.transition/v1"
FINDINGS_PAGE_SCHEMA = "driftwatch.findings-page/v1"
FINDINGS_SUMMARY_SCHEMA = "driftwatch.findings-summary/v1"
AUDIT_ROUTING_SCHEMA = "driftwatch.audit-routing/v1"

"""OCSF Compliance Finding events (class 2003) for SIEMs, built with `py-ocsf-models` (as Prowler does).

One event per finding: the finding's status, severity, the workspace as the resource, the framework
controls it evidences (core/frameworks), first/last seen. `--format ocsf` on scan, evaluate and
findings export prints them as one JSON array.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.findings.model import Finding
from core.frameworks import controls_for, framework

PRODUCT = "driftwatch"
_SEVERITY = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def _ms(dt: datetime | None) -> int | None:
    return None if dt is None else int(dt.timestamp() * 1000)


def compliance_finding(f: Finding) -> Any:
    """The `py_ocsf_models` ComplianceFinding for one driftwatch finding."""
    from py_ocsf_models.events.findings.activity_id import ActivityID
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
    from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
    from py_ocsf_models.events.findings.severity_id import SeverityID
    from py_ocsf_models.events.findings.status_id import StatusID
    from py_ocsf_models.objects.check import Check
    from py_ocsf_models.objects.compliance import Compliance
    from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
    from py_ocsf_models.objects.finding_info import FindingInformation
    from py_ocsf_models.objects.metadata import Metadata
    from py_ocsf_models.objects.product import Product
    from py_ocsf_models.objects.remediation import Remediation
    from py_ocsf_models.objects.resource_details import ResourceDetails

    activity = {"open": ActivityID.Create, "exempted": ActivityID.Update, "resolved": ActivityID.Close}[f.status]
    type_uid = {ActivityID.Create: ComplianceFindingTypeID.Create, ActivityID.Update: ComplianceFindingTypeID.Update,
                ActivityID.Close: ComplianceFindingTypeID.Close}[activity]
    status = {"open": StatusID.New, "exempted": StatusID.Suppressed, "resolved": StatusID.Resolved}[f.status]
    controls = controls_for(f.rule_id, ("cis", "mcsb"))
    standards = sorted({f"{framework(c.framework).title} v{c.version}" for c in controls})
    when = f.resolved_at if f.status == "resolved" and f.resolved_at else f.last_seen
    return ComplianceFinding(
        class_name="Compliance Finding",
        activity_id=activity,
        activity_name=activity.name,
        type_uid=type_uid,
        type_name=f"Compliance Finding: {activity.name}",
        severity_id=SeverityID(_SEVERITY[f.severity]),
        severity=SeverityID(_SEVERITY[f.severity]).name,
        status_id=status,
        status=status.name,
        message=f.message,
        time=_ms(when) or 0,
        metadata=Metadata(product=Product(name=PRODUCT, vendor_name=PRODUCT, uid=PRODUCT),
                          event_code=f.rule_id, uid=f"{f.id}-{_ms(when)}"),
        finding_info=FindingInformation(uid=f.id, title=f.title, desc=f.message, types=[f.rule_id],
                                        first_seen_time=_ms(f.first_seen), last_seen_time=_ms(f.last_seen),
                                        created_time=_ms(f.first_seen)),
        compliance=Compliance(
            control=f.rule_id,
            desc=f.title,
            standards=standards or None,
            requirements=[f"{c.framework.upper()} {c.control}" for c in controls] or None,
            checks=[Check(uid=f.rule_id, name=f.title, severity=f.severity,
                          status="Fail" if f.status != "resolved" else "Pass")],
            status_id=ComplianceStatusID.Pass if f.status == "resolved" else ComplianceStatusID.Fail,
        ),
        remediation=Remediation(desc=f.remediation),
        resources=[ResourceDetails(uid=f.resource_id, name=f.workspace_name, type="Microsoft.Databricks/workspaces",
                                   data={k: v for k, v in {"subject": f.subject, "related_resource_id":
                                         f.related_resource_id, "expected": f.expected, "actual": f.actual,
                                         "subscription_id": f.subscription_id}.items() if v is not None})],
        unmapped={"baseline_sha256": f.baseline_sha256, "source": f.source, "exemption": f.exemption,
                  "driftwatch_status": f.status},
    )


def ocsf_events(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """OCSF events as JSON-ready dicts (nulls dropped, enums as their integer ids)."""
    return [compliance_finding(f).model_dump(mode="json", exclude_none=True) for f in findings]


def ocsf_json(findings: Iterable[Finding]) -> str:
    return json.dumps(ocsf_events(findings), indent=2) + "\n"

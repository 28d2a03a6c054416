"""Findings as auditors ask for them: now, as of an instant, changed in a period, per framework control.

Shared by the HTTP API (functions/findings_api.py) and the CLI (core/cli/findings.py): both validate
their input into the `core.http_api` query models and call these functions, so they answer alike.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.findings.model import Finding
from core.frameworks import control_rules, rules_for, with_controls
from core.http_api import FindingQuery, FindingsQuery, SummaryQuery
from core.terms import FINDINGS_SUMMARY_SCHEMA, SEVERITIES, STATUSES

if TYPE_CHECKING:
    from core.store import TableFindingsStore, Transition



def finding_out(f: Finding) -> dict[str, Any]:
    """The wire form of a finding with its framework `controls` (ARCHITECTURE 4.2, optional field)."""
    return with_controls(f.to_json_dict())


def rule_filter(framework: str | None, control: str | None) -> frozenset[str] | None:
    """Rule ids a framework/control filter selects; None = no filter. A control without a framework
    matches that id in any framework (an id mapped to no rule selects nothing)."""
    if framework is None and control is None:
        return None
    if framework is not None:
        return rules_for(framework, control)
    from core.frameworks import FRAMEWORK_NAMES

    return frozenset().union(*(rules_for(fw, control) for fw in FRAMEWORK_NAMES))


def _historic(q: FindingsQuery | SummaryQuery) -> bool:
    return q.as_of is not None or q.since is not None or q.until is not None


def _matches(f: Finding, q: FindingsQuery, rules: frozenset[str] | None) -> bool:
    return ((q.status is None or f.status == q.status) and (q.severity is None or f.severity == q.severity)
            and (q.rule is None or f.rule_id == q.rule) and (rules is None or f.rule_id in rules))


def historic_findings(store: TableFindingsStore, q: FindingsQuery | SummaryQuery) -> list[Finding]:
    """Findings at `as_of` (or `until`), limited to those that changed in [since, until] when given."""
    state_at = q.as_of or q.until
    if q.since is not None or q.until is not None:
        changed = store.changes(q.since, q.until, workspace=q.workspace, subscription=q.subscription)
        if state_at is None:
            latest: dict[str, Finding] = {t.finding.id: t.finding for t in changed}
            return sorted(latest.values(), key=lambda f: (f.resource_id.lower(), f.rule_id, f.subject or "", f.id))
        ids = {t.finding.id for t in changed}
        return [f for f in store.findings_as_of(state_at, workspace=q.workspace, subscription=q.subscription)
                if f.id in ids]
    assert q.as_of is not None
    return store.findings_as_of(q.as_of, workspace=q.workspace, subscription=q.subscription)


def _query_hash(q: FindingsQuery) -> str:
    key = q.model_dump(mode="json", exclude={"top", "continuation", "format"})
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def query_findings(store: TableFindingsStore, q: FindingsQuery) -> tuple[list[Finding], str | None]:
    """One page of findings for the query, and an opaque token for the next page."""
    from core.store.queries import _decode_token, _encode_token

    rules = rule_filter(q.framework, q.control)
    if not _historic(q):
        token = q.continuation
        while True:
            page, token = store.query(status=q.status, severity=q.severity, rule=q.rule, workspace=q.workspace,
                                      subscription=q.subscription, top=q.top, continuation=token)
            page = [f for f in page if rules is None or f.rule_id in rules]
            if page or token is None:
                return page, token
    qhash = _query_hash(q)
    offset = 0
    if q.continuation:
        raw = _decode_token(q.continuation, qhash).get("offset", "")
        if not raw.isdigit():
            from core.store import InvalidContinuation

            raise InvalidContinuation()
        offset = int(raw)
    items = [f for f in historic_findings(store, q) if _matches(f, q, rules)]
    page = items[offset:offset + q.top]
    more = offset + q.top < len(items)
    return page, (_encode_token({"offset": str(offset + q.top)}, qhash) if more else None)


def export_findings(store: TableFindingsStore, q: FindingsQuery) -> list[Finding]:
    """Every finding the query selects (all pages)."""
    rules = rule_filter(q.framework, q.control)
    if not _historic(q):
        return [f for f in store.export(status=q.status, severity=q.severity, rule=q.rule, workspace=q.workspace,
                                        subscription=q.subscription) if rules is None or f.rule_id in rules]
    return [f for f in historic_findings(store, q) if _matches(f, q, rules)]


def finding_detail(store: TableFindingsStore, finding_id: str, q: FindingQuery) -> dict[str, Any]:
    """The finding (now, or as it stood at `as_of`) plus its transitions (up to `as_of`, within [since, until])."""
    from core.store import FindingNotFound
    from core.store.queries import FINDING_ID_RE

    if not FINDING_ID_RE.match(finding_id or ""):
        raise FindingNotFound(finding_id)
    if q.as_of is None:
        finding, history = store.get(finding_id)
    else:
        history = store.finding_history(finding_id, until=q.as_of)
        if not history:
            raise FindingNotFound(finding_id)
        finding = history[-1].finding
    history = [t for t in history if (q.since is None or t.at >= q.since) and (q.until is None or t.at <= q.until)]
    out = {**finding_out(finding), "history": [t.message() for t in history]}
    if q.as_of is not None:
        from core.store.keys import iso_z

        out["as_of"] = iso_z(q.as_of)
    return out


def _counts(findings: list[Finding]) -> dict[str, Any]:
    by_status: Counter[str] = Counter(f.status for f in findings)
    by_severity: Counter[str] = Counter(f.severity for f in findings)
    open_sev: Counter[str] = Counter(f.severity for f in findings if f.status == "open")
    return {
        "schema": FINDINGS_SUMMARY_SCHEMA,
        "total": len(findings),
        "by_status": {s: by_status[s] for s in STATUSES},
        "by_severity": {s: by_severity[s] for s in SEVERITIES},
        "open_by_severity": {s: open_sev[s] for s in SEVERITIES},
        "by_rule": dict(sorted(Counter(f.rule_id for f in findings).items())),
        "by_workspace": dict(sorted(Counter(f.resource_id.lower() for f in findings).items())),
    }


def summary(store: TableFindingsStore, q: SummaryQuery) -> dict[str, Any]:
    """Counts by status, severity, rule and workspace; transitions by kind with since/until; per control."""
    from core.store.keys import iso_z

    rules = rule_filter(q.framework, q.control)
    plain = not _historic(q) and rules is None and q.workspace is None and q.subscription is None
    if plain:
        return store.summary()
    if q.as_of is not None:
        findings = store.findings_as_of(q.as_of, workspace=q.workspace, subscription=q.subscription)
    else:
        findings = list(store.export(workspace=q.workspace, subscription=q.subscription))
    findings = [f for f in findings if rules is None or f.rule_id in rules]
    out = _counts(findings)
    for name in ("as_of", "since", "until"):
        value: datetime | None = getattr(q, name)
        if value is not None:
            out[name] = iso_z(value)
    if q.since is not None or q.until is not None:
        changed: list[Transition] = store.changes(q.since, q.until, workspace=q.workspace,
                                                  subscription=q.subscription)
        kinds = Counter(t.transition for t in changed if rules is None or t.finding.rule_id in rules)
        out["transitions"] = {k: kinds[k] for k in ("opened", "resolved", "reopened", "exempted")}
    if q.framework is not None:
        by_control: dict[str, dict[str, int]] = {}
        for control, mapped in control_rules(q.framework).items():
            if q.control is not None and control != q.control:
                continue
            c: Counter[str] = Counter(f.status for f in findings if f.rule_id in mapped)
            by_control[control] = {s: c[s] for s in STATUSES}
        out["by_control"] = by_control
    return out

"""The evidence report for auditors: posture at an instant, per control and workspace, as one file.

`build_report` reads the store (findings or their reconstruction as of T, rule coverage, transitions
in the period); `render_html` writes one self-contained HTML document (inline CSS, no scripts, no
external assets, print styles for PDF). All estate text is escaped. (`core/report.py` is the
unrelated table/CSV/JSON output of scans and finding lists.)
"""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.arm_ids import parse_arm_id
from core.findings.model import SEVERITY_ORDER, Finding
from core.frameworks import control_rules, control_status, framework, with_controls
from core.terms import SEVERITIES

if TYPE_CHECKING:
    from core.store import TableFindingsStore

REPORT_SCHEMA = "driftwatch.evidence-report/v1"
EVAL_RULES = ("DBX-EVAL-001", "DBX-EVAL-002")


class FrameworkInfo(BaseModel):
    name: str
    title: str
    version: str
    source: str


class ControlRow(BaseModel):
    control: str
    title: str
    rules: list[str]
    passed: int
    failed: int
    not_evaluated: int


class WorkspaceRow(BaseModel):
    resource_id: str
    name: str
    subscription_id: str
    coverage_at: datetime | None
    open_findings: int
    controls: dict[str, Literal["pass", "fail", "not_evaluated"]]


class ExemptionRow(BaseModel):
    finding_id: str
    rule_id: str
    workspace_name: str
    resource_id: str
    subject: str | None
    status: str
    reason: str | None
    approved_by: str | None
    expires: str | None
    expired: bool


class BaselineExemptionRow(BaseModel):
    """An exemption as the baseline declares it, whether or not any finding uses it now."""

    rule: str
    resource: str
    subject: str | None
    reason: str
    approved_by: str | None
    expires: str
    expired: bool
    findings: int = Field(description="findings in this report carrying this exemption")


class TransitionRow(BaseModel):
    at: datetime
    transition: str
    finding_id: str
    rule_id: str
    severity: str
    workspace_name: str
    subject: str | None


class NotObservedRow(BaseModel):
    resource_id: str
    name: str
    reason: str


class EvidenceReport(BaseModel):
    """The JSON form of the report (`--format json`, `GET /api/report?format=json`)."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["driftwatch.evidence-report/v1"] = Field(default="driftwatch.evidence-report/v1", alias="schema")
    generated_at: datetime
    as_of: datetime
    since: datetime | None
    reconstructed: bool = Field(description="true when the posture was rebuilt from findinghistory (as_of given)")
    framework: FrameworkInfo
    subscriptions: list[str] | None = Field(description="the scope; null = every subscription in the store")
    baseline_sha256: list[str]
    workspaces_total: int
    by_severity: dict[str, int] = Field(description="open findings by severity")
    by_status: dict[str, int]
    controls: list[ControlRow]
    workspaces: list[WorkspaceRow]
    open_findings: list[dict[str, Any]]
    exemptions: list[ExemptionRow]
    baseline_exemptions: list[BaselineExemptionRow] | None = Field(
        description="every exemption of the baseline the report was built with; null when it was not available")
    baseline_file_sha256: str | None = None
    transitions: list[TransitionRow]
    not_observed: list[NotObservedRow]


def _ws_name(resource_id: str) -> str:
    try:
        return str(parse_arm_id(resource_id).get("name") or resource_id)
    except (ValueError, TypeError, KeyError):
        return resource_id


def _sub_of(resource_id: str) -> str:
    try:
        return str(parse_arm_id(resource_id).get("subscription") or "").lower()
    except (ValueError, TypeError, KeyError):
        return ""


def _expired(exemption: dict[str, Any] | None, at: datetime) -> bool:
    expires = (exemption or {}).get("expires")
    if not expires:
        return False
    try:
        return date.fromisoformat(str(expires)[:10]) < at.date()
    except ValueError:
        return False


def build_report(store: TableFindingsStore, *, as_of: datetime | None = None, since: datetime | None = None,
                 framework_name: str = "cis", subscriptions: Iterable[str] | None = None,
                 now: datetime | None = None, baseline: Any = None) -> EvidenceReport:
    """Assemble the report from the store. `as_of` None = the current state (the `findings` table)."""
    now = now or datetime.now(UTC)
    at = as_of or now
    subs = sorted({s.strip().lower() for s in subscriptions}) if subscriptions else None
    fw = framework(framework_name)
    controls = control_rules(framework_name)

    scopes: list[str | None] = list(subs) if subs else [None]
    if as_of is not None:
        findings = [f for sub in scopes for f in store.findings_as_of(as_of, subscription=sub)]
        coverage = store.coverage(as_of)
    else:
        findings = [f for sub in scopes for f, _ in store.current_findings(subscription=sub)]
        coverage = store.coverage(None)
    if subs is not None:
        coverage = {k: v for k, v in coverage.items() if _sub_of(k) in subs}
    transitions: list[dict[str, Any]] = []
    if since is not None:
        transitions = [t for sub in scopes for t in store.change_rows(since, at, subscription=sub)]
        transitions.sort(key=lambda t: (t["at"], t["finding_id"]))

    by_ws: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_ws[f.resource_id.lower()].append(f)
    ws_ids = sorted(set(by_ws) | set(coverage))
    names: dict[str, str] = {}
    subs_of: dict[str, str] = {}
    for wid in ws_ids:
        fs = by_ws.get(wid)
        names[wid] = fs[0].workspace_name if fs else _ws_name(wid)
        subs_of[wid] = fs[0].subscription_id.lower() if fs else _sub_of(wid)

    counts: dict[str, Counter[str]] = {c: Counter() for c in controls}
    ws_rows: list[WorkspaceRow] = []
    not_observed: list[NotObservedRow] = []
    for wid in ws_ids:
        fs = by_ws.get(wid, [])
        open_rules = {f.rule_id for f in fs if f.status == "open"}
        cov = coverage.get(wid)
        checked = set(cov["rules"]) if cov else set()
        statuses = {c: control_status(rules, checked, open_rules) for c, rules in controls.items()}
        for c, s in statuses.items():
            counts[c][s] += 1
        ws_rows.append(WorkspaceRow(resource_id=wid, name=names[wid], subscription_id=subs_of[wid],
                                    coverage_at=cov["at"] if cov else None,
                                    open_findings=sum(1 for f in fs if f.status == "open"), controls=statuses))
        if cov is None:
            not_observed.append(NotObservedRow(resource_id=wid, name=names[wid],
                                               reason="no record of which rules were checked (never scanned "
                                                      "since coverage is recorded): every control not evaluated"))
        for f in fs:
            if f.rule_id in EVAL_RULES and f.status == "open":
                not_observed.append(NotObservedRow(resource_id=wid, name=names[wid],
                                                   reason=f"{f.rule_id}: {f.message}"))
        if cov is not None:
            missing = sorted({r for rules in controls.values() for r in rules} - checked)
            if missing:
                not_observed.append(NotObservedRow(resource_id=wid, name=names[wid],
                                                   reason="not checked (not observed, not applicable or disabled): "
                                                          + ", ".join(missing)))

    open_findings = sorted((f for f in findings if f.status == "open"),
                           key=lambda f: (-SEVERITY_ORDER[f.severity], f.workspace_name.lower(), f.rule_id,
                                          f.subject or ""))
    exemptions = [ExemptionRow(finding_id=f.id, rule_id=f.rule_id, workspace_name=f.workspace_name,
                               resource_id=f.resource_id, subject=f.subject, status=f.status,
                               reason=(f.exemption or {}).get("reason"),
                               approved_by=(f.exemption or {}).get("approved_by"),
                               expires=str((f.exemption or {}).get("expires")) if (f.exemption or {}).get("expires")
                               else None, expired=_expired(f.exemption, at))
                  for f in sorted(findings, key=lambda f: (f.workspace_name.lower(), f.rule_id, f.subject or ""))
                  if f.exemption and f.status in ("exempted", "open")]
    baseline_rows = None
    if baseline is not None:
        used = Counter((f.rule_id, (f.exemption or {}).get("reason"), str((f.exemption or {}).get("expires")))
                       for f in findings if f.exemption)
        baseline_rows = [BaselineExemptionRow(rule=x.rule, resource=x.resource, subject=x.subject, reason=x.reason,
                                              approved_by=x.approved_by, expires=x.expires.isoformat(),
                                              expired=x.expires < at.date(),
                                              findings=used[(x.rule, x.reason, x.expires.isoformat())])
                         for x in baseline.document.exemptions]
    shas = sorted({f.baseline_sha256 for f in findings} | {c["baseline_sha256"] for c in coverage.values()
                                                          if c.get("baseline_sha256")})
    return EvidenceReport(
        generated_at=now, as_of=at, since=since, reconstructed=as_of is not None,
        framework=FrameworkInfo(name=framework_name, title=fw.title, version=fw.version, source=fw.source),
        subscriptions=subs, baseline_sha256=shas, workspaces_total=len(ws_ids),
        by_severity={s: sum(1 for f in open_findings if f.severity == s) for s in SEVERITIES},
        by_status=dict(Counter(f.status for f in findings)),
        controls=[ControlRow(control=c, title=fw.controls[c], rules=rules, passed=counts[c]["pass"],
                             failed=counts[c]["fail"], not_evaluated=counts[c]["not_evaluated"])
                  for c, rules in controls.items()],
        workspaces=ws_rows,
        open_findings=[with_controls(f.to_json_dict(), [framework_name]) for f in open_findings],
        exemptions=exemptions,
        baseline_exemptions=baseline_rows,
        baseline_file_sha256=baseline.sha256 if baseline is not None else None,
        transitions=[TransitionRow(**t) for t in transitions],
        not_observed=not_observed,
    )


def report_json(report: EvidenceReport) -> str:
    return report.model_dump_json(by_alias=True, indent=1) + "\n"


# ------------------------------------------------------------------ HTML

_CSS = """
*{box-sizing:border-box}body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;
margin:24px;max-width:1200px}h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;
border-bottom:2px solid #1b1f24;padding-bottom:2px}table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid #c8ccd1;padding:3px 6px;text-align:left;vertical-align:top;word-break:break-word}
th{background:#eef0f3}thead{display:table-header-group}tr{page-break-inside:avoid;break-inside:avoid}
.meta td:first-child{font-weight:600;width:200px}.mono{font-family:ui-monospace,Consolas,monospace;font-size:11px}
.pass{background:#dff3e4}.fail{background:#fbe0e0;font-weight:600}.not_evaluated{background:#eceff3;color:#444}
.sev-critical{color:#8b0000;font-weight:700}.sev-high{color:#b3261e;font-weight:600}.expired{color:#b3261e;
font-weight:700}.num{text-align:right}.note{color:#555}
@media print{body{margin:0;max-width:none;font-size:10px}h2{break-after:avoid;page-break-after:avoid}
@page{size:A4 landscape;margin:12mm}}
"""
_STATUS_TEXT = {"pass": "pass", "fail": "FAIL", "not_evaluated": "not evaluated"}


def _e(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return html.escape(value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ"))
    return html.escape(str(value), quote=True)


def render_html(report: EvidenceReport) -> str:
    """One self-contained HTML document (no scripts, no external references)."""
    r = report
    fw = r.framework
    out: list[str] = []
    w = out.append
    w("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">")
    w("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">")
    w(f"<title>driftwatch evidence report — {_e(fw.title)} — {_e(r.as_of)}</title><style>{_CSS}</style></head><body>")
    w(f"<h1>Evidence report: {_e(fw.title)} v{_e(fw.version)}</h1>")
    w("<table class=\"meta\" id=\"scope\"><tbody>")
    scope = ", ".join(r.subscriptions) if r.subscriptions else "all subscriptions in the findings store"
    rows = [("Posture as of", _e(r.as_of) + (" (reconstructed from findinghistory)" if r.reconstructed else
                                             " (current state)")),
            ("Changes listed since", _e(r.since) if r.since else "— (no period requested)"),
            ("Scope", _e(scope)), ("Workspaces", str(r.workspaces_total)),
            ("Baseline sha256", "<br>".join(f"<span class=\"mono\">{_e(s)}</span>" for s in r.baseline_sha256)
             or "— (none recorded)"),
            ("Framework source", _e(fw.source)), ("Generated", _e(r.generated_at))]
    for k, v in rows:
        w(f"<tr><td>{k}</td><td>{v}</td></tr>")
    w("</tbody></table>")

    w("<h2 id=\"summary\">Summary</h2><table><thead><tr><th>open findings</th>")
    w("".join(f"<th>{s}</th>" for s in SEVERITIES) + "<th>exempted</th><th>resolved</th></tr></thead><tbody><tr>")
    w(f"<td class=\"num\">{sum(r.by_severity.values())}</td>")
    w("".join(f"<td class=\"num\">{r.by_severity.get(s, 0)}</td>" for s in SEVERITIES))
    w(f"<td class=\"num\">{r.by_status.get('exempted', 0)}</td><td class=\"num\">{r.by_status.get('resolved', 0)}</td>")
    w("</tr></tbody></table>")
    w("<table id=\"controls\"><thead><tr><th>control</th><th>title</th><th>rules</th><th>pass</th><th>fail</th>"
      "<th>not evaluated</th></tr></thead><tbody>")
    for c in r.controls:
        w(f"<tr><td>{_e(c.control)}</td><td>{_e(c.title)}</td><td class=\"mono\">{_e(', '.join(c.rules))}</td>"
          f"<td class=\"num pass\">{c.passed}</td><td class=\"num fail\">{c.failed}</td>"
          f"<td class=\"num not_evaluated\">{c.not_evaluated}</td></tr>")
    w("</tbody></table><p class=\"note\">A control passes for a workspace only when every rule mapped to it was "
      "checked there and none has an open finding; not evaluated is never counted as a pass.</p>")

    w("<h2 id=\"per-workspace\">Controls per workspace</h2><table><thead><tr><th>workspace</th>"
      "<th>subscription</th><th>open</th>")
    w("".join(f"<th>{_e(c.control)}</th>" for c in r.controls) + "</tr></thead><tbody>")
    for ws in r.workspaces:
        cells = "".join(f"<td class=\"{s}\">{_STATUS_TEXT[s]}</td>" for s in ws.controls.values())
        w(f"<tr><td title=\"{_e(ws.resource_id)}\">{_e(ws.name)}</td><td class=\"mono\">{_e(ws.subscription_id)}"
          f"</td><td class=\"num\">{ws.open_findings}</td>{cells}</tr>")
    w("</tbody></table>")

    w(f"<h2 id=\"open-findings\">Open findings ({len(r.open_findings)})</h2><table><thead><tr><th>severity</th>"
      "<th>rule</th><th>controls</th><th>workspace</th><th>subject</th><th>message</th><th>first seen</th>"
      "</tr></thead><tbody>")
    for f in r.open_findings:
        ctl = ", ".join(c["control"] for c in f.get("controls") or [])
        w(f"<tr><td class=\"sev-{_e(f['severity'])}\">{_e(f['severity'])}</td><td>{_e(f['rule_id'])}</td>"
          f"<td>{_e(ctl)}</td><td>{_e(f['workspace_name'])}</td><td>{_e(f.get('subject'))}</td>"
          f"<td>{_e(f['message'])}</td><td>{_e(str(f['first_seen'])[:19])}</td></tr>")
    w("</tbody></table>")

    w(f"<h2 id=\"exemptions\">Exemptions ({len(r.exemptions)})</h2><table><thead><tr><th>rule</th>"
      "<th>workspace</th><th>subject</th><th>reason</th><th>approved by</th><th>expires</th><th>status</th>"
      "</tr></thead><tbody>")
    for x in r.exemptions:
        exp = f"<span class=\"expired\">{_e(x.expires)} EXPIRED</span>" if x.expired else _e(x.expires)
        w(f"<tr><td>{_e(x.rule_id)}</td><td>{_e(x.workspace_name)}</td><td>{_e(x.subject)}</td><td>{_e(x.reason)}"
          f"</td><td>{_e(x.approved_by)}</td><td>{exp}</td><td>{_e(x.status)}</td></tr>")
    w("</tbody></table>")

    w("<h3 id=\"baseline-exemptions\">Exemptions declared in the baseline</h3>")
    if r.baseline_exemptions is None:
        w("<p class=\"note\">The baseline was not available to the report; the table above lists the exemptions "
          "recorded on findings.</p>")
    else:
        w(f"<p class=\"note\">Baseline file sha256 <span class=\"mono\">{_e(r.baseline_file_sha256)}</span></p>")
        w("<table><thead><tr><th>rule</th><th>resource</th><th>subject</th><th>reason</th><th>approved by</th>"
          "<th>expires</th><th>findings</th></tr></thead><tbody>")
        for b in r.baseline_exemptions:
            exp = f"<span class=\"expired\">{_e(b.expires)} EXPIRED</span>" if b.expired else _e(b.expires)
            w(f"<tr><td>{_e(b.rule)}</td><td class=\"mono\">{_e(b.resource)}</td><td>{_e(b.subject)}</td>"
              f"<td>{_e(b.reason)}</td><td>{_e(b.approved_by)}</td><td>{exp}</td>"
              f"<td class=\"num\">{b.findings}</td></tr>")
        w("</tbody></table>")

    w(f"<h2 id=\"transitions\">Transitions in the period ({len(r.transitions)})</h2>")
    if r.since is None:
        w("<p class=\"note\">No period requested (pass --since / since=).</p>")
    else:
        w("<table><thead><tr><th>at</th><th>transition</th><th>severity</th><th>rule</th><th>workspace</th>"
          "<th>subject</th></tr></thead><tbody>")
        for t in r.transitions:
            w(f"<tr><td>{_e(t.at)}</td><td>{_e(t.transition)}</td><td>{_e(t.severity)}</td><td>{_e(t.rule_id)}</td>"
              f"<td>{_e(t.workspace_name)}</td><td>{_e(t.subject)}</td></tr>")
        w("</tbody></table>")

    w(f"<h2 id=\"not-observed\">What could not be observed ({len(r.not_observed)})</h2><table><thead><tr>"
      "<th>workspace</th><th>reason</th></tr></thead><tbody>")
    for n in r.not_observed:
        w(f"<tr><td title=\"{_e(n.resource_id)}\">{_e(n.name)}</td><td>{_e(n.reason)}</td></tr>")
    w("</tbody></table></body></html>\n")
    return "".join(out)

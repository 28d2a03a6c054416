"""Output formats for findings: a readable table, the JSON scan document, CSV."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter
from collections.abc import Iterable
from typing import Any

from core.evaluate import ScanResult, sort_findings
from core.findings.model import Finding

CSV_COLUMNS = ["id", "rule_id", "title", "severity", "status", "resource_id", "subscription_id",
               "workspace_name", "related_resource_id", "subject", "expected", "actual", "message",
               "remediation", "first_seen", "last_seen", "resolved_at", "source", "baseline_sha256", "exemption"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    # Spreadsheet formula injection: a cell starting with = + - @ would be evaluated by Excel.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def findings_csv(findings: Iterable[Finding]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for f in findings:
        d = f.to_json_dict()
        w.writerow([_cell(d.get(c)) for c in CSV_COLUMNS])
    return buf.getvalue()


def _trunc(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def findings_table(findings: list[Finding], *, width: int | None = None) -> str:
    width = width or max(shutil.get_terminal_size((140, 24)).columns, 100)
    rows = [(f.severity.upper(), f.status, f.rule_id, f.workspace_name, f.subject or "-", f.message)
            for f in sort_findings(findings)]
    head = ("SEVERITY", "STATUS", "RULE", "WORKSPACE", "SUBJECT", "MESSAGE")
    if not rows:
        return "No findings.\n"
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(5)]
    widths[3] = min(widths[3], 24)
    widths[4] = min(widths[4], 28)
    msg_w = max(width - sum(widths) - 2 * 5, 30)
    lines = ["  ".join(h.ljust(widths[i]) if i < 5 else h for i, h in enumerate(head))]
    for r in rows:
        cells = [_trunc(r[i], widths[i]).ljust(widths[i]) for i in range(5)] + [_trunc(r[5], msg_w)]
        lines.append("  ".join(cells))
    return "\n".join(lines) + "\n"


def summary_line(result: ScanResult) -> str:
    findings = result.findings
    by_status = Counter(f.status for f in findings)
    by_sev = Counter(f.severity for f in findings if f.status == "open")
    sev = ", ".join(f"{by_sev[s]} {s}" for s in ("critical", "high", "medium", "low", "info") if by_sev[s])
    text = (f"{result.workspaces_scanned} workspaces scanned: {by_status['open']} open findings"
            + (f" ({sev})" if sev else "") + f", {by_status['exempted']} exempted")
    if result.errors:
        text += f"; {len(result.errors)} could not be fully evaluated"
    na = result.not_applicable
    if na:
        text += f"; {len(na)} checks not applicable"
    if result.skipped:
        text += f"; {len(result.skipped)} skipped"
    return text


def not_applicable_lines(result: ScanResult) -> list[str]:
    """One short line per workspace: which rules did not apply and why (not a pass)."""
    lines = []
    for ev in result.evaluations:
        grouped: dict[str, list[str]] = {}
        for n in ev.not_applicable:
            why = n.reason.removeprefix("not applicable: ").split(" (")[0].split(",")[0]
            grouped.setdefault(why, []).append(n.rule_id + (f" ({n.subject})" if n.subject else ""))
        if grouped:
            parts = "; ".join(f"{', '.join(rules)}: {why}" for why, rules in grouped.items())
            lines.append(f"  {ev.resource_id.rsplit('/', 1)[-1]}: {parts}\n")
    return lines


def scan_table(result: ScanResult) -> str:
    out = [findings_table(result.findings), summary_line(result) + "\n"]
    if result.errors:
        out.append("Not fully evaluated:\n")
        out.extend(f"  {e['resource_id']} [{e['stage']}]: {e['message']}\n" for e in result.errors)
    na = not_applicable_lines(result)
    if na:
        out.append("Not applicable (no finding, not a pass):\n")
        out.extend(na)
    if result.skipped:
        out.append("Skipped (not evaluated this round):\n")
        out.extend(f"  {s['resource_id']}: {s['reason']}\n" for s in result.skipped)
    return "".join(out)


def render(result: ScanResult, fmt: str) -> str:
    if fmt == "ocsf":
        from core.ocsf import ocsf_json

        return ocsf_json(sort_findings(result.findings))
    if fmt == "json":
        return json.dumps(result.document(), indent=2) + "\n"
    if fmt == "csv":
        return findings_csv(sort_findings(result.findings))
    return scan_table(result)

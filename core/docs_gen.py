"""Generate docs/rules.md from the rule registry (`make docs`); a test fails when it is stale."""

from __future__ import annotations

import sys

from core.rules import RULES


def render_rules_markdown() -> str:
    lines = [
        "# driftwatch rule catalogue",
        "",
        "Generated from `core/rules` by `make docs` (python -m core.docs_gen); do not edit by hand.",
        "Severities are defaults; a baseline may override them (`defaults.severity`) or disable rules.",
        "A rule is *not applicable* to a workspace in the situation its last column names: no finding, never",
        "a pass, listed in the scan output's `not_applicable`.",
        "",
        "| id | severity | title | reads | needs | not applicable when |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in RULES.values():
        na = r.metadata()["not_applicable_when"] or "-"
        lines.append(f"| {r.id} | {r.severity} | {r.title} | {r.reads.replace('|', '/')} | {r.needs} | {na} |")
    lines += ["", "## Remediation", ""]
    for r in RULES.values():
        lines += [f"### {r.id} — {r.title}", "", r.remediation, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_rules_markdown())

"""Generate docs/rules.md (rules and their framework controls) and docs/openapi.json (`make docs`).

Tests fail when either file is stale.
"""

from __future__ import annotations

import sys

from core.frameworks import controls_for, load_frameworks
from core.rules import RULES


def _cell(text: str) -> str:
    return text.replace("|", "/")


def render_rules_markdown() -> str:
    data = load_frameworks()
    lines = [
        "# driftwatch rule catalogue",
        "",
        "Generated from `core/rules` and `core/frameworks/mappings.yaml` by `make docs` (python -m core.docs_gen);",
        "do not edit by hand. Severities are defaults; a baseline may override them (`defaults.severity`) or",
        "disable rules. A rule is *not applicable* to a workspace in the situation its column names: no finding,",
        "never a pass, listed in the scan output's `not_applicable`.",
        "",
        "| id | severity | title | reads | needs | not applicable when | CIS | MCSB | SAT |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in RULES.values():
        na = r.metadata()["not_applicable_when"] or "-"
        refs = controls_for(r.id)
        cols = [", ".join(c.control for c in refs if c.framework == fw) or "—" for fw in ("cis", "mcsb", "sat")]
        lines.append(f"| {r.id} | {r.severity} | {r.title} | {_cell(r.reads)} | {r.needs} | {_cell(na)} | "
                     + " | ".join(cols) + " |")
    lines += ["", "## Compliance frameworks", "",
              "A control passes for a workspace only when every rule mapped to it was checked there and none of them",
              "has an open finding; a rule that was not observed (DBX-EVAL), not applicable or disabled makes the",
              "control *not evaluated*, never a pass. `driftwatch rules --framework cis|mcsb|sat` lists the mapping;",
              "`framework=`/`control=` (`--framework`/`--control`) filter findings and summaries.", ""]
    for name, fw in data.frameworks.items():
        lines += [f"### {name}: {fw.title}, version {fw.version}", "", f"Source: {fw.source}", "",
                  "| control | title | rules |", "| --- | --- | --- |"]
        for control, title in fw.controls.items():
            rules = [r for r, per in data.mappings.items() if control in per.get(name, [])]
            lines.append(f"| {control} | {_cell(title)} | {', '.join(rules)} |")
        lines.append("")
    lines += ["### Rules without a control", "", "| rule | why |", "| --- | --- |"]
    for rule_id, why in data.unmapped.items():
        lines.append(f"| {rule_id} | {_cell(why)} |")
    for rule_id, reasons in data.unmapped_for.items():
        for fw_name, reason in reasons.items():
            lines.append(f"| {rule_id} (no {fw_name}) | {_cell(reason)} |")
    from core.baseline.profiles import WORKSPACE_CONF_PROFILES
    from core.rules.data.workspace_conf_defaults import platform_default

    lines += ["", "## Workspace-conf profiles (DBX-CONF-001)", "",
              "`workspace_conf_profile: <name>` in a baseline adds these keys under its own `workspace_conf` (keys",
              "named there win). An unset key counts as its platform default; where the default is not known the",
              "unset key is a finding (unknown is not compliant).", ""]
    for name, keys in WORKSPACE_CONF_PROFILES.items():
        lines += [f"### {name}", "", "| key | expected | platform default (unset) | why |", "| --- | --- | --- | --- |"]
        for key, (value, why) in keys.items():
            lines.append(f"| {key} | {value} | {platform_default(key) or 'not known'} | {_cell(why)} |")
        lines.append("")
    lines += ["## Remediation", ""]
    for r in RULES.values():
        lines += [f"### {r.id} — {r.title}", "", r.remediation, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--openapi"]:
        from core.http_api import openapi_json

        sys.stdout.write(openapi_json())
    else:
        sys.stdout.write(render_rules_markdown())

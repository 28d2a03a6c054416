"""The `driftwatch` command: its parser, the dispatch and the offline commands (ARCHITECTURE 4.1).

Imports are lazy: `driftwatch --help` must not pay for pydantic, the Azure SDKs or databricks-sdk.
Exit codes: 0 done and nothing at/above --fail-on; 1 findings at/above --fail-on; 2 invalid input;
3 some workspaces could not be evaluated.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.cli import findings, ops, scan
from core.cli.common import EXIT_INPUT, EXIT_OK, SEVERITIES, CliInputError, emit, exit_for, load_baseline_flag


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.evaluate import evaluate_states
    from core.report import render
    from core.state import load_estate

    baseline = load_baseline_flag(args.baseline)
    estate = load_estate(args.state)
    states, errors = estate.workspace_states()
    result = evaluate_states(states, baseline, source="cli", errors=errors, skipped=estate.skipped)
    emit(render(result, args.format))
    return exit_for(result, args.fail_on)


def cmd_route_event(args: argparse.Namespace) -> int:
    from core.events import ROUTING_SCHEMA, EventParseError, Topology, route_delivery
    from core.state import load_estate

    topology = Topology()
    if args.state:
        topology = Topology.from_footprints(load_estate(args.state).network_footprints())
    try:
        with open(args.events, "rb") as fh:
            payload = fh.read()
    except OSError as exc:
        raise CliInputError(f"{args.events}: cannot read ({exc.strerror or exc})") from None
    try:
        decisions = route_delivery(payload, topology)
    except EventParseError as exc:
        raise CliInputError(f"{args.events}: {exc}") from None
    doc = {"schema": ROUTING_SCHEMA, "decisions": [d.contract_dict() for d in decisions]}
    emit(json.dumps(doc, indent=2) + "\n")
    return EXIT_OK


def cmd_baseline_validate(args: argparse.Namespace) -> int:
    baseline = load_baseline_flag(args.path)
    doc = baseline.document
    emit(f"{args.path}: valid driftwatch.baseline/v1 (sha256 {baseline.sha256}); "
          f"{len(doc.scopes)} scope(s), {len(doc.exemptions)} exemption(s)\n")
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    from core.frameworks import controls_for, framework, rules_for
    from core.rules import RULES

    rules = [{**r.metadata(), "controls": [c.model_dump() for c in controls_for(r.id)]} for r in RULES.values()]
    if args.framework:
        mapped = rules_for(args.framework)
        rules = [r for r in rules if r["id"] in mapped]
    if args.format == "json":
        doc: dict[str, Any] = {"schema": "driftwatch.rules/v1", "rules": rules}
        if args.framework:
            fw = framework(args.framework)
            doc["framework"] = {"name": args.framework, "title": fw.title, "version": fw.version, "source": fw.source}
        emit(json.dumps(doc, indent=2) + "\n")
    elif args.framework:
        fw = framework(args.framework)
        lines = [f"{fw.title} v{fw.version}"]
        for r in rules:
            ids = ", ".join(c["control"] for c in r["controls"] if c["framework"] == args.framework)
            lines.append(f"{r['id']:<14} {ids:<16} {r['title']}")
        emit("\n".join(lines) + "\n")
    else:
        w = max(len(r["title"]) for r in rules)
        emit("".join(f"{r['id']:<14} {r['severity']:<9} {r['title']:<{w}}\n" for r in rules))
    return EXIT_OK


def cmd_emulator(args: argparse.Namespace, rest: list[str]) -> int:
    from emulator.cli import main as emulator_main

    return emulator_main(rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="driftwatch",
                                description="Compliance and drift detection for Azure Databricks workspaces.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def output_flags(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--format", choices=("table", "json", "csv", "ocsf"), default="table",
                        help="ocsf: one JSON array of OCSF Compliance Finding events")
        sp.add_argument("--fail-on", choices=SEVERITIES, default=None,
                        help="exit 1 when an open finding is at or above this severity")

    ev = sub.add_parser("evaluate", help="evaluate a driftwatch.estate/v1 snapshot offline (no network)")
    ev.add_argument("--state", required=True, metavar="SNAPSHOT.json")
    ev.add_argument("--baseline", metavar="P")
    output_flags(ev)
    ev.set_defaults(func=cmd_evaluate)

    re_ = sub.add_parser("route-event", help="route an Event Grid delivery offline (no network)")
    re_.add_argument("events", metavar="EVENTS.json")
    re_.add_argument("--state", metavar="SNAPSHOT.json", help="topology source (which workspace uses which network)")
    re_.set_defaults(func=cmd_route_event)

    bl = sub.add_parser("baseline", help="baseline tools")
    bl_sub = bl.add_subparsers(dest="baseline_command", required=True, metavar="ACTION")
    bv = bl_sub.add_parser("validate", help="validate a baseline file")
    bv.add_argument("path", metavar="P")
    bv.set_defaults(func=cmd_baseline_validate)

    ru = sub.add_parser("rules", help="list the rule catalogue")
    ru.add_argument("--format", choices=("table", "json"), default="table")
    ru.add_argument("--framework", choices=("cis", "mcsb", "sat"),
                    help="only the rules mapped to this framework, with their control ids")
    ru.set_defaults(func=cmd_rules)

    em = sub.add_parser("emulator", help="run the estate emulator (ARM, workspace API, Teams sink)",
                        add_help=False)
    em.set_defaults(func=cmd_emulator, passthrough=True)

    # Commands that reach Azure, the emulator or the findings store; their SDKs load only when one runs.
    scan.register(sub, output_flags)
    findings.register(sub, output_flags)
    ops.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] == "emulator":
        return cmd_emulator(argparse.Namespace(), argv[1:])
    args = parser.parse_args(argv)
    from core.errors import InputError

    try:
        return int(args.func(args))
    except (InputError, CliInputError) as exc:
        sys.stderr.write(f"driftwatch: error: {exc}\n")
        return EXIT_INPUT
    except BrokenPipeError:
        return EXIT_OK

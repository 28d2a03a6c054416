"""`driftwatch findings list|show|export|summary|rebuild-summary|migrate-history`, `driftwatch report` (4.1).

Flags are validated into the same `core.http_api` query models the HTTP API uses and answered by
`core.posture`, so `--as-of`, `--since`/`--until`, `--framework`/`--control` mean what their API
parameters mean.

The store comes from `AzureWebJobsStorage` (or identity-based `AzureWebJobsStorage__accountName`),
or `--storage CONNECTION_STRING`. SDKs load only when a findings command actually runs.
Exit codes: 0 ok; 2 invalid flags/values, unknown id or no storage configured; 3 storage unavailable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from core.cli.common import EXIT_OK, EXIT_UNAVAILABLE
from core.terms import FINDINGS_PAGE_SCHEMA, SEVERITIES, STATUSES
from core.terms import RULE_ID_RE as RULE_RE

if TYPE_CHECKING:
    from core.store import TableFindingsStore

EXPORT_SCHEMA = "driftwatch.findings-export/v1"


def _rule(value: str) -> str:
    if not RULE_RE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a rule id like DBX-WS-001")
    return value


def _since(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO-8601 date/time") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _top(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if not 1 <= n <= 1000:
        raise argparse.ArgumentTypeError("must be from 1 to 1000")
    return n


def _time_flags(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--as-of", dest="as_of", type=_since, metavar="ISO-8601",
                    help="the state at this instant, reconstructed from the history")
    sp.add_argument("--since", type=_since, metavar="ISO-8601", help="only what changed at or after this time")
    sp.add_argument("--until", type=_since, metavar="ISO-8601", help="only what changed at or before this time")


def _framework_flags(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--framework", choices=("cis", "mcsb", "sat"), help="only rules mapped to this framework")
    sp.add_argument("--control", metavar="ID", help="only rules mapped to this control (needs --framework)")


def _filters(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--status", choices=STATUSES)
    sp.add_argument("--severity", choices=SEVERITIES)
    sp.add_argument("--rule", type=_rule, metavar="DBX-XXX-000")
    sp.add_argument("--workspace", metavar="ARM_ID|NAME", help="workspace ARM id (any case) or name")
    sp.add_argument("--subscription", metavar="ID")
    _time_flags(sp)
    _framework_flags(sp)


def _model(model: Any, args: argparse.Namespace, **extra: Any) -> Any:
    """Validate flags into the API's query model; errors name the flag."""
    from pydantic import ValidationError

    from core.errors import InputError

    data = {k: getattr(args, k, None) for k in model.model_fields if getattr(args, k, None) is not None}
    data.update(extra)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        name = str(err["loc"][0]) if err["loc"] else str(err["msg"]).split("Value error, ", 1)[-1].split(":")[0]
        msg = str(err["msg"]).split("Value error, ", 1)[-1]
        raise InputError(f"--{name.replace('_', '-')}: {msg}") from None


def _storage_flag(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--storage", metavar="CONNECTION_STRING",
                    help="storage connection string (default: the AzureWebJobsStorage setting; prefer the "
                         "environment, command lines are visible to other local users)")


def _open_store(args: argparse.Namespace) -> TableFindingsStore:
    from core.errors import InputError
    from core.settings import load_settings
    from core.store import StorageConnection, StoreError, TableFindingsStore

    try:
        if args.storage:
            conn = StorageConnection.from_connection_string(args.storage)
        else:
            conn = StorageConnection.from_settings(load_settings())
        conn.table_service  # noqa: B018 - build the client now: a malformed string is an input error
    except StoreError as exc:
        where = "--storage" if args.storage else "AzureWebJobsStorage"
        raise InputError(f"{where}: {exc.reason}") from None
    return TableFindingsStore(conn)


def _run(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map store errors to exit codes: bad query values are input errors, outages exit 3."""

    def wrapper(args: argparse.Namespace) -> int:
        from core.errors import InputError
        from core.store import FindingNotFound, InvalidQuery, StoreError

        try:
            return fn(args)
        except InvalidQuery as exc:
            raise InputError(f"--{exc.parameter}: {exc}") from None
        except FindingNotFound:
            raise InputError(f"no finding with id {args.id!r}") from None
        except StoreError as exc:
            sys.stderr.write(f"driftwatch: error: findings store unavailable ({exc})\n")
            return EXIT_UNAVAILABLE

    wrapper.__doc__ = fn.__doc__
    return wrapper


def _write(text: str, output: str | None = None) -> None:
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


@_run
def cmd_list(args: argparse.Namespace) -> int:
    """One page of findings; `--continuation` fetches the next page."""
    from core.http_api import FindingsQuery
    from core.posture import finding_out, query_findings
    from core.report import findings_csv, findings_table

    q = _model(FindingsQuery, args, format="json")
    store = _open_store(args)
    findings, token = query_findings(store, q)
    if args.format == "json":
        _write(json.dumps({"schema": FINDINGS_PAGE_SCHEMA, "findings": [finding_out(f) for f in findings],
                           "continuation": token}, indent=2) + "\n")
    elif args.format == "csv":
        _write(findings_csv(findings))
    else:
        _write(findings_table(findings))
    if token and args.format != "json":
        sys.stderr.write(f"more findings: pass --continuation {token}\n")
    return EXIT_OK


@_run
def cmd_show(args: argparse.Namespace) -> int:
    """One finding with its history of transitions (as of `--as-of`, within `--since`/`--until`)."""
    from core.http_api import FindingQuery
    from core.posture import finding_detail

    q = _model(FindingQuery, args)
    store = _open_store(args)
    d = finding_detail(store, args.id, q)
    if args.format == "json":
        _write(json.dumps(d, indent=2) + "\n")
        return EXIT_OK
    keys = ("id", "rule_id", "title", "severity", "status", "workspace_name", "resource_id", "subject", "expected",
            "actual", "message", "remediation", "first_seen", "last_seen", "resolved_at", "exemption", "as_of")
    lines = [f"{k:<14} {v if isinstance(v, str) else json.dumps(v)}" for k in keys if (v := d.get(k)) is not None]
    if d.get("controls"):
        lines.append(f"{'controls':<14} " + ", ".join(f"{c['framework']} {c['control']}" for c in d["controls"]))
    lines.append("history:")
    lines += [f"  {t['at']}  {t['transition']}" for t in d["history"]]
    _write("\n".join(lines) + "\n")
    return EXIT_OK


@_run
def cmd_export(args: argparse.Namespace) -> int:
    """Every matching finding, as CSV, one JSON document or OCSF events, to stdout or --output."""
    from core.http_api import FindingsQuery
    from core.posture import export_findings, finding_out
    from core.report import findings_csv

    q = _model(FindingsQuery, args, format="json")
    store = _open_store(args)
    findings = export_findings(store, q)
    if args.format == "json":
        text = json.dumps({"schema": EXPORT_SCHEMA, "findings": [finding_out(f) for f in findings]}, indent=2) + "\n"
    elif args.format == "ocsf":
        from core.ocsf import ocsf_json

        text = ocsf_json(findings)
    else:
        text = findings_csv(findings)
    try:
        _write(text, args.output)
    except OSError as exc:
        from core.errors import InputError

        raise InputError(f"--output {args.output}: cannot write ({exc.strerror or exc})") from None
    if args.output:
        sys.stderr.write(f"{len(findings)} findings written to {args.output}\n")
    return EXIT_OK


@_run
def cmd_summary(args: argparse.Namespace) -> int:
    """Counts by status, severity, rule, workspace (and control with --framework), now or as of a time."""
    from core.http_api import SummaryQuery
    from core.posture import summary

    q = _model(SummaryQuery, args)
    doc = summary(_open_store(args), q)
    if args.format == "json":
        _write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    lines = [f"total {doc['total']}" + (f" as of {doc['as_of']}" if doc.get("as_of") else ""),
             "status    " + "  ".join(f"{k} {v}" for k, v in doc["by_status"].items()),
             "open      " + "  ".join(f"{k} {v}" for k, v in doc["open_by_severity"].items())]
    if doc.get("transitions") is not None:
        lines.append("changes   " + "  ".join(f"{k} {v}" for k, v in doc["transitions"].items()))
    for control, counts in (doc.get("by_control") or {}).items():
        lines.append(f"{control:<9} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    _write("\n".join(lines) + "\n")
    return EXIT_OK


@_run
def cmd_rebuild_summary(args: argparse.Namespace) -> int:
    """Recount the summary counters from the findings table (safe beside running workers)."""
    counters = _open_store(args).counters
    if args.check:
        state = counters.status()
        _write(json.dumps(state, indent=2) + "\n")
        return EXIT_OK if state["usable"] else EXIT_UNAVAILABLE
    done = counters.rebuild()
    sys.stderr.write(f"summary counters rebuilt: {done['workspaces']} workspaces "
                     f"({done['findings_partitions']} with findings)\n")
    return EXIT_OK


@_run
def cmd_migrate_history(args: argparse.Namespace) -> int:
    """Add the workspace time-index rows for history written before the index existed, then the
    workspaces' history checkpoints, the estate time index and an estate snapshot (all idempotent)."""
    store = _open_store(args)
    n = store.backfill_workspace_index()
    sys.stderr.write(f"{n} history rows indexed by workspace\n")
    sys.stderr.write(f"{store.write_checkpoints()} history checkpoints written\n")
    sys.stderr.write(f"{store.backfill_estate_index()} history rows indexed estate-wide\n")
    head = store.write_estate_snapshot()
    sys.stderr.write("estate history snapshot written\n" if head else "estate history snapshot up to date\n")
    return EXIT_OK


@_run
def cmd_report(args: argparse.Namespace) -> int:
    """The evidence report: one self-contained HTML file (or its JSON)."""
    from core.evidence_report import build_report, render_html, report_json
    from core.http_api import ReportQuery

    q = _model(ReportQuery, args, format=args.format, framework=args.framework,
               subscription=",".join(args.subscription) if args.subscription else None)
    baseline = None
    path = args.baseline or os.environ.get("DRIFTWATCH_BASELINE")
    if path:
        from core.baseline import load_baseline

        baseline = load_baseline(path)  # an invalid baseline is an input error (exit 2) naming file and field
    report = build_report(_open_store(args), as_of=q.as_of, since=q.since, framework_name=q.framework,
                          subscriptions=q.subscriptions(), baseline=baseline)
    text = report_json(report) if q.format == "json" else render_html(report)
    try:
        _write(text, args.output)
    except OSError as exc:
        from core.errors import InputError

        raise InputError(f"--output {args.output}: cannot write ({exc.strerror or exc})") from None
    if args.output:
        sys.stderr.write(f"evidence report written to {args.output} ({len(text.encode()):,} bytes)\n")
    return EXIT_OK


def register(sub: Any, output_flags: Any = None) -> None:
    """Add `findings ...` and `report` to the `driftwatch` parser (output_flags unused: formats differ)."""
    fp = sub.add_parser("findings", help="query the findings store (as auditors do)")
    fsub = fp.add_subparsers(dest="findings_command", required=True, metavar="ACTION")

    ls = fsub.add_parser("list", help="one page of findings")
    _filters(ls)
    ls.add_argument("--top", type=_top, default=100, metavar="N", help="page size, 1..1000 (default 100)")
    ls.add_argument("--continuation", metavar="TOKEN", help="token printed by the previous page")
    ls.add_argument("--format", choices=("table", "json", "csv"), default="table")
    _storage_flag(ls)
    ls.set_defaults(func=cmd_list)

    sh = fsub.add_parser("show", help="one finding with its history")
    sh.add_argument("id", metavar="ID")
    _time_flags(sh)
    sh.add_argument("--format", choices=("json", "table"), default="table")
    _storage_flag(sh)
    sh.set_defaults(func=cmd_show)

    ex = fsub.add_parser("export", help="all matching findings (CSV, JSON or OCSF)")
    _filters(ex)
    ex.add_argument("--format", choices=("csv", "json", "ocsf"), default="csv")
    ex.add_argument("--output", metavar="FILE")
    _storage_flag(ex)
    ex.set_defaults(func=cmd_export)

    su = fsub.add_parser("summary", help="counts by status, severity, rule, workspace (and control)")
    su.add_argument("--workspace", metavar="ARM_ID|NAME")
    su.add_argument("--subscription", metavar="ID")
    _time_flags(su)
    _framework_flags(su)
    su.add_argument("--format", choices=("table", "json"), default="table")
    _storage_flag(su)
    su.set_defaults(func=cmd_summary)

    rs = fsub.add_parser("rebuild-summary", help="recount the summary counters from the findings table",
                         description="Recount the counters `findings summary` and GET /api/summary answer from, "
                                     "one workspace partition at a time (safe while workers run). Without "
                                     "usable counters the summary is counted from the whole findings table.")
    rs.add_argument("--check", action="store_true",
                    help="only report whether the counters are usable (exit 3 when not), change nothing")
    _storage_flag(rs)
    rs.set_defaults(func=cmd_rebuild_summary)

    mh = fsub.add_parser("migrate-history", help="index history written before the workspace time index")
    _storage_flag(mh)
    mh.set_defaults(func=cmd_migrate_history)

    rp = sub.add_parser("report", help="the evidence report for auditors (self-contained HTML or JSON)")
    rp.add_argument("--as-of", dest="as_of", type=_since, metavar="ISO-8601", help="posture at this instant")
    rp.add_argument("--since", type=_since, metavar="ISO-8601", help="list the transitions since this time")
    rp.add_argument("--framework", choices=("cis", "mcsb", "sat"), default="cis")
    rp.add_argument("--subscription", action="append", metavar="ID", help="repeatable; default: all")
    rp.add_argument("--baseline", metavar="P", help="list every exemption of this baseline (default: "
                                                    "DRIFTWATCH_BASELINE when set)")
    rp.add_argument("--format", choices=("html", "json"), default="html")
    rp.add_argument("--output", metavar="FILE")
    _storage_flag(rp)
    rp.set_defaults(func=cmd_report)

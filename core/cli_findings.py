"""`driftwatch findings list|show|export`: query the findings store as auditors do (ARCHITECTURE 4.1).

The store comes from `AzureWebJobsStorage` (or identity-based `AzureWebJobsStorage__accountName`),
or `--storage CONNECTION_STRING`. SDKs load only when a findings command actually runs.
Exit codes: 0 ok; 2 invalid flags/values, unknown id or no storage configured; 3 storage unavailable.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.store import TableFindingsStore

STATUSES = ("open", "resolved", "exempted")
SEVERITIES = ("critical", "high", "medium", "low", "info")
RULE_RE = re.compile(r"^DBX-[A-Z]+-\d{3}$")
EXIT_OK, EXIT_INPUT, EXIT_UNAVAILABLE = 0, 2, 3
PAGE_SCHEMA = "driftwatch.findings-page/v1"
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


def _filters(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--status", choices=STATUSES)
    sp.add_argument("--severity", choices=SEVERITIES)
    sp.add_argument("--rule", type=_rule, metavar="DBX-XXX-000")
    sp.add_argument("--workspace", metavar="ARM_ID|NAME", help="workspace ARM id (any case) or name")
    sp.add_argument("--subscription", metavar="ID")
    sp.add_argument("--since", type=_since, metavar="ISO-8601", help="last seen at or after this time")


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


def _filter_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("status", "severity", "rule", "workspace", "subscription", "since")}


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
    from core.report import findings_csv, findings_table

    store = _open_store(args)
    findings, token = store.query(**_filter_kwargs(args), top=args.top, continuation=args.continuation)
    if args.format == "json":
        _write(json.dumps({"schema": PAGE_SCHEMA, "findings": [f.to_json_dict() for f in findings],
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
    """One finding with its history of transitions."""
    store = _open_store(args)
    finding, history = store.get(args.id)
    if args.format == "json":
        _write(json.dumps({**finding.to_json_dict(), "history": [t.message() for t in history]}, indent=2) + "\n")
        return EXIT_OK
    d = finding.to_json_dict()
    keys = ("id", "rule_id", "title", "severity", "status", "workspace_name", "resource_id", "subject", "expected",
            "actual", "message", "remediation", "first_seen", "last_seen", "resolved_at", "exemption")
    lines = [f"{k:<14} {v if isinstance(v, str) else json.dumps(v)}" for k in keys if (v := d.get(k)) is not None]
    lines.append("history:")
    lines += [f"  {t.message()['at']}  {t.transition}" for t in history]
    _write("\n".join(lines) + "\n")
    return EXIT_OK


@_run
def cmd_export(args: argparse.Namespace) -> int:
    """Every matching finding, as CSV or one JSON document, to stdout or --output."""
    from core.report import findings_csv

    store = _open_store(args)
    findings = list(store.export(**_filter_kwargs(args)))
    if args.format == "json":
        text = json.dumps({"schema": EXPORT_SCHEMA, "findings": [f.to_json_dict() for f in findings]}, indent=2) + "\n"
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


def register(sub: Any, output_flags: Any = None) -> None:
    """Add `findings list|show|export` to the `driftwatch` parser (output_flags unused: formats differ)."""
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
    sh.add_argument("--format", choices=("json", "table"), default="table")
    _storage_flag(sh)
    sh.set_defaults(func=cmd_show)

    ex = fsub.add_parser("export", help="all matching findings (CSV or JSON)")
    _filters(ex)
    ex.add_argument("--format", choices=("csv", "json"), default="csv")
    ex.add_argument("--output", metavar="FILE")
    _storage_flag(ex)
    ex.set_defaults(func=cmd_export)

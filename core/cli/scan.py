"""`driftwatch scan`: discover, collect and evaluate live workspaces (Azure or the emulator)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli.common import emit, exit_for, load_baseline_flag


def cmd_scan(args: argparse.Namespace) -> int:
    from core.collect import CollectConfig
    from core.report import render
    from core.scan import run_scan
    from core.settings import load_settings

    baseline = load_baseline_flag(args.baseline)
    if args.emulator:
        config = CollectConfig.for_emulator(args.emulator)
    else:
        config = CollectConfig.from_settings(load_settings())
    settings = load_settings()
    if not args.no_store and not (settings.storage or settings.storage_account_name):
        from core.errors import InputError

        raise InputError("no findings store configured: set AzureWebJobsStorage (e.g. Azurite) or pass --no-store")
    subs = list(args.subscription or []) or list(settings.subscriptions)
    outcome = run_scan(config, baseline, subscriptions=subs, workspace_ids=args.workspace or [], source="cli")
    result = outcome.result
    emit(render(result, args.format))
    if not args.no_store:
        from core.cli.store import store_and_notify

        counts = store_and_notify(outcome, baseline, config, notify=not args.no_notify, emulator=args.emulator)
        sys.stderr.write(f"findings store: {counts['transitions']} transitions recorded, "
                         f"{counts['posts']} Teams digests posted\n")
    return exit_for(result, args.fail_on)


def register(sub: Any, output_flags: Any) -> None:
    sc = sub.add_parser("scan", help="discover, collect and evaluate live workspaces (Azure or --emulator)")
    sc.add_argument("--baseline", metavar="P")
    sc.add_argument("--subscription", action="append", metavar="ID", help="repeatable; default: all visible")
    sc.add_argument("--workspace", action="append", metavar="ARM_ID", help="repeatable; scan only these")
    sc.add_argument("--no-store", action="store_true", help="do not reconcile with the findings store")
    sc.add_argument("--no-notify", action="store_true", help="do not post Teams notifications")
    sc.add_argument("--emulator", metavar="URL", help="point every client at a running estate emulator")
    output_flags(sc)
    sc.set_defaults(func=cmd_scan)

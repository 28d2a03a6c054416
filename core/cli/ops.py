"""Operator commands: `driftwatch notify replay` re-drives poison-queue messages exactly once."""

from __future__ import annotations

import argparse
import json
from typing import Any

from core.cli.common import emit


def cmd_replay(args: argparse.Namespace) -> int:
    from core.errors import InputError
    from core.settings import load_settings
    from core.store import StorageConnection
    from core.store.poison import replay_poison

    settings = load_settings()
    if args.storage:
        connection = StorageConnection.from_connection_string(args.storage)
    elif settings.storage or settings.storage_account_name:
        connection = StorageConnection.from_settings(settings)
    else:
        raise InputError("no storage configured: set AzureWebJobsStorage or pass --storage")
    out = replay_poison(connection, args.queue, max_messages=args.max)
    emit(json.dumps({"queue": out.queue, "replayed": out.replayed, "kept_rejected": out.kept_rejected}) + "\n")
    return 0


def register(sub: Any) -> None:
    nt = sub.add_parser("notify", help="notification and queue operations")
    nt_sub = nt.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    rp = nt_sub.add_parser("replay", help="move {queue}-poison messages back to the queue, each once")
    rp.add_argument("--queue", choices=("drift-findings", "scan-requests"), default="drift-findings")
    rp.add_argument("--max", type=int, default=1000, help="at most this many messages")
    rp.add_argument("--storage", metavar="CONNECTION_STRING", help="default: AzureWebJobsStorage")
    rp.set_defaults(func=cmd_replay)

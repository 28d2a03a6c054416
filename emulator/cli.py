"""`python -m emulator` / `driftwatch emulator`: run the estate emulator in the foreground."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from emulator.faults import FaultError, parse_rule
from emulator.seed import SeedError
from emulator.server import EmulatorServer, is_loopback

DEFAULT_PORT = 8600


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="driftwatch emulator",
        description="Offline ARM + Databricks workspace API + Teams webhook sink, on loopback only.",
    )
    p.add_argument("--seed", required=True, help="estate seed (driftwatch.estate/v1 JSON)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)")
    p.add_argument("--latency-ms", type=int, default=0, help="added latency per ARM/workspace call")
    p.add_argument("--event-target", default=None, help="URL that receives Event Grid deliveries")
    p.add_argument("--audit-target", default=None,
                   help="URL that receives Databricks audit records (Event Hubs bodies) for workspace-API writes")
    p.add_argument("--page-size", type=int, default=50, help="ARM list page size (default 50)")
    p.add_argument("--lro-delay-s", type=float, default=0.0,
                   help="seconds a workspace PUT/DELETE stays Accepted/Updating/Deleting (default 0)")
    p.add_argument(
        "--fault", action="append", default=[], metavar="JSON", help="fault rule as compact JSON (repeatable)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Start the emulator, print where it listens, serve until SIGINT/SIGTERM; exit 0 (2 on bad input)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage message
        return 0 if exc.code == 0 else 2
    if not is_loopback(args.host):
        print(f"driftwatch emulator: --host {args.host!r} is not a loopback address", file=sys.stderr)
        return 2
    if args.latency_ms < 0 or args.page_size < 1 or not 0 <= args.port <= 65535 or args.lro_delay_s < 0:
        print("driftwatch emulator: bad --latency-ms, --page-size, --port or --lro-delay-s", file=sys.stderr)
        return 2
    faults = []
    for i, text in enumerate(args.fault):
        try:
            raw = json.loads(text)
            parse_rule(raw)
        except (ValueError, FaultError) as exc:
            print(f"driftwatch emulator: --fault #{i + 1}: {exc}", file=sys.stderr)
            return 2
        faults.append(raw)
    try:
        server = EmulatorServer(
            args.seed,
            host=args.host,
            port=args.port,
            latency_ms=args.latency_ms,
            event_target=args.event_target,
            audit_target=args.audit_target,
            page_size=args.page_size,
            faults=faults,
            lro_delay_s=args.lro_delay_s,
        )
    except SeedError as exc:
        print(f"driftwatch emulator: invalid seed: {exc}", file=sys.stderr)
        return 2
    try:
        server.start()
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"driftwatch emulator: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    print(f"driftwatch emulator listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0

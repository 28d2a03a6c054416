"""One scale-out instance: `python -m samples.worker_process QUEUE FUNCTION [--threads N]`.

Reads the app settings from the environment (like a Functions instance), drains QUEUE with
FUNCTION through the registered function until the queue stays empty, and prints its stats as JSON.
Tests and benchmarks start several of these to model Azure Functions scaling out on the queue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("queue")
    p.add_argument("function")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--idle-s", type=float, default=1.0)
    p.add_argument("--max-s", type=float, default=600.0)
    p.add_argument("--crash-at", default=None, help="die at this step (tests/faults crash points)")
    args = p.parse_args(argv)
    if args.crash_at:
        from core.store import outbox

        outbox.CRASH_AT = args.crash_at

    import function_app
    from core import service
    from core.settings import load_settings
    from samples.functions_host import LocalFunctionsHost

    rt = service.Runtime.from_settings(load_settings())
    service.reset_runtime(rt)
    host = LocalFunctionsHost(function_app.app, rt.settings.storage or "")
    t0 = time.monotonic()
    stats = host.drain(args.queue, args.function, workers=args.threads, idle_s=args.idle_s, max_s=args.max_s)
    print(json.dumps({"pid": os.getpid(), "succeeded": stats.succeeded, "failed_attempts": stats.failed_attempts,
                      "poisoned": stats.poisoned, "seconds": round(time.monotonic() - t0, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

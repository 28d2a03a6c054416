"""Issue 10 §3: peak memory of one ARM read when the answer is huge (a 50 MB body).

A loopback server answers a workspace GET with a valid document padded to 50 MB, with and without
Content-Length. Each read runs in a fresh process (peak RSS is per process; the server stays in the
parent): the real ArmReader with the default cap (core/collect/bounded.py, 16 MiB) and, for comparison,
with the cap raised above the answer (what an unbounded read costs).
Prints numbers; asserts nothing. Usage: python -m bench.bench_rss [MB]
"""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WS = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
      "Microsoft.Databricks/workspaces/ws")


def _body(mb: int) -> bytes:
    doc = {"id": WS, "name": "ws", "type": "Microsoft.Databricks/workspaces", "location": "westeurope",
           "sku": {"name": "premium"}, "properties": {"padding": "x" * (mb * 1024 * 1024)}}
    return json.dumps(doc).encode()


def _serve(body: bytes, with_length: bool) -> str:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if with_length:
                self.send_header("Content-Length", str(len(body)))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)
            self.close_connection = True

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_address[1]}"


def child(url: str, cap: int | None) -> None:
    from core.collect.arm import ArmReader, ArmReadError
    from core.collect.config import CollectConfig

    kw: dict[str, Any] = {"arm_retries": 0, "request_deadline_s": 60.0}
    if cap is not None:
        kw["max_response_bytes"] = cap
    reader = ArmReader(CollectConfig.for_emulator(url, **kw))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        reader.get(WS)
        outcome = "read"
    except ArmReadError as exc:
        outcome = f"refused ({exc.cause[:60]})"
    finally:
        reader.close()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_mb": before / 1024, "after_mb": after / 1024, "s": time.perf_counter() - started,
                      "outcome": outcome}))


def main() -> None:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(f"one ARM GET answered with a {mb} MB document (peak RSS of the reading process; the server runs in "
          "this one)")
    body = _body(mb)
    urls = {True: _serve(body, True), False: _serve(body, False)}
    for label, cap in (("default cap (16 MiB)", None), ("cap raised above the answer", (mb + 8) * 1024 * 1024)):
        for with_length in (True, False):
            out = subprocess.run([sys.executable, "-m", "bench.bench_rss", "--child", urls[with_length], str(cap or 0)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {label:28} {'Content-Length' if with_length else 'no length':15} "
                  f"peak RSS {r['after_mb']:6.0f} MB (before the read {r['before_mb']:4.0f} MB, "
                  f"+{r['after_mb'] - r['before_mb']:4.0f} MB) in {r['s']:5.2f} s: {r['outcome']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]) or None)
    else:
        main()

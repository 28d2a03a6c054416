"""Benchmark: `/api/summary` at 50,000 findings from the maintained counters vs the whole-table scan.

Target (issue 14 point 6): under 100 ms at 50,000 findings. Fills Azurite through `import_findings`
(which keeps the counters), checks the counters equal the full recount, then times
`store.summary()` (counters), `store.summary_by_scan()` (what it was before) and the Function.
Prints numbers; asserts nothing but equality of the two answers.
Usage: python -m bench.bench_summary [N_FINDINGS] [FINDINGS_PER_WORKSPACE ...]  (default 50000 25)
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime

import azure.functions as func

from bench.bench_store import fill_store, timed
from core.store import StorageConnection, TableFindingsStore
from functions import findings_api
from samples.azurite import AzuriteProcess
from tests.support.store import reset_storage


def run(conn: StorageConnection, n: int, per_ws: int) -> None:
    reset_storage(conn)
    now = datetime.now(UTC)
    loaded, workspaces, fill = fill_store(conn, n, per_ws, now)
    print(f"-- {loaded:,} findings in {workspaces:,} workspaces: filled in {fill:.1f} s "
          f"({loaded / fill:,.0f} findings/s, counters kept by import_findings)")
    store = TableFindingsStore(conn)
    by_counters, by_scan = store.counters.read(), store.summary_by_scan()
    print(f"counters equal the full recount: {by_counters == by_scan} (total {by_counters['total']:,})")

    cold, warm = timed(store.summary, 10)
    print(f"store.summary() from counters: first {cold * 1000:.0f} ms, median {statistics.median(warm) * 1000:.0f} ms, "
          f"max {max(warm) * 1000:.0f} ms (target < 100 ms)")
    cold, warm = timed(store.summary_by_scan, 2)
    print(f"store.summary_by_scan() (the full scan it replaces): median {statistics.median(warm) * 1000:.0f} ms")

    findings_api.set_store(TableFindingsStore(StorageConnection.from_connection_string(conn_string)))
    app = func.FunctionApp()
    app.register_functions(findings_api.bp)
    fn = next(f for f in app.get_functions() if f.get_function_name() == "findings_summary").get_user_function()
    req = func.HttpRequest(method="GET", url="/api/summary", params={}, body=b"")
    cold, warm = timed(lambda: fn(req), 10)
    print(f"GET /api/summary through the Function: first {cold * 1000:.0f} ms, "
          f"median {statistics.median(warm) * 1000:.0f} ms")
    findings_api.set_store(None)

    t0 = time.perf_counter()
    rebuilt = store.counters.rebuild()
    print(f"driftwatch findings rebuild-summary: {rebuilt['workspaces']:,} workspaces in "
          f"{time.perf_counter() - t0:.1f} s")


conn_string = ""


def main() -> None:
    global conn_string
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    layouts = [int(a) for a in sys.argv[2:]] or [25]  # 2,000 workspaces, the estate of issue 14
    with AzuriteProcess() as az:
        conn_string = az.connection_string
        conn = StorageConnection.from_connection_string(conn_string)
        conn.ensure()
        for per_ws in layouts:
            run(conn, n, per_ws)


if __name__ == "__main__":
    main()

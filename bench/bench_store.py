"""Benchmark: the findings store on Azurite with 50,000 findings; first page of open findings.

Target (issue 4): `GET /api/findings?status=open&top=100` first page under 300 ms.
Fills the store with entity-group transactions (100 upserts per workspace partition), then times
the first page through the Function and through the store directly. Prints numbers; asserts nothing.
Usage: python -m bench.bench_store [N_FINDINGS]
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import azure.functions as func

from core.findings.model import Finding, finding_id
from core.store import StorageConnection, TableFindingsStore
from functions import findings_api
from samples.azurite import AzuriteProcess

SEVERITIES = ("critical", "high", "medium", "low", "info")
STATUSES = ("open", "open", "open", "resolved", "exempted")


def make(i: int, per_ws: int, now: datetime) -> Finding:
    ws = i // per_ws
    sub = f"{ws % 40:08d}-0000-4000-8000-000000000000"
    rid = f"/subscriptions/{sub}/resourceGroups/rg-{ws % 97}/providers/Microsoft.Databricks/workspaces/ws-{ws}"
    subject = f"rule-{i % per_ws}"
    status = STATUSES[i % len(STATUSES)]
    return Finding(id=finding_id(rid, "DBX-NET-005", subject), rule_id="DBX-NET-005", title="No inbound from Internet",
                   severity=SEVERITIES[i % 5], status=status, resource_id=rid, subscription_id=sub,
                   workspace_name=f"ws-{ws}", subject=subject, expected="deny", actual="allow",
                   message=f"NSG rule {subject} allows inbound from Internet", remediation="Remove the rule.",
                   first_seen=now - timedelta(days=i % 30), last_seen=now,
                   resolved_at=now if status == "resolved" else None, source="sweep", baseline_sha256="0" * 64,
                   exemption={"reason": "vendor"} if status == "exempted" else None)


def fill_store(conn: StorageConnection, n: int, per_ws: int, now: datetime) -> tuple[int, int, float]:
    """Bulk-load `n` findings, `per_ws` per workspace, with 8 threads: (findings, workspaces, seconds)."""
    findings = [make(i, per_ws, now) for i in range(n)]
    chunks = [findings[i:i + per_ws] for i in range(0, n, per_ws)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        loaded = sum(pool.map(lambda c: TableFindingsStore(conn).import_findings(c), chunks))
    return loaded, len(chunks), time.perf_counter() - t0


def timed(fn, runs: int) -> tuple[float, list[float]]:
    first = time.perf_counter()
    fn()
    cold = time.perf_counter() - first
    warm = []
    for _ in range(runs):
        s = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - s)
    return cold, warm


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    per_ws = 100
    now = datetime.now(UTC)
    with AzuriteProcess() as az:
        conn = StorageConnection.from_connection_string(az.connection_string)
        conn.ensure()
        loaded, workspaces, fill = fill_store(conn, n, per_ws, now)
        print(f"filled {loaded} findings ({workspaces} workspaces) in {fill:.1f} s "
              f"({loaded / fill:,.0f} findings/s, 100-entity transactions, 8 threads)")

        # Through the Function, with a store built from settings as in production (fresh process state).
        findings_api.set_store(TableFindingsStore(StorageConnection.from_connection_string(az.connection_string)))
        app = func.FunctionApp()
        app.register_functions(findings_api.bp)
        fn = next(f for f in app.get_functions() if f.get_function_name() == "findings_list").get_user_function()
        req = func.HttpRequest(method="GET", url="/api/findings", params={"status": "open", "top": "100"}, body=b"")
        resp = fn(req)
        print(f"API status {resp.status_code}, {len(resp.get_body()):,} bytes")
        cold, warm = timed(lambda: fn(req), 20)
        print(f"GET /api/findings?status=open&top=100 first page: first call {cold * 1000:.0f} ms, "
              f"then median {statistics.median(warm) * 1000:.0f} ms, max {max(warm) * 1000:.0f} ms (target < 300 ms)")

        store = TableFindingsStore(conn)
        cold, warm = timed(lambda: store.query(status="open", top=100), 20)
        print(f"store.query(status='open', top=100): first {cold * 1000:.0f} ms, "
              f"median {statistics.median(warm) * 1000:.0f} ms")
        _page, token = store.query(status="open", top=100)
        cold, warm = timed(lambda: store.query(status="open", top=100, continuation=token), 10)
        print(f"second page via continuation: median {statistics.median(warm) * 1000:.0f} ms")
        cold, warm = timed(lambda: store.query(status="open", severity="critical", workspace="ws-321"), 10)
        print(f"narrow query (status+severity+workspace name, cross-partition scan): "
              f"median {statistics.median(warm) * 1000:.0f} ms")
        ws_id = make(32_100 % n, per_ws, now).resource_id
        cold, warm = timed(lambda: store.query(workspace=ws_id), 10)
        print(f"workspace ARM id query (one partition): median {statistics.median(warm) * 1000:.0f} ms")
        s = time.perf_counter()
        summ = store.summary()
        print(f"summary over {summ['total']:,} findings: {(time.perf_counter() - s) * 1000:.0f} ms")
        findings_api.set_store(None)


if __name__ == "__main__":
    main()

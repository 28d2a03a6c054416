"""Benchmark: posture as of an instant and changes in a period, read from `findinghistory` on Azurite.

Issue 16 asks for the cost at 50,000 findings x 20 transitions (1,000,000 transitions, 2,000,000
history rows with the two-row layout). This machine's Azurite (in memory, shared) cannot hold that,
so the history is written at full *partition* size (25 findings per workspace, 20 transitions each:
a workspace partition of 500 index rows, a finding partition of 20 rows) for W workspaces, and the
estate-wide figures are scaled linearly in rows read (every index row up to T is read once).
Single-workspace and single-finding reads do not grow with the estate: their row counts are exact.
The current rows (`findings`) are written too, as reconcile leaves them: an as-of read takes the
findings unchanged since T from them and rebuilds only the others from history.
The estate-wide as-of read is measured twice: on the history alone (the full replay of every workspace
partition up to T), then after history checkpoints (core/store/checkpoints.py) are added where reconcile's
hook puts them (one every max(25, findings) transitions of a workspace; the same `extend_checkpoints` that
`driftwatch findings migrate-history` runs).
Prints numbers; asserts nothing. Usage: python -m bench.bench_history [WORKSPACES] [TRANSITIONS]
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from core.findings.model import Finding, finding_id
from core.store import StorageConnection, TableFindingsStore, Transition
from core.store.checkpoints import extend_checkpoints, interval
from core.store.history import workspace_index_entity
from core.store.keys import put_json, utc
from core.store.rows import _Row
from samples.azurite import AzuriteProcess

PER_WS = 25
KINDS = ("opened", "resolved", "reopened", "exempted", "resolved", "reopened")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def finding(ws: int, j: int, status: str, at: datetime) -> Finding:
    sub = f"{ws % 40:08d}-0000-4000-8000-000000000000"
    rid = f"/subscriptions/{sub}/resourceGroups/rg-{ws % 97}/providers/Microsoft.Databricks/workspaces/ws-{ws}"
    return Finding(id=finding_id(rid, "DBX-NET-005", f"rule-{j}"), rule_id="DBX-NET-005",
                   title="No inbound from Internet", severity="high", status=status, resource_id=rid,
                   subscription_id=sub, workspace_name=f"ws-{ws}", subject=f"rule-{j}", expected="deny",
                   actual="allow", message=f"NSG rule rule-{j} allows inbound from Internet",
                   remediation="Remove the rule.", first_seen=T0, last_seen=at,
                   resolved_at=at if status == "resolved" else None, source="sweep", baseline_sha256="0" * 64,
                   exemption={"reason": "vendor", "approved_by": "sec", "expires": "2027-01-01"}
                   if status == "exempted" else None)


def fill_workspace(conn: StorageConnection, ws: int, transitions: int) -> int:
    """One workspace's history in the real layout (both rows per transition), in 100-row transactions."""
    store = TableFindingsStore(conn)
    table = store.history_table
    index_rows: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for j in range(PER_WS):
        per_finding: list[dict[str, Any]] = []
        for k in range(transitions):
            kind = KINDS[k % len(KINDS)] if k else "opened"
            status = {"opened": "open", "reopened": "open", "resolved": "resolved", "exempted": "exempted"}[kind]
            at = T0 + timedelta(days=k * 4, minutes=j)
            t = Transition(kind, at, finding(ws, j, status, at))  # type: ignore[arg-type]
            key = f"{utc(at):%Y%m%dT%H%M%S%fZ}-{k + 1:06d}-{kind}"
            row: dict[str, Any] = {"PartitionKey": t.finding.id, "RowKey": key, "transition": kind, "at": at,
                                   "resource_id": t.finding.resource_id.lower(),
                                   "status": status}
            put_json(row, "message", t.message())
            per_finding.append(row)
            index_rows.append(workspace_index_entity(row, t.finding, k + 1))
        table.submit_transaction([("create", e) for e in per_finding])
        # the current row, as reconcile leaves it after the last transition
        current.append(store._entity(_Row(t.finding, "", transitions, "notified", None, None, kind, at)))
    store.findings_table.submit_transaction([("upsert", e) for e in current])
    for i in range(0, len(index_rows), 100):
        table.submit_transaction([("create", e) for e in index_rows[i:i + 100]])
    return 2 * len(index_rows)


class Counter:
    """Requests sent and entities received, from a raw response hook on every storage client."""

    def __init__(self) -> None:
        self.requests = self.rows = 0
        self.cpu = 0.0

    def hook(self, response: Any) -> None:
        self.requests += 1
        body = response.http_response.body() or b""
        self.rows += body.count(b'"odata.etag"')

    def measure(self, fn: Any) -> tuple[float, Any, int, int]:
        """(wall s, result, requests, rows); also remembers the client CPU time (all threads) in `cpu`."""
        r0, e0 = self.requests, self.rows
        s, c = time.perf_counter(), time.process_time()
        out = fn()
        self.cpu = time.process_time() - c
        return time.perf_counter() - s, out, self.requests - r0, self.rows - e0


def timed(fn: Any, runs: int = 3) -> tuple[float, Any]:
    out = fn()
    times = []
    for _ in range(runs):
        s = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - s)
    return statistics.median(times), out


def main() -> None:
    workspaces = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    transitions = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    counter = Counter()
    with AzuriteProcess() as az:
        conn = StorageConnection.from_connection_string(az.connection_string, raw_response_hook=counter.hook)
        conn.ensure()
        s = time.perf_counter()
        with ThreadPoolExecutor(3) as pool:
            rows = sum(pool.map(lambda w: fill_workspace(conn, w, transitions), range(workspaces)))
        fill = time.perf_counter() - s
        n_findings = workspaces * PER_WS
        print(f"history: {workspaces} workspaces x {PER_WS} findings x {transitions} transitions = "
              f"{n_findings * transitions:,} transitions, {rows:,} rows, filled in {fill:.0f} s")
        store = TableFindingsStore(conn)
        mid = T0 + timedelta(days=2 * transitions)  # half-way through the history
        rid = finding(7, 0, "open", T0).resource_id
        fid = finding(7, 3, "open", T0).id

        t_ws, found = timed(lambda: store.findings_as_of(mid, workspace=rid))
        print(f"one workspace as of T (its partition: {PER_WS * transitions} index rows): {t_ws * 1000:.0f} ms, "
              f"{len(found)} findings")
        t_ws_ch, ch = timed(lambda: store.changes(mid - timedelta(days=30), mid, workspace=rid))
        print(f"one workspace, changes in a 30-day period (key range): {t_ws_ch * 1000:.0f} ms, {len(ch)} transitions")
        t_f, hist = timed(lambda: store.finding_history(fid, until=mid))
        print(f"one finding as of T (its partition: {transitions} rows): {t_f * 1000:.0f} ms, {len(hist)} transitions")
        store.findings_as_of(mid)  # warm up
        t_full, found_full, req_full, rows_full = counter.measure(lambda: store.findings_as_of(mid))
        print(f"estate as of T, full replay (mid-history: every finding changed after T, so all are rebuilt): "
              f"{t_full:.1f} s for {len(found_full):,} findings, {rows_full:,} rows read in {req_full:,} requests "
              f"({n_findings:,} current rows + every index row up to T); client CPU {counter.cpu:.1f} s")
        end = T0 + timedelta(days=4 * transitions)
        rids = sorted({f.resource_id for f in found_full})
        s = time.perf_counter()
        with ThreadPoolExecutor(3) as pool:
            n_cp = sum(pool.map(lambda rid: extend_checkpoints(store, rid, end, interval(PER_WS)), rids))
        print(f"history checkpoints (one every {interval(PER_WS)} transitions of a workspace): {n_cp:,} written in "
              f"{time.perf_counter() - s:.0f} s")
        t_all, found_all, req_all, rows_all = counter.measure(lambda: store.findings_as_of(mid))
        same = [f.to_json_dict() for f in found_all] == [f.to_json_dict() for f in found_full]
        print(f"estate as of T from checkpoints: {t_all:.1f} s for {len(found_all):,} findings "
              f"({'identical to' if same else 'DIFFERENT FROM'} the full replay), {rows_all:,} rows read in "
              f"{req_all:,} requests; client CPU {counter.cpu:.1f} s (the rest of the wall time is Azurite, which "
              f"serves one request at a time)")
        t_ws_cp, found_ws = timed(lambda: store.findings_as_of(mid, workspace=rid))
        print(f"one workspace as of T from its checkpoint: {t_ws_cp * 1000:.0f} ms, {len(found_ws)} findings")
        t_end, found_end, req_end, rows_end = counter.measure(
            lambda: store.findings_as_of(T0 + timedelta(days=4 * transitions)))
        print(f"estate as of T after the last change (all from current rows): {t_end:.1f} s for "
              f"{len(found_end):,} findings, {rows_end:,} rows read in {req_end:,} requests")
        t_ch, ch_all = timed(lambda: store.changes(mid - timedelta(days=30), mid), runs=1)
        print(f"estate, changes in a 30-day period: {t_ch:.1f} s, {len(ch_all):,} transitions")
        scale = 50_000 / n_findings * 20 / transitions
        print(f"scaled to 50,000 findings x 20 transitions (rows read grow linearly; x{scale:.0f}): estate as of a "
              f"mid-history T ~{t_full * scale:.0f} s by full replay (~{rows_full * scale:,.0f} rows in "
              f"~{req_full * scale:,.0f} requests), ~{t_all * scale:.0f} s from checkpoints "
              f"(~{rows_all * scale:,.0f} rows in ~{req_all * scale:,.0f} requests); as of a T after the "
              f"last change ~{t_end * scale:.0f} s (50,000 current rows); one workspace ~{t_ws * 1000:.0f} ms and "
              f"one finding ~{t_f * 1000:.0f} ms unchanged (their partitions do not grow)")


if __name__ == "__main__":
    main()

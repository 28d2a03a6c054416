"""Benchmark: the evidence report for 2,000 workspaces and 50,000 findings (issue 16).

Target: under 30 s and under 25 MB for the HTML. Fills Azurite with 50,000 findings (25 per
workspace over CIS/MCSB-mapped rules, a fifth exempted with some expired exemptions), the rule
coverage of every workspace and 10,000 transitions in the quarter, then times `build_report` +
`render_html` for the current posture with the quarter's transitions, for an as-of instant after the
last change (findings unchanged since T come from the current rows) and for one mid-quarter (findings
changed since T are rebuilt from history): by full replay of every workspace, after `write_checkpoints`
(per-workspace checkpoints, what `driftwatch findings migrate-history` runs), and from an estate snapshot
(core/store/estate.py, what the daily sweep writes). Each line gives the storage requests and rows read and
the process's peak RSS so far (it only grows). Asserts nothing.
Usage: python -m bench.bench_report [WORKSPACES] [period]  (period: only the quarter's transitions read)
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from core.evidence_report import build_report, render_html, report_json
from core.findings.model import Finding, finding_id
from core.store import StorageConnection, TableFindingsStore, Transition
from core.store.estate import SNAPSHOT_HEADS, estate_index_entity
from core.store.findings import _Row
from core.store.history import record_coverage, workspace_index_entity
from core.store.keys import put_json, utc
from samples.azurite import AzuriteProcess

RULES = ("DBX-NET-005", "DBX-IPACL-002", "DBX-TOKEN-002", "DBX-WS-003", "DBX-WS-005")
CHECKED = frozenset({"DBX-WS-002", "DBX-WS-003", "DBX-WS-005", "DBX-WS-006", "DBX-WS-010", "DBX-NET-001",
                     "DBX-NET-003", "DBX-NET-004", "DBX-NET-005", "DBX-IPACL-001", "DBX-IPACL-002",
                     "DBX-TOKEN-001", "DBX-TOKEN-002"})
NOW = datetime(2026, 10, 1, tzinfo=UTC)
QUARTER = NOW - timedelta(days=92)


def make(ws: int, j: int) -> Finding:
    sub = f"{ws % 40:08d}-0000-4000-8000-000000000000"
    rid = f"/subscriptions/{sub}/resourceGroups/rg-{ws % 97}/providers/Microsoft.Databricks/workspaces/dbw-{ws:04d}"
    rule = RULES[j % len(RULES)]
    status = ("open", "open", "open", "resolved", "exempted")[j % 5]
    exemption = {"reason": f"vendor access <ticket {ws}-{j}>", "approved_by": "security-team",
                 "expires": "2026-09-15" if ws % 3 == 0 else "2027-03-31"} if status == "exempted" else None
    return Finding(id=finding_id(rid, rule, f"subject-{j}"), rule_id=rule, title=f"title of {rule}",
                   severity=("critical", "high", "medium", "low", "info")[j % 5], status=status, resource_id=rid,
                   subscription_id=sub, workspace_name=f"dbw-{ws:04d}", subject=f"subject-{j}", expected="deny",
                   actual="allow", message=f"{rule}: subject-{j} on dbw-{ws:04d} drifted from the baseline",
                   remediation="See docs/rules.md.", first_seen=QUARTER - timedelta(days=j), last_seen=NOW,
                   resolved_at=NOW - timedelta(days=3) if status == "resolved" else None, source="sweep",
                   baseline_sha256="f" * 64, exemption=exemption)


def fill(conn: StorageConnection, ws: int, per_ws: int, transitions_per_ws: int) -> None:
    store = TableFindingsStore(conn)
    findings = [make(ws, j) for j in range(per_ws)]
    record_coverage(store, findings[0].resource_id, CHECKED, NOW - timedelta(days=1), "f" * 64)
    rows: list[dict[str, Any]] = []
    last: dict[str, tuple[str, datetime]] = {}
    for k in range(transitions_per_ws):
        f = findings[k % per_ws]
        at = QUARTER + timedelta(days=1 + k * 11, minutes=ws)
        t = Transition("opened" if f.status == "open" else "resolved" if f.status == "resolved" else "exempted", at, f)
        # each finding has one transition here: its seq (the per-finding transition number) is 1
        row: dict[str, Any] = {"PartitionKey": f.id, "RowKey": f"{utc(at):%Y%m%dT%H%M%S%fZ}-{1:06d}-{t.transition}",
                               "transition": t.transition, "at": at, "resource_id": f.resource_id.lower(),
                               "status": f.status}
        put_json(row, "message", t.message())
        rows.append(workspace_index_entity(row, f, 1))
        last[f.id] = (t.transition, at)
    store.history_table.submit_transaction([("create", e) for e in rows])
    # the estate time index copies (as `_append_history` writes them), one day partition each
    by_day: dict[str, list[dict[str, Any]]] = {}
    for e in rows:
        copy = estate_index_entity(e)
        by_day.setdefault(copy["PartitionKey"], []).append(copy)
    for day_rows in by_day.values():
        store.history_table.submit_transaction([("create", e) for e in day_rows])
    # the current rows as reconcile leaves them: the time of each finding's last transition and how many
    # transitions it had (`seq`) included
    store.findings_table.submit_transaction([("upsert", store._entity(_Row(f, "", 1 if f.id in last else 0,
                                                                            "notified", None, None,
                                                                            *last.get(f.id, (None, None)))))
                                             for f in findings])


class Counter:
    """Requests sent and entities received, from a raw response hook on every storage client."""

    def __init__(self) -> None:
        self.requests = self.rows = 0

    def hook(self, response: Any) -> None:
        self.requests += 1
        try:
            doc = json.loads(response.http_response.body() or b"{}")
        except ValueError:  # a batch response, or no body
            return
        if isinstance(doc, dict):
            self.rows += len(doc["value"]) if isinstance(doc.get("value"), list) else int("PartitionKey" in doc)


def main() -> None:
    workspaces = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    per_ws, transitions_per_ws = 25, 5
    counter = Counter()
    with AzuriteProcess() as az:
        conn = StorageConnection.from_connection_string(az.connection_string, raw_response_hook=counter.hook)
        conn.ensure()
        s = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda w: fill(conn, w, per_ws, transitions_per_ws), range(workspaces)))
        print(f"filled {workspaces:,} workspaces, {workspaces * per_ws:,} findings, "
              f"{workspaces * transitions_per_ws:,} transitions in {time.perf_counter() - s:.0f} s; "
              f"peak RSS so far {_rss_mb():.0f} MB")
        store = TableFindingsStore(conn)
        if "period" in sys.argv[2:]:  # only the period read (below)
            period_once(store, counter)
            return
        mid = QUARTER + timedelta(days=25)
        after = ("as of T after the last change + quarter's transitions",
                 {"as_of": NOW - timedelta(hours=1), "since": QUARTER})
        middle = ("as of mid-quarter + quarter's transitions (findings changed since are rebuilt from history)",
                  {"as_of": mid, "since": QUARTER})
        per_workspace = {"estate_snapshots": False}
        report_once(store, counter, "current posture + quarter's transitions", {"since": QUARTER}, {})
        reference = {label: report_once(store, counter, f"{label}, full replay", kwargs,
                                        {**per_workspace, "history_checkpoints": False})
                     for label, kwargs in (after, middle)}
        s = time.perf_counter()
        n = store.write_checkpoints(now=NOW)
        print(f"`migrate-history` per-workspace checkpoints: {n:,} written in {time.perf_counter() - s:.0f} s")
        for label, kwargs in (after, middle):
            report_once(store, counter, f"{label}, per-workspace checkpoints", kwargs, per_workspace)
        # estate snapshots as the daily sweep writes them (only the days around T here: the first one, from
        # every workspace's index, then each extending the one before with the estate index)
        for days in (3, 2, 1, 0):
            s, r0, e0 = time.perf_counter(), counter.requests, counter.rows
            key = store.write_estate_snapshot(at=mid - timedelta(days=days, hours=1), now=NOW)
            took, requests, rows = time.perf_counter() - s, counter.requests - r0, counter.rows - e0
            head = store.history_table.get_entity(SNAPSHOT_HEADS, key) if key else {}
            print(f"estate snapshot at T - {days} d - 1 h written in {took:.1f} s ({requests:,} requests, "
                  f"{rows:,} rows read): {head.get('findings', 0):,} findings in {head.get('bytes', 0) / 1e6:.2f} MB "
                  f"compressed, {head.get('parts', 0)} parts of 60 KB")
        for label, kwargs in (after, middle):
            same = report_once(store, counter, f"{label}, estate snapshot", kwargs, {}) == reference[label]
            print(f"  ... {'identical to' if same else 'DIFFERENT FROM'} the full replay's report (JSON)")
        period_once(store, counter)
        same = report_once(store, counter, f"{middle[0]}, estate snapshot + period from the estate index",
                           middle[1], {}) == reference[middle[0]]
        print(f"  ... {'identical to' if same else 'DIFFERENT FROM'} the full replay's report (JSON)")


def period_once(store: TableFindingsStore, counter: Counter) -> None:
    """The quarter's transitions estate-wide (`change_rows`, what the report and `since=` read): by the query
    of every workspace index partition, then from the estate index's day partitions after a snapshot at the
    quarter's start (what the daily sweep leaves there)."""
    s, r0 = time.perf_counter(), counter.requests
    store.write_estate_snapshot(at=QUARTER - timedelta(hours=1), now=NOW)
    print(f"estate snapshot at the quarter's start written in {time.perf_counter() - s:.1f} s "
          f"({counter.requests - r0:,} requests)")
    answers = []
    for label, flag in (("query of every workspace index partition", False), ("estate index day partitions", True)):
        store.estate_snapshots = flag
        try:
            r0, e0, s = counter.requests, counter.rows, time.perf_counter()
            answers.append(store.change_rows(QUARTER, NOW))
            took = time.perf_counter() - s
        finally:
            store.estate_snapshots = type(store).estate_snapshots
        print(f"quarter's transitions ({label}): {took:.1f} s, {counter.requests - r0:,} requests, "
              f"{counter.rows - e0:,} rows read, {len(answers[-1]):,} transitions")
    # Azurite answers a query over many partitions in pages of 1,000; Table Storage also ends a page at each
    # partition boundary and examines every row in the range (Query Timeout and Pagination,
    # https://learn.microsoft.com/rest/api/storageservices/Query-Timeout-and-Pagination)
    ws_rows = list(store.history_table.query_entities("PartitionKey ge 'ws-' and PartitionKey lt 'ws.'",
                                                      select=["PartitionKey"], results_per_page=1000))
    print(f"  ... {'identical' if answers[0] == answers[1] else 'DIFFERENT'}; on Table Storage the query of every "
          f"workspace index partition takes at least {len({e['PartitionKey'] for e in ws_rows}):,} requests (one "
          f"per partition) and examines all {len(ws_rows):,} of their rows (the whole history, not the period)")


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report_once(store: TableFindingsStore, counter: Counter, label: str, kwargs: dict[str, Any],
                flags: dict[str, bool]) -> str:
    """Build and render one report; print what it cost; return its JSON."""
    for k, v in flags.items():
        setattr(store, k, v)
    try:
        r0, e0 = counter.requests, counter.rows
        s = time.perf_counter()
        report = build_report(store, framework_name="cis", now=NOW, **kwargs)
        built = time.perf_counter() - s
        requests, rows = counter.requests - r0, counter.rows - e0
        html = render_html(report)
        total = time.perf_counter() - s
    finally:
        for k in flags:
            setattr(store, k, getattr(type(store), k))
    js = report_json(report)
    print(f"report ({label}): read+build {built:.1f} s ({requests:,} requests, {rows:,} rows read), HTML "
          f"{total - built:.1f} s, total {total:.1f} s (target < 30 s); HTML {len(html.encode()) / 1e6:.1f} MB "
          f"(target < 25 MB), JSON {len(js.encode()) / 1e6:.1f} MB; {report.workspaces_total:,} workspaces, "
          f"{len(report.open_findings):,} open, {len(report.exemptions):,} exemptions "
          f"({sum(x.expired for x in report.exemptions):,} expired), {len(report.transitions):,} transitions; "
          f"peak RSS so far {_rss_mb():.0f} MB")
    return js


if __name__ == "__main__":
    main()

"""Benchmarks for in-workspace drift through Databricks audit logs (issue 17). Prints numbers; asserts nothing.

Targets: in-workspace change -> transition on `drift-findings` p95 with 40 ms emulator latency per call
(measured from the audit record's delivery to `on_workspace_audit`); calls per audit-driven scan versus a
full scan of the same workspace; 10,000 audit records in one Event Hubs batch routed in under 1 s; a storm
of 1,000 records on 20 workspaces costs at most 2 scans per workspace.

Databricks' own delay between a change and its record reaching Event Hubs (best effort, typically
minutes) is outside driftwatch and not in these numbers.

Usage: python -m bench.bench_audit
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from typing import Any

import requests

from bench.bench_functions import LATENCY_MS, Emulator, env_for

BATCH_RECORDS = 10_000


def _record(ws_id: str, i: int, kind: int) -> dict[str, Any]:
    from emulator.audit import make_audit_record

    if kind == 0:
        return make_audit_record(ws_id, "workspace", "workspaceConfEdit", user=f"user{i}@contoso.com",
                                 request_params={"workspaceConfKeys": "enableIpAccessLists",
                                                 "workspaceConfValues": "false"})
    if kind == 1:
        return make_audit_record(ws_id, "accounts", "generateDbToken", user=f"user{i}@contoso.com")
    if kind == 2:
        return make_audit_record(ws_id, "secrets", "getSecret")  # read-only: ignored
    return make_audit_record(ws_id, "notebook", "runCommand")  # unknown: ignored and counted


def routing_speed(workspace_ids: list[str]) -> None:
    from core.events.audit import route_audit_batch
    from emulator.audit import event_body

    body = event_body([_record(workspace_ids[i % len(workspace_ids)], i, i % 4) for i in range(BATCH_RECORDS)])
    route_audit_batch([body])  # warm the table and caches
    times, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        out = route_audit_batch([body])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"routing: {BATCH_RECORDS} records in one batch ({len(body) / 1e6:.1f} MB) routed in median "
          f"{statistics.median(times) * 1000:.0f} ms wall, {statistics.median(cpu) * 1000:.0f} ms CPU "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); {dict(out.counts)}   [target < 1000 ms]")


def main() -> None:
    import function_app
    from core import service
    from core.settings import load_settings
    from emulator.audit import event_body, make_audit_record
    from samples.azurite import AzuriteProcess
    from samples.factory import large_estate
    from samples.functions_host import LocalFunctionsHost

    estate = large_estate(60, 4, shared_network_every=1)
    workspaces = [r for r in estate["resources"] if r["type"] == "Microsoft.Databricks/workspaces"]
    routing_speed([w["id"] for w in workspaces[:20]])
    with AzuriteProcess() as az:
        emu = Emulator(estate, LATENCY_MS)
        try:
            rt = service.Runtime.from_settings(load_settings(env_for(emu, az.connection_string)))
            service.reset_runtime(rt)
            host = LocalFunctionsHost(function_app.app, az.connection_string)
            host.fire_timer()
            host.drain("scan-requests", "scan_workspace", workers=8)
            host.drain("drift-findings", "notify_drift", workers=4)

            scanned: Counter[str] = Counter()
            real_scan = service.scan_request

            def counting_scan(rt_: Any, body: str, now: Any = None) -> Any:
                out = real_scan(rt_, body, now)
                if out.workspace_id:
                    scanned[out.workspace_id.lower()] += 1
                return out

            service.scan_request = counting_scan  # type: ignore[assignment]

            # -- calls: one audit-driven scan vs one full (Event Grid) scan of the same workspace ----
            ws = workspaces[0]
            requests.delete(f"{emu.url}/_emulator/requests", timeout=10)
            params = {"workspaceConfKeys": "enableIpAccessLists", "workspaceConfValues": "true"}
            record = make_audit_record(ws["id"], "workspace", "workspaceConfEdit", request_params=params)
            host.deliver_event_hub([event_body([record])])
            host.drain("scan-requests", "scan_workspace", idle_s=0.2)
            audit_calls = emu.get("requests")["total"]
            time.sleep(rt.coalesce_window_s)
            requests.delete(f"{emu.url}/_emulator/requests", timeout=10)
            write = requests.patch(f"{emu.url}{ws['id']}?api-version=2025-03-01-preview", json={"tags": {"b": "1"}},
                                   headers={"Authorization": "Bearer b"}, timeout=10)
            write.raise_for_status()
            event = emu.get("events")["events"][-1]
            requests.delete(f"{emu.url}/_emulator/requests", timeout=10)
            host.deliver_event_grid([event])
            host.drain("scan-requests", "scan_workspace", idle_s=0.2)
            full_calls = emu.get("requests")["total"]
            print(f"calls per scan: audit-driven (IPACL+CONF) {audit_calls}, full scan {full_calls} "
                  f"(ARM + workspace API, one workspace with its own VNet and NSG)")
            host.drain("drift-findings", "notify_drift", workers=2)

            # -- latency: record delivered -> transition on drift-findings --------------------------
            stop = threading.Event()

            def workers() -> None:
                while not stop.is_set():
                    host.drain("scan-requests", "scan_workspace", workers=4, idle_s=0.2, max_s=5)

            bg = threading.Thread(target=workers, daemon=True)
            bg.start()
            drift_q = rt.connection.queue("drift-findings")
            latencies = []
            for w in workspaces[1:31]:
                url = w["properties"]["workspaceUrl"]
                r = requests.patch(f"{emu.url}/ws/{url}/api/2.0/workspace-conf", json={"maxTokenLifetimeDays": "3650"},
                                   headers={"Authorization": "Bearer b", "X-Emulator-User": "jane@contoso.com"},
                                   timeout=10)
                r.raise_for_status()
                record = emu.get("audit")["records"][-1]
                before = {m.id for m in drift_q.peek_messages(max_messages=32)}
                t0 = time.perf_counter()
                host.deliver_event_hub([event_body([record])])
                while time.perf_counter() - t0 < 10:
                    if any(m.id not in before for m in drift_q.peek_messages(max_messages=32)):
                        break
                    time.sleep(0.01)
                latencies.append(time.perf_counter() - t0)
                drift_q.clear_messages()
            latencies.sort()
            p95 = latencies[int(len(latencies) * 0.95) - 1]
            print(f"in-workspace change -> transition on drift-findings ({len(latencies)} changes, {LATENCY_MS} ms "
                  f"latency per call): median {statistics.median(latencies) * 1000:.0f} ms, "
                  f"p95 {p95 * 1000:.0f} ms   [target p95 < 1000 ms, as for Event Grid]")

            # -- storm: 1,000 records on 20 workspaces over ~5 s -----------------------------------
            time.sleep(rt.coalesce_window_s + 1)
            scanned.clear()
            targets = workspaces[31:51]
            t0 = time.perf_counter()
            sent = Counter[str]()

            def partition(p: int) -> None:
                # 4 partitions, each 5 Event Hubs batches of 50 events (one record each), every 0.5 s: the host
                # runs one invocation per partition at a time, partitions in parallel.
                for k in range(5):
                    batch = [event_body([_record(targets[(p * 250 + k * 50 + j) % 20]["id"], j, (k + j) % 2)])
                             for j in range(50)]
                    host.deliver_event_hub(batch, partition_key=str(p))
                    sent["records"] += len(batch)
                    time.sleep(max(0.0, t0 + (k + 1) * 0.5 - time.perf_counter()))

            parts = [threading.Thread(target=partition, args=(p,)) for p in range(4)]
            for th in parts:
                th.start()
            for th in parts:
                th.join()
            spread = time.perf_counter() - t0
            time.sleep(rt.coalesce_window_s + 3)
            stop.set()
            bg.join()
            host.drain("scan-requests", "scan_workspace", workers=4)
            per_ws = [scanned.get(t["id"].lower(), 0) for t in targets]
            print(f"storm: {sent['records']} records on 20 workspaces in {spread:.1f} s -> {sum(per_ws)} scans, "
                  f"at most {max(per_ws)} per workspace (min {min(per_ws)})   [target <= 2 per workspace]")

            # -- 10,000 records end to end through handle_audit (routing + coalescing + enqueue) ------
            time.sleep(rt.coalesce_window_s + 1)
            body = event_body([_record(workspaces[i % 20]["id"], i, i % 4) for i in range(BATCH_RECORDS)])
            t0 = time.perf_counter()
            outcome = service.handle_audit(rt, [body])
            took = time.perf_counter() - t0
            print(f"handle_audit: {BATCH_RECORDS} records (20 workspaces) routed, coalesced and enqueued in "
                  f"{took * 1000:.0f} ms -> {len(outcome.enqueued)} scan requests, {len(outcome.coalesced)} coalesced")
        finally:
            service.reset_runtime(None)
            emu.close()


if __name__ == "__main__":
    main()

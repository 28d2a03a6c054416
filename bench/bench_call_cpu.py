"""Benchmark: client CPU per call of each library a scan calls through (the floor under issue 14 §4).

Each kind of call is made N times from one thread against a server in another process (the estate emulator
with no added latency, Azurite), so `time.process_time()` here is only the client's work: building the
request, the library's pipeline (policies, retries, auth headers), the socket and parsing the answer. Then
the steady-state worker's calls per workspace (issue-era baseline, as `bench_worker_cpu` counts them) are
priced with these figures: the CPU a workspace costs in these libraries alone, before driftwatch parses,
evaluates or reconciles anything. Prints numbers; asserts nothing.

Usage: python -m bench.bench_call_cpu [--calls 300]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.bench_functions import Emulator

ROOT = Path(__file__).resolve().parents[1]


def _per_call_ms(n: int, fn: Callable[[int], Any]) -> float:
    for i in range(min(20, n)):  # connections, imports, caches
        fn(i)
    c = time.process_time()
    for i in range(n):
        fn(i)
    return (time.process_time() - c) * 1000 / n


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=300)
    n = p.parse_args().calls
    from azure.core.exceptions import ResourceNotFoundError
    from azure.data.tables import TableServiceClient

    from core.collect.arm import ArmReader
    from core.collect.auth import databricks_strategy
    from core.collect.config import CollectConfig
    from core.collect.databricks_client import api_client
    from samples.azurite import AzuriteProcess

    estate = json.loads((ROOT / "samples" / "estate.json").read_text())
    ws = next(r for r in estate["resources"] if r["type"] == "Microsoft.Databricks/workspaces")
    emu = Emulator(estate, 0)
    figures: dict[str, float] = {}
    try:
        config = CollectConfig.for_emulator(emu.url)
        arm = ArmReader(config)
        figures["ARM GET (azure-mgmt-resource / azure-core pipeline)"] = _per_call_ms(n, lambda _: arm.get(ws["id"]))
        figures["ARM diagnostic settings list (azure-core pipeline, one page)"] = _per_call_ms(
            n, lambda _: arm.list_diagnostic_settings(ws["id"]))
        base = config.workspace_url(ws["properties"]["workspaceUrl"])
        strategy = databricks_strategy(config)
        shared = api_client(base, strategy, retry_timeout_seconds=30, http_timeout_seconds=10)
        conf = "/api/2.0/workspace-conf?keys=enableIpAccessLists"
        figures["workspace API GET, one ApiClient (databricks-sdk)"] = _per_call_ms(
            n, lambda _: shared.do("GET", conf, headers={"Accept": "application/json"}))
        figures["workspace API client per workspace (databricks-sdk ApiClient built, no call)"] = _per_call_ms(
            n, lambda _: api_client(base, strategy, retry_timeout_seconds=30, http_timeout_seconds=10))
        session = requests.Session()
        figures["plain requests.Session GET (for comparison)"] = _per_call_ms(
            n, lambda _: session.get(f"{emu.url}/ws/{ws['properties']['workspaceUrl']}{conf}",
                                     headers={"Authorization": "Bearer emulator"}, timeout=10).json())
        arm.close()
    finally:
        emu.close()
    with AzuriteProcess() as az:
        service = TableServiceClient.from_connection_string(az.connection_string)
        table = service.create_table_if_not_exists("benchcalls")
        for i in range(n + 20):
            table.upsert_entity({"PartitionKey": "p", "RowKey": f"r{i:05d}", "v": "x" * 200})

        def point_read(i: int) -> None:
            table.get_entity("p", f"r{i:05d}")

        def missing_read(i: int) -> None:
            with contextlib.suppress(ResourceNotFoundError):
                table.get_entity("p", f"absent{i}")

        figures["Table point read (azure-data-tables get_entity)"] = _per_call_ms(n, point_read)
        figures["Table point read of a missing row (404)"] = _per_call_ms(n, missing_read)
        figures["Table one-partition query, 1 row (query_entities)"] = _per_call_ms(
            n, lambda i: list(table.query_entities("PartitionKey eq @pk and RowKey eq @rk",
                                                   parameters={"pk": "p", "rk": f"r{i:05d}"})))
        figures["Table upsert (upsert_entity)"] = _per_call_ms(
            n, lambda i: table.upsert_entity({"PartitionKey": "p", "RowKey": f"r{i:05d}", "v": "y" * 200}))
    width = max(len(k) for k in figures)
    print(f"client CPU per call ({n} calls each, one thread, server in another process):")
    for k, v in figures.items():
        print(f"  {k:<{width}}  {v:.2f} ms")
    # The steady-state worker's calls per workspace on the issue-era baseline (bench_worker_cpu, later sweep):
    # storage GET scans 3.00 (listed row, event marker, coverage), GET findings 1.00 (partition query),
    # $batch 0.14; ARM 1.00 (diagnostic settings); workspace API 2.15 (one client per workspace).
    floor = (2 * figures["Table point read (azure-data-tables get_entity)"]
             + figures["Table point read of a missing row (404)"]
             + figures["Table one-partition query, 1 row (query_entities)"]
             + 0.14 * figures["Table upsert (upsert_entity)"]
             + figures["ARM diagnostic settings list (azure-core pipeline, one page)"]
             + 2.15 * figures["workspace API GET, one ApiClient (databricks-sdk)"]
             + figures["workspace API client per workspace (databricks-sdk ApiClient built, no call)"])
    least = (figures["Table one-partition query, 1 row (query_entities)"]
             + figures["ARM diagnostic settings list (azure-core pipeline, one page)"]
             + 2.15 * figures["workspace API GET, one ApiClient (databricks-sdk)"]
             + figures["workspace API client per workspace (databricks-sdk ApiClient built, no call)"])
    print(f"steady-state worker, issue-era baseline (4.14 storage + 1 ARM + 2.15 workspace-API requests per "
          f"workspace): {floor:.1f} ms of client CPU per workspace in these libraries alone   [target < 10 ms "
          "for everything]")
    print(f"  with only the reads no hand-off can replace (the findings partition, the diagnostic settings, "
          f"the workspace API): {least:.1f} ms")


if __name__ == "__main__":
    main()

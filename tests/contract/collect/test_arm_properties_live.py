"""DBX-WS-010..017 and DBX-NET-008 end to end: the real azure-mgmt ResourceManagementClient (GET by id at
Databricks 2026-01-01 for access connectors, `send_request` lists for Microsoft.Authorization/locks 2020-05-01
and privateDnsZoneGroups at Network 2025-07-01) against the estate emulator seeded with samples/estate.json.

Shapes: azure-rest-api-specs .../Databricks/stable/2026-01-01/examples/AccessConnectorGet.json,
.../Microsoft.Authorization/locks/stable/2020-05-01/examples/ManagementLocks_ListAtResourceLevel.json (a
resource's list includes its resource group's lock), .../Network/stable/2024-05-01/examples/
PrivateEndpointDnsZoneGroupList.json.
"""

from __future__ import annotations

from typing import Any

from core.baseline import Baseline, parse_baseline
from core.scan import run_scan
from emulator.server import EmulatorServer
from samples import factory as f
from tests.support.collect import fast_config

NEW = ("DBX-WS-010", "DBX-WS-011", "DBX-WS-012", "DBX-WS-013", "DBX-WS-014", "DBX-WS-015", "DBX-WS-016",
       "DBX-WS-017", "DBX-NET-008")


def _scan(emulator: EmulatorServer, b: Baseline) -> Any:
    return run_scan(fast_config(emulator), b, subscriptions=[f.SUB_PROD, f.SUB_DEV])


def _new(out: Any, name: str) -> list[tuple[str, str | None]]:
    return sorted((fd.rule_id, fd.subject) for fd in out.result.findings
                  if fd.workspace_name == name and fd.rule_id in NEW)


def test_live_arm_property_findings(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    emulator.reset_requests()
    out = _scan(emulator, example_baseline)
    assert _new(out, "dbw-analytics-prod") == []  # RG lock inherited into the workspace's lock list
    assert _new(out, "dbw-finance-prod") == [("DBX-WS-010", "destination")]
    assert _new(out, "dbw-ml-prod") == [
        ("DBX-WS-010", None), ("DBX-WS-012", "identity"), ("DBX-WS-012", "referedBy"), ("DBX-WS-014", "managed_disk"),
        ("DBX-WS-014", "managed_disk.rotationToLatestKeyVersionEnabled"), ("DBX-WS-015", None)]
    assert _new(out, "dbw-bi-prod") == [("DBX-WS-013", None), ("DBX-WS-017", None)]
    assert _new(out, "vendor-etl") == [("DBX-NET-008", "pe-vendor-etl")]
    assert ("DBX-WS-016", "costcenter") in _new(out, "dbw-legacy")
    assert ("DBX-WS-012", "id") in _new(out, "dbw-legacy")
    counts = emulator.request_counts()["by_endpoint"]
    # one list per workspace that needs it (the dev scope sets resource_lock: optional), inherited locks included
    assert counts["GET arm:locks.list"] == 7
    assert counts["GET arm:privateDnsZoneGroups.list"] == 6  # one per private endpoint


def test_a_denied_extra_read_is_that_part_only(emulator: EmulatorServer, example_baseline: Baseline) -> None:
    emulator.set_faults([{"match": "/providers/Microsoft.Authorization/locks", "action": "403"},
                         {"match": "/privateDnsZoneGroups", "action": "403"}])
    out = _scan(emulator, example_baseline)
    ml = _new(out, "dbw-ml-prod")
    evals = sorted((fd.rule_id, fd.subject) for fd in out.result.findings
                   if fd.workspace_name == "dbw-ml-prod" and fd.rule_id.startswith("DBX-EVAL"))
    assert evals == [("DBX-EVAL-001", "locks"), ("DBX-EVAL-001", "private_dns")]
    assert ("DBX-WS-015", None) not in ml  # not evaluated, so not reported (and would not resolve)
    assert ("DBX-WS-012", "referedBy") in ml and ("DBX-WS-014", "managed_disk") in ml  # the rest still evaluated
    assert all("dev-shared" in e["resource_id"] for e in out.result.errors)  # its API is absent from the sample


def test_no_extra_read_when_its_rule_is_off(emulator: EmulatorServer) -> None:
    b = parse_baseline({"schema": "driftwatch.baseline/v1", "defaults": {"sku": "premium", "compute_mode": "Hybrid",
                                                                         "required_tags": {"env": None}}})
    emulator.reset_requests()
    out = _scan(emulator, b)
    counts = emulator.request_counts()["by_endpoint"]
    assert "GET arm:locks.list" not in counts and "GET arm:privateDnsZoneGroups.list" not in counts
    assert "GET arm:resource" not in counts  # no access connector (nor VNet/NSG) GET
    assert [fd.workspace_name for fd in out.result.findings if fd.rule_id == "DBX-WS-011"] == ["dbw-serverless-prod"]

"""Pure-test builders: realistic WorkspaceState from ARM documents, the strict baseline, findings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.baseline import Baseline, parse_baseline
from core.rules import evaluate_workspace
from core.state import Estate, parse_estate
from core.state.model import WorkspaceState
from samples import factory as f

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

STRICT_BASELINE: dict[str, Any] = {
    "schema": "driftwatch.baseline/v1",
    "defaults": {
        "sku": "premium",
        "secure_cluster_connectivity": True,
        "public_network_access": "Disabled",
        "required_nsg_rules": "AllRules",
        "private_link": "required",
        "customer_managed_keys": ["managed_services", "managed_disk", "dbfs_root"],
        "infrastructure_encryption": True,
        "enhanced_security": {"compliance_security_profile": True, "enhanced_security_monitoring": True,
                              "automatic_cluster_update": True},
        "allowed_locations": ["westeurope"],
        "diagnostic_logs": ["accounts", "clusters", "jobs", "notebook", "workspace"],
        "network": {"vnet_injection": True, "min_subnet_prefix": 26, "egress": "nat_gateway_or_route_table"},
        "ip_access_lists": {"enforced": True, "allow": list(f.BASELINE_ALLOW), "block": list(f.BASELINE_BLOCK),
                            "widest_allow_prefix": 16, "when_private": "check"},
        "workspace_conf": {"enableVerboseAuditLogs": "true", "enableDbfsFileBrowser": "false"},
        "tokens": {"max_lifetime_days": 90},
    },
}


def baseline(**overrides: Any) -> Baseline:
    doc = {"schema": "driftwatch.baseline/v1", "defaults": {**STRICT_BASELINE["defaults"], **overrides}}
    return parse_baseline(doc, "test-baseline")


def compliant_estate(mutate: Callable[[dict[str, Any]], None] | None = None, *, api: dict[str, Any] | None = None,
                     with_api: bool = True) -> dict[str, Any]:
    """One compliant VNet-injected workspace; `mutate` edits the raw documents before parsing."""
    vid, docs = f.network_for(f.SUB_PROD, "rg-a", "a", space="10.1.0.0/16", public="10.1.0.0/24",
                              private="10.1.1.0/24")
    ws = f.workspace_doc(f.SUB_PROD, "rg-a", "dbw-a", 4242, vnet_id=vid, tags={"env": "prod"})
    estate = {"schema": "driftwatch.estate/v1",
              "subscriptions": [{"subscriptionId": f.SUB_PROD, "displayName": "p", "state": "Enabled"}],
              "resources": [ws, *docs, f.diag_doc(ws["id"], ["accounts", "clusters", "jobs", "notebook", "workspace"])],
              "databricks": {ws["properties"]["workspaceUrl"]: api or f.api_state()} if with_api else {}}
    if mutate:
        mutate(estate)
    return estate


def resource(estate: dict[str, Any], type_suffix: str) -> dict[str, Any]:
    return next(r for r in estate["resources"] if r["type"].lower().endswith(type_suffix.lower()))


def states(estate: dict[str, Any]) -> list[WorkspaceState]:
    parsed: Estate = parse_estate(estate, "test-estate")
    out, errors = parsed.workspace_states()
    assert not errors, errors
    return out


def findings_for(estate: dict[str, Any], b: Baseline | None = None) -> list[Any]:
    b = b or baseline()
    return [fd for ws in states(estate) for fd in evaluate_workspace(ws, b, now=NOW).findings]



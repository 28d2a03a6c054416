"""Messy ARM documents and workspace-API payloads: only StateError/SnapshotError, and the rules always finish."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from core.baseline import parse_baseline
from core.rules import evaluate_workspace
from core.state import SnapshotError, StateError, parse_estate, parse_workspace_api
from core.state.parse import build_workspace_state, parse_workspace_arm
from samples import factory as f
from tests.fuzz import strategies as s
from tests.support.estates import STRICT_BASELINE

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BASELINE = parse_baseline(STRICT_BASELINE, "strict-baseline")


def lookup_from(docs: list[Any]) -> Any:
    index = {str(d["id"]).lower(): d for d in docs if isinstance(d, Mapping) and isinstance(d.get("id"), str)}
    return lambda rid: index.get(rid.lower())


def assert_names_field(exc: Exception) -> None:
    msg = str(exc)
    assert msg and ": " in msg and len(msg) < 5000, msg[:300]


@settings(max_examples=200, deadline=None)
@given(s.workspace_docs())
def test_workspace_arm_parses_or_names_the_field(doc: dict[str, Any]) -> None:
    before = copy.deepcopy(doc)
    try:
        arm = parse_workspace_arm(doc)
    except StateError as exc:
        assert_names_field(exc)
        return
    assert arm.no_public_ip in (True, False, None)
    assert doc == before  # the parser never edits its input


@settings(max_examples=200, deadline=None)
@given(s.workspace_docs(), s.vnet_docs(), s.nsg_docs(), st.lists(s.diag_docs(), max_size=2),
       s.workspace_api_payloads())
def test_workspace_state_builds_and_evaluates_or_raises_state_error(ws: Any, vnet: Any, nsg: Any, diags: Any,
                                                                   api: Any) -> None:
    try:
        api_state = parse_workspace_api(*api, where="fuzz-api")
    except StateError as exc:
        assert str(exc).startswith("fuzz-api: "), str(exc)
        api_state = None
    try:
        state = build_workspace_state(ws, lookup_from([vnet, nsg]), diagnostics=diags, workspace_api=api_state)
    except StateError as exc:
        assert_names_field(exc)
        return
    ev = evaluate_workspace(state, BASELINE, now=NOW, source="cli")
    for finding in ev.findings:
        assert finding.rule_id and finding.message and finding.id


@settings(max_examples=200, deadline=None)
@given(s.workspace_api_payloads())
def test_workspace_api_payloads(api: tuple[Any, Any, Any]) -> None:
    try:
        state = parse_workspace_api(*api, where="fuzz-api")
    except StateError as exc:
        msg = str(exc)
        assert msg.startswith("fuzz-api: ") and any(k in msg for k in ("workspace_conf", "ip_access_lists", "tokens"))
        return
    for tok in state.tokens:  # token times are int64 milliseconds or unknown
        for t in (tok.creation_time, tok.expiry_time):
            assert t is None or -(2**63) <= t < 2**63


@settings(max_examples=150, deadline=None)
@given(st.one_of(s.estates(), s.estates(shape_garbage=False)))
def test_estate_snapshot_parses_and_every_workspace_evaluates(doc: dict[str, Any]) -> None:
    try:
        estate = parse_estate(doc, "fuzz.json")
    except SnapshotError as exc:
        assert str(exc).startswith("fuzz.json: "), str(exc)[:300]
        return
    states, errors = estate.workspace_states()
    event(f"{len(states)} state(s), {len(errors)} error(s)")
    for err in errors:
        assert err["stage"] == "parse" and err["message"] and err["resource_id"]
    for ws in states:
        evaluate_workspace(ws, BASELINE, now=NOW, source="cli")


# -- hostile sizes -----------------------------------------------------------------------------------------

def _api_with_entries(n: int) -> dict[str, Any]:
    api = f.api_state()
    per_list = 1000
    for i in range(0, n, per_list):
        addrs = [f"10.{(j >> 16) & 255}.{(j >> 8) & 255}.{j & 255}/32" for j in range(i, min(i + per_list, n))]
        api["ip_access_lists"].append(f.ip_list(f"bulk-{i}", "ALLOW", addrs))
    # A junk address is refused by the estate schema itself (core/contracts/estate_v1.py, as the emulator and
    # Databricks refuse it), so the open-to-all entry rides along in a list of its own.
    api["ip_access_lists"].append(f.ip_list("open", "ALLOW", ["0.0.0.0/0"]))
    return api


def test_hundred_thousand_ip_entries_evaluate() -> None:
    from tests.support.estates import compliant_estate

    api = _api_with_entries(100_000)
    big_allow = [f"172.{(j >> 8) & 255}.{j & 255}.0/24" for j in range(10_000)]
    baseline = parse_baseline({**STRICT_BASELINE, "defaults": {**STRICT_BASELINE["defaults"], "ip_access_lists": {
        "enforced": True, "allow": big_allow, "block": [f"192.0.{j}.0/24" for j in range(200)],
        "widest_allow_prefix": 16, "when_private": "check"}}}, "big-baseline")
    t0 = time.perf_counter()
    estate = parse_estate(compliant_estate(api=api), "big.json")
    [ws], _ = estate.workspace_states()
    t1 = time.perf_counter()
    ev = evaluate_workspace(ws, baseline, now=NOW, source="cli")
    t2 = time.perf_counter()
    ipacl2 = [x for x in ev.findings if x.rule_id == "DBX-IPACL-002"]
    # 100,000 unexpected /32s + 0.0.0.0/0 + 10,000 missing baseline /24s (+ the sample's 2 corp ones)
    assert len(ipacl2) >= 110_000
    assert any(x.rule_id == "DBX-IPACL-003" and x.subject == "0.0.0.0/0" for x in ev.findings)
    print(f"100,000 IP entries x 10,000 baseline CIDRs: parse {t1 - t0:.2f}s, evaluate {t2 - t1:.2f}s, "
          f"{len(ev.findings)} findings")
    # No timed assertion: timing is measured by benchmarks (make bench), not by tests.


def test_five_megabyte_snapshot_is_fine(tmp_path: Any) -> None:
    from core.state import load_estate
    from tests.support.estates import compliant_estate

    doc = compliant_estate(api=_api_with_entries(20_000))
    doc["resources"] += [{"id": f"/subscriptions/{s.SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa{i}",
                          "type": "Microsoft.Storage/storageAccounts", "properties": {"notes": "n" * 2000}}
                         for i in range(2500)]
    p = tmp_path / "five-mb.json"
    p.write_text(json.dumps(doc))
    assert p.stat().st_size > 5_000_000
    states, errors = load_estate(p).workspace_states()
    assert len(states) == 1 and errors == []


# -- regressions for defects found by these properties ----------------------------------------------------

WS = {"id": s.WS_ID, "type": "Microsoft.Databricks/workspaces", "location": "westeurope",
      "properties": {"computeMode": "Hybrid", "parameters": {"customVirtualNetworkId": {"value": s.VNET_ID},
                                    "customPublicSubnetName": "host", "customPrivateSubnetName": "container"},
                     "workspaceUrl": s.WS_HOST}}


def _estate(*resources: Any, api: Any = None) -> dict[str, Any]:
    return {"schema": "driftwatch.estate/v1", "subscriptions": [{"subscriptionId": s.SUB}],
            "resources": list(resources), "databricks": {s.WS_HOST: api or {}}}


def test_regression_non_list_array_fields_are_state_errors_naming_the_field() -> None:
    cases = [
        ({**WS, "properties": {**WS["properties"], "privateEndpointConnections": 5}}, "privateEndpointConnections"),
    ]
    for doc, field in cases:
        try:
            parse_workspace_arm(doc)
        except StateError as exc:
            assert field in str(exc) and s.WS_ID in str(exc)
        else:
            raise AssertionError(field)
    vnet = {"id": s.VNET_ID, "type": "Microsoft.Network/virtualNetworks", "properties": {"subnets": 7}}
    nsg_rule = {"name": "r", "properties": {"sourceAddressPrefixes": 3}}
    nsg = {"id": s.NSG_ID, "type": "Microsoft.Network/networkSecurityGroups", "properties": {"securityRules": [nsg_rule]}}
    sub = {"id": f"{s.VNET_ID}/subnets/host", "name": "host", "type": "Microsoft.Network/virtualNetworks/subnets",
           "properties": {"networkSecurityGroup": {"id": s.NSG_ID}, "delegations": "x"}}
    for resources, field in (([WS, vnet], "properties.subnets"), ([WS, nsg, sub], "properties.delegations"),
                             ([WS, nsg, {**sub, "properties": {"networkSecurityGroup": {"id": s.NSG_ID}}}],
                              "properties.sourceAddressPrefixes")):
        states, errors = parse_estate(_estate(*resources)).workspace_states()
        assert states == [] and field in errors[0]["message"], errors
    for api, field in (({"ip_access_lists": [{"ip_addresses": 5}]}, "ip_access_lists[0].ip_addresses"),):
        try:  # the estate schema (core/contracts/estate_v1.py) refuses it before any workspace is built
            parse_estate(_estate(WS, api=api), "snap.json")
        except SnapshotError as exc:
            assert f"snap.json: databricks.{s.WS_HOST}.{field}: " in str(exc)
        else:
            raise AssertionError(field)
    for args in ((None, 5, None), (None, None, 5)):
        try:
            parse_workspace_api(*args, where="w")
        except StateError as exc:
            assert "expected a list" in str(exc)
        else:
            raise AssertionError(args)


def test_regression_malformed_parent_of_a_standalone_child_is_a_snapshot_error() -> None:
    child = {"id": f"{s.VNET_ID}/subnets/host", "name": "host", "type": "Microsoft.Network/virtualNetworks/subnets"}
    for props, field in (([1, 2], "properties"), ({"subnets": 5}, "properties.subnets")):
        vnet = {"id": s.VNET_ID, "type": "Microsoft.Network/virtualNetworks", "properties": props}
        try:
            parse_estate(_estate(vnet, child), "snap.json")
        except SnapshotError as exc:
            assert str(exc).startswith("snap.json: ") and f"resources[0].{field}: expected" in str(exc)
        else:
            raise AssertionError(props)
    vnet = {"id": s.VNET_ID, "type": "Microsoft.Network/virtualNetworks", "properties": {"subnets": [1, "x", None]}}
    estate = parse_estate(_estate(vnet, child))  # garbage siblings are kept as they were, the child is folded in
    assert estate.lookup(s.VNET_ID)["properties"]["subnets"] == [1, "x", None, child]


def test_regression_token_times_outside_int64_are_unknown_not_overflow() -> None:
    tokens = [{"token_id": "t1", "creation_time": 1, "expiry_time": 10**400},
              {"token_id": "t2", "creation_time": -(10**300), "expiry_time": 10**300}]
    state = parse_workspace_api({}, [], tokens)
    assert [(t.creation_time, t.expiry_time) for t in state.tokens] == [(1, None), (None, None)]
    from tests.support.estates import compliant_estate

    api = {**f.api_state(), "tokens": tokens}
    [ws], _ = parse_estate(compliant_estate(api=api)).workspace_states()
    found = {x.subject for x in evaluate_workspace(ws, BASELINE, now=NOW, source="cli").findings
             if x.rule_id == "DBX-TOKEN-002"}
    assert found == {"t1", "t2"}  # unknown expiry is reported as no expiry, never an OverflowError

"""Event Grid / CloudEvents deliveries: every event gets a decision, only a whole undecodable delivery raises."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.arm_ids import parse_arm_id_lower
from core.events import EventParseError, RoutingDecision, Topology, route_delivery
from tests.fuzz import strategies as s

TOPOLOGY = Topology({s.VNET_ID: [s.WS_ID], f"{s.VNET_ID}/subnets/host": [s.WS_ID], s.NSG_ID: [s.WS_ID]})
TOPOLOGY_WORKSPACES = {w for ws in TOPOLOGY.edges().values() for w in ws}
MAX_REASON = 600


def check_decisions(payload: Any, decisions: list[RoutingDecision]) -> None:
    items = payload if isinstance(payload, list) else [payload]
    assert len(decisions) == len(items)
    for raw, d in zip(items, decisions, strict=True):
        assert d.action in ("scan", "resolve", "ignore", "reject")
        assert d.reason and len(d.reason) <= MAX_REASON, d.reason[:300]
        if d.action == "reject":
            assert d.workspaces == []
            # names what is wrong: the field, the schema or the resource id
            assert any(w in d.reason for w in ("field", "event[", "resource id", "specversion", "neither")), d.reason
        for ws in d.workspaces:
            parts = parse_arm_id_lower(ws)
            assert parts["namespace"] == "microsoft.databricks" and parts["type"] == "workspaces"
            assert parts.get("children") in ("", None) and not ws.endswith("/")
            if d.resource_id and ws not in TOPOLOGY_WORKSPACES:
                # a workspace event routes to the workspace prefix of its own id, character for character
                assert d.resource_id.startswith(ws), (d.resource_id, ws)
        if isinstance(raw, dict) and d.action != "reject" and isinstance(raw.get("id"), str):
            assert d.event_id == raw["id"]


@settings(max_examples=200, deadline=None)
@given(s.deliveries)
def test_any_delivery_routes_every_event(payload: Any) -> None:
    try:
        decisions = route_delivery(json.dumps(payload), TOPOLOGY)
    except EventParseError as exc:  # only a document that is neither an array nor an object
        assert not isinstance(payload, list | dict) and "array or object" in str(exc)
        return
    check_decisions(payload, decisions)


@settings(max_examples=150, deadline=None)
@given(st.lists(s.valid_events, min_size=1, max_size=5))
def test_valid_events_never_reject(events: list[dict[str, Any]]) -> None:
    decisions = route_delivery(json.dumps(events).encode(), TOPOLOGY)
    check_decisions(events, decisions)
    for ev, d in zip(events, decisions, strict=True):
        rid = ev["subject"]
        if "%2f" in rid.lower() or "/../" in rid or rid.endswith("/..") or "/subscriptions/../" in rid.lower():
            continue  # path tricks in the id itself may be unparseable: rejected with the id named
        # A lone surrogate anywhere is not valid Unicode: rejected with the field named (issue 10 §7).
        assert d.action != "reject" or "resource id" in d.reason or "not valid Unicode" in d.reason, d.reason


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_raw_bytes_either_route_or_raise_the_one_documented_error(raw: bytes) -> None:
    try:
        decisions = route_delivery(raw, TOPOLOGY)
    except EventParseError as exc:
        assert str(exc).startswith("delivery"), str(exc)
        return
    check_decisions(json.loads(raw), decisions)


def test_two_megabyte_delivery_is_refused_as_over_one_megabyte() -> None:
    event = {"id": "e", "eventType": s.EVENT_TYPES[0], "subject": s.WS_ID, "data": {"pad": "x" * 2_000_000}}
    for payload in (json.dumps([event]).encode(), json.dumps([event])):
        try:
            route_delivery(payload, TOPOLOGY)
        except EventParseError as exc:
            assert "1 MB" in str(exc)
        else:
            raise AssertionError("a 2 MB delivery was accepted")


def test_one_megabyte_delivery_still_routes() -> None:
    events = [{"id": f"e{i}", "eventType": s.EVENT_TYPES[0], "subject": s.WS_ID,
               "data": {"resourceUri": s.WS_ID, "operationName": s.OPERATIONS[0], "pad": "x" * 600}}
              for i in range(1000)]
    payload = json.dumps(events).encode()
    assert 0.9e6 < len(payload) < 1_048_576
    assert {d.action for d in route_delivery(payload, TOPOLOGY)} == {"scan"}


def test_deeply_nested_delivery_is_one_parse_error_or_one_reject() -> None:
    # 100,000 levels: one EventParseError (about 5 ms). 5,000 levels still decode on Python 3.13: the
    # single item is then rejected like any other non-event.
    for depth in (100_000, 5_000):
        for payload in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            t0 = time.perf_counter()
            try:
                decisions = route_delivery(payload.encode(), TOPOLOGY)
            except EventParseError as exc:
                assert "nested too deeply" in str(exc)
            else:
                assert depth < 100_000 and [d.action for d in decisions] == ["reject"]
                assert len(decisions[0].reason) < 200
            print(f"deep delivery {depth}: {time.perf_counter() - t0:.3f}s")


def test_deep_value_inside_one_event_rejects_only_that_event() -> None:
    deep: Any = "x"
    for _ in range(400):  # below the decoder's limit, deep enough to break an unbounded repr
        deep = [deep]
    events = [{"id": "a", "specversion": deep, "type": "t"},
              {"id": "b", "eventType": s.EVENT_TYPES[0], "subject": s.WS_ID, "data": {"resourceUri": s.WS_ID}}]
    decisions = route_delivery(json.dumps(events), TOPOLOGY)
    assert [d.action for d in decisions] == ["reject", "scan"]
    assert "specversion" in decisions[0].reason and len(decisions[0].reason) < 300


# -- regressions for defects found by these properties ----------------------------------------------------

def test_regression_integer_over_4300_digits_is_a_parse_error_not_valueerror() -> None:
    try:
        route_delivery(b'[{"id": ' + b"9" * 5000 + b"}]", TOPOLOGY)
    except EventParseError as exc:
        assert "not JSON" in str(exc)
    else:
        raise AssertionError("accepted")


def test_regression_case_expanding_unicode_does_not_shift_the_workspace_id() -> None:
    # "İ".lower() is two characters: an index found in rid.lower() used to cut rid in the wrong place.
    ws = f"/subscriptions/{s.SUB}/resourceGroups/İİİİ/providers/Microsoft.Databricks/workspaces/w"
    for rid in (f"{ws}/privateEndpointConnections/pe", f"{ws}/providers/Microsoft.Insights/diagnosticSettings/d", ws):
        ev = {"id": "1", "eventType": s.EVENT_TYPES[0], "subject": rid, "data": {"resourceUri": rid}}
        [d] = route_delivery(json.dumps(ev), Topology())
        assert d.action == "scan" and d.workspaces == [ws], d


def test_regression_reasons_quote_only_an_excerpt_of_huge_values() -> None:
    huge = "y" * 200_000
    events = [{"id": "1", "eventType": huge, "subject": s.WS_ID},
              {"id": "2", "eventType": s.EVENT_TYPES[0], "subject": s.WS_ID, "data": {"operationName": huge}},
              {"id": "3", "eventType": s.EVENT_TYPES[0], "subject": s.WS_ID, "data": {"status": huge}},
              {"id": "4", "eventType": s.EVENT_TYPES[0], "subject": f"/subscriptions/{huge}"}]
    for d in route_delivery(json.dumps(events), TOPOLOGY):
        assert len(d.reason) <= MAX_REASON

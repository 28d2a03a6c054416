"""Property-based tests: CIDR normalisation, finding-id stability, event parsing never crashes."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.baseline import parse_cidr
from core.events import RoutingDecision, Topology, route_delivery
from core.findings import finding_id

ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
ipv6 = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)


@given(ipv4)
def test_bare_ipv4_equals_its_slash_32(addr: ipaddress.IPv4Address) -> None:
    assert parse_cidr(str(addr)) == parse_cidr(f"{addr}/32") == ipaddress.ip_network(f"{addr}/32")


@given(ipv6)
def test_bare_ipv6_equals_its_slash_128(addr: ipaddress.IPv6Address) -> None:
    assert parse_cidr(str(addr)) == parse_cidr(f"{addr}/128")


@given(ipv4, st.integers(0, 32))
def test_host_bits_are_masked_and_idempotent(addr: ipaddress.IPv4Address, plen: int) -> None:
    net = parse_cidr(f"{addr}/{plen}")
    assert net.prefixlen == plen and addr in net
    assert parse_cidr(str(net)) == net
    assert parse_cidr(f"  {net}  ") == net


@given(ipv6, st.integers(0, 128))
def test_ipv6_normalisation_is_idempotent(addr: ipaddress.IPv6Address, plen: int) -> None:
    net = parse_cidr(f"{addr.exploded.upper()}/{plen}")
    assert parse_cidr(str(net)) == net and addr in net


ids = st.from_regex(r"/subscriptions/[0-9a-f-]{8,36}/resourceGroups/[A-Za-z0-9_.-]{1,20}/providers/"
                    r"Microsoft\.Databricks/workspaces/[A-Za-z0-9-]{1,20}", fullmatch=True)
rules = st.sampled_from(["DBX-WS-001", "DBX-NET-005", "DBX-IPACL-002"])
subjects = st.one_of(st.none(), st.text(min_size=1, max_size=30))


@given(ids, rules, subjects)
def test_finding_id_is_stable_across_casing(rid: str, rule: str, subject: str | None) -> None:
    # ARM's identity is the simple per-character upper-case mapping (issue 10 §6): `ß` is not `SS`, and
    # lower-casing a non-ASCII subject (KELVIN SIGN -> k) may name another thing; tests/unit/test_identity.py.
    a = finding_id(rid, rule, subject)
    simple_upper = "".join(c.upper() if len(c.upper()) == 1 else c for c in subject) if subject else subject
    assert a == finding_id(rid.upper(), rule.lower(), simple_upper)
    if subject is None or subject.isascii():
        assert a == finding_id(rid.lower(), rule, subject.lower() if subject else subject)
    assert len(a) == 32 and all(c in "0123456789abcdef" for c in a)


@given(ids, ids, rules)
def test_finding_id_differs_for_different_workspaces(a: str, b: str, rule: str) -> None:
    if a.lower() != b.lower():
        assert finding_id(a, rule, None) != finding_id(b, rule, None)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=10), st.integers()),
     "eventType": st.sampled_from(["Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess",
                                   "Microsoft.Resources.ResourceActionSuccess", "Other", ""]),
     "subject": st.one_of(ids, st.text(max_size=60), st.none()),
     "data": st.one_of(json_values, st.fixed_dictionaries({
         "operationName": st.one_of(st.text(max_size=40), st.sampled_from(["Microsoft.Databricks/workspaces/write",
                                                                           "Microsoft.Network/virtualNetworks/write"])),
         "status": st.sampled_from(["Succeeded", "Failed", ""]),
         "resourceUri": st.one_of(ids, st.text(max_size=60))}))},
    optional={"specversion": st.sampled_from(["1.0", "0.3"]), "type": st.text(max_size=20)},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.lists(st.one_of(event_like, json_values), max_size=6), event_like))
def test_routing_never_crashes_and_decides_for_every_event(payload: Any) -> None:
    try:
        decisions = route_delivery(json.dumps(payload), Topology())
    except ValueError:
        assert not isinstance(payload, list | dict)  # only a non-delivery document is refused as a whole
        return
    n = len(payload) if isinstance(payload, list) else 1
    assert len(decisions) == n
    for d in decisions:
        assert isinstance(d, RoutingDecision) and d.reason
        assert d.action in ("scan", "resolve", "ignore", "reject")

"""DBX-NET-005 / DBX-NET-004: NSG rules evaluated as Azure evaluates them.

Cases follow Microsoft Learn "Azure network security groups overview" (security rules: priority order,
lower number first, "once traffic matches a rule, processing stops", default rules last, `*`/Any/0.0.0.0/0
all addresses, Any protocol = TCP+UDP+ICMP) and "How network security groups filter network traffic"
(VM1: without a rule that allows port 80 inbound the traffic is denied by DenyAllInbound), and the
Databricks-published VNet-injection rules (core/rules/data/nsg_reference.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from core.rules.data.nsg_reference import DATABRICKS_MANAGED_RULES
from core.rules.network import managed_rule_changes
from core.rules.nsg_flows import inbound_exposure, is_any_source, port_ranges, source_addresses
from core.state.model import NsgRule
from samples import factory as f
from tests.support.estates import baseline, compliant_estate, findings_for, resource

SUBNETS = [("10.1.0.0/24",), ("10.1.1.0/24",)]


def r(name: str, priority: int | None, access: str = "Allow", *, src: Any = "Internet", ports: Any = "*",
      protocol: str = "Tcp", dst: Any = "*", direction: str = "Inbound") -> NsgRule:
    def tup(v: Any) -> tuple[str, ...]:
        return tuple(v) if isinstance(v, list | tuple) else (v,)
    return NsgRule(id=None, name=name, direction=direction, access=access, protocol=protocol, priority=priority,
                   source_prefixes=tup(src), destination_prefixes=tup(dst), destination_ports=tup(ports))


def exposure(*rules: NsgRule, widest: int = 8) -> dict[str, Any]:
    return {e.name: e for e in inbound_exposure(list(rules), SUBNETS, widest)}


def test_single_allow_from_internet_is_exposed_with_its_ports() -> None:
    e = exposure(r("allow-ssh", 200, ports="22"))["allow-ssh"]
    assert e.exposed and e.describe() == ["TCP 22"]


def test_docs_higher_priority_deny_same_attributes_shadows_the_allow() -> None:
    """Overview: "any rules that exist with lower priorities (higher numbers) that have the same attributes as
    rules with higher priorities aren't processed"."""
    e = exposure(r("deny-80", 150, "Deny", ports="80"), r("allow-80", 200, ports="80"))["allow-80"]
    assert not e.exposed and e.shadowed_by == {"deny-80"}


def test_lower_priority_deny_does_not_shadow() -> None:
    """First match wins: a Deny processed after the Allow changes nothing."""
    e = exposure(r("allow-80", 150, ports="80"), r("deny-80", 200, "Deny", ports="80"))["allow-80"]
    assert e.exposed and e.describe() == ["TCP 80"]


def test_partial_deny_leaves_the_rest_exposed() -> None:
    e = exposure(r("deny-22", 100, "Deny", ports="22"), r("allow-range", 200, ports="20-25"))["allow-range"]
    assert e.describe() == ["TCP 20-21", "TCP 23-25"]


def test_deny_of_other_protocol_does_not_shadow() -> None:
    e = exposure(r("deny-udp", 100, "Deny", protocol="Udp"), r("allow-tcp", 200, ports="443"))["allow-tcp"]
    assert e.describe() == ["TCP 443"]


def test_any_protocol_covers_tcp_udp_icmp() -> None:
    """Overview: "In the Protocol column, Any encompasses TCP, UDP, and ICMP"."""
    e = exposure(r("allow-all", 300, protocol="*"))["allow-all"]
    assert {"TCP *", "UDP *", "ICMP"} <= set(e.describe())
    shadowed = exposure(r("deny-any", 100, "Deny", protocol="*"), r("allow-tcp", 300, ports="22"))["allow-tcp"]
    assert not shadowed.exposed


def test_deny_from_internet_tag_shadows_allow_from_star_and_0_0_0_0() -> None:
    """`*`, `Any` and 0.0.0.0/0 all mean every address; a Deny of Internet at higher priority wins."""
    e = exposure(r("deny-internet", 100, "Deny", src="Internet", protocol="*"),
                 r("allow-star", 200, src="*", ports="3389"), r("allow-zero", 210, src="0.0.0.0/0", ports="22"))
    assert not e["allow-star"].exposed and not e["allow-zero"].exposed


def test_deny_of_ipv4_only_leaves_ipv6_exposed_for_star() -> None:
    e = exposure(r("deny-v4", 100, "Deny", src="0.0.0.0/0", protocol="*"), r("allow-star", 200, src="*", ports="22"))
    assert e["allow-star"].exposed  # `*` matches IPv6 sources too, 0.0.0.0/0 does not
    both = exposure(r("deny-v4", 100, "Deny", src="0.0.0.0/0", protocol="*"),
                    r("deny-v6", 101, "Deny", src="::/0", protocol="*"), r("allow-star", 200, src="*", ports="22"))
    assert not both["allow-star"].exposed


def test_deny_of_a_private_range_does_not_hide_internet_exposure() -> None:
    e = exposure(r("deny-10", 100, "Deny", src="10.0.0.0/8", protocol="*"), r("allow-star", 200, src="*", ports="22"))
    assert e["allow-star"].exposed


def test_docs_default_rules_deny_internet_unless_allowed() -> None:
    """How-it-works VM1: unless a rule allows port 80 inbound, DenyAllInbound (65500) denies it; the
    AllowVNetInBound / AllowAzureLoadBalancerInBound defaults never admit Internet sources."""
    assert exposure() == {}
    assert exposure(r("allow-vnet", 100, src="VirtualNetwork", protocol="*")) == {}


@pytest.mark.parametrize("src", ["Internet", "internet", "*", "Any", "0.0.0.0/0", "0.0.0.0", "0.0.0.0/0.0.0.0",
                                 "::/0", "0::0/0", "::0/0", "0:0:0:0:0:0:0:0/0", "::", " Internet "])
def test_every_spelling_of_any_source_is_internet(src: str) -> None:
    assert is_any_source(src)
    assert exposure(r("x", 200, src=src, ports="22"))["x"].exposed


def test_plural_fields_count() -> None:
    rule = r("plural", 200, src=["10.0.0.0/8", "0.0.0.0/0"], ports=["22", "3389"])
    assert exposure(rule)["plural"].describe() == ["TCP 22", "TCP 3389"]


@pytest.mark.parametrize(("prefix", "widest", "exposed"), [
    ("8.0.0.0/7", 8, True),       # public and broader than /8
    ("8.0.0.0/8", 8, False),      # a /8 is not broader than /8
    ("203.0.113.0/24", 8, False),  # someone's specific range
    ("10.0.0.0/8", 16, False),    # private
    ("8.0.0.0/12", 16, True),
    ("2000::/3", 8, True),        # all of global IPv6 unicast
    ("2001:db8::/32", 8, False),
])
def test_public_prefix_broader_than_the_threshold(prefix: str, widest: int, exposed: bool) -> None:
    assert bool(exposure(r("x", 200, src=prefix, ports="22"), widest=widest)) is exposed
    if exposed:
        assert exposure(r("x", 200, src=prefix, ports="22"), widest=widest)["x"].exposed


def test_managed_rules_are_evaluated_too() -> None:
    """A Databricks-managed rule edited to source `*` on all ports is Internet exposure."""
    managed = r("Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-worker-inbound", 100, src="*",
                protocol="*", dst="VirtualNetwork")
    assert exposure(managed)[managed.name].exposed


def test_destination_elsewhere_does_not_expose_the_workspace_subnets() -> None:
    assert not exposure(r("other-subnet", 200, dst="10.9.0.0/24", ports="22"))["other-subnet"].exposed
    assert exposure(r("our-subnet", 200, dst="10.1.0.0/24", ports="22"))["our-subnet"].exposed
    # a Deny that covers only one of the two subnets leaves the other one exposed
    e = exposure(r("deny-host", 100, "Deny", dst="10.1.0.0/24", protocol="*"), r("allow", 200, ports="22"))["allow"]
    assert e.exposed


def test_ports_and_sources_parse_robustly() -> None:
    assert port_ranges(["80,443", "1000-1002"]) == (((80, 80), (443, 443), (1000, 1002)), True)
    assert port_ranges(["*"])[0] == ((0, 65535),)
    assert port_ranges(["http"])[1] is False
    assert source_addresses(["VirtualNetwork", "AzureLoadBalancer"], internet_only=False, widest_prefix=8).empty
    # an Allow with an unreadable port spec is assumed to open every port
    assert exposure(r("weird", 200, ports="ssh"))["weird"].describe() == ["TCP *"]


# -- through the rule (WorkspaceState from ARM documents) --------------------------------------------------

def _nsg_rules(e: dict[str, Any]) -> list[dict[str, Any]]:
    return resource(e, "networkSecurityGroups")["properties"]["securityRules"]


def _nsg_id(e: dict[str, Any]) -> str:
    return resource(e, "networkSecurityGroups")["id"]


def test_net005_one_finding_per_exposing_allow_with_ports_in_actual() -> None:
    def mutate(e: dict[str, Any]) -> None:
        _nsg_rules(e).extend([f.nsg_rule(_nsg_id(e), "allow-rdp", "Inbound", 300, "Tcp", "Internet", "*", "3389"),
                              f.nsg_rule(_nsg_id(e), "allow-web", "Inbound", 310, "Tcp", "*", "*", "80,443")])
    found = {fd.subject: fd for fd in findings_for(compliant_estate(mutate)) if fd.rule_id == "DBX-NET-005"}
    assert set(found) == {"allow-rdp", "allow-web"}
    assert found["allow-rdp"].actual == ["TCP 3389"] and found["allow-rdp"].severity == "critical"
    assert found["allow-web"].actual == ["TCP 80", "TCP 443"]


def test_net005_shadowed_allow_is_low_latent_exposure_unless_switched_off() -> None:
    def mutate(e: dict[str, Any]) -> None:
        _nsg_rules(e).extend([
            f.nsg_rule(_nsg_id(e), "deny-internet", "Inbound", 150, "*", "Internet", "*", "*", access="Deny"),
            f.nsg_rule(_nsg_id(e), "allow-ssh", "Inbound", 300, "Tcp", "Internet", "*", "22")])
    found = [fd for fd in findings_for(compliant_estate(mutate)) if fd.rule_id == "DBX-NET-005"]
    assert [(fd.subject, fd.severity) for fd in found] == [("allow-ssh", "low")]
    assert "deny-internet" in found[0].message
    b = baseline(network={"vnet_injection": True, "min_subnet_prefix": 26, "egress": "nat_gateway_or_route_table",
                          "report_latent_exposure": False})
    assert not [fd for fd in findings_for(compliant_estate(mutate), b) if fd.rule_id == "DBX-NET-005"]


def test_net005_baseline_threshold_changes_what_counts_as_internet() -> None:
    def mutate(e: dict[str, Any]) -> None:
        _nsg_rules(e).append(f.nsg_rule(_nsg_id(e), "allow-partner", "Inbound", 300, "Tcp", "20.0.0.0/12", "*", "22"))
    net = {"vnet_injection": True, "min_subnet_prefix": 26, "egress": "nat_gateway_or_route_table"}
    assert not [fd for fd in findings_for(compliant_estate(mutate)) if fd.rule_id == "DBX-NET-005"]
    wider = baseline(network={**net, "widest_inbound_prefix": 16})
    assert [fd.subject for fd in findings_for(compliant_estate(mutate), wider) if fd.rule_id == "DBX-NET-005"] == \
        ["allow-partner"]


# -- DBX-NET-004: compared with the published rules --------------------------------------------------------

def _managed(name: str, **changes: Any) -> NsgRule:
    spec = DATABRICKS_MANAGED_RULES[name]
    rule = NsgRule(id=None, name=f"Microsoft.Databricks-workspaces_UseOnly_{name}", direction=spec.direction,
                   access=spec.access, protocol=spec.protocol, priority=spec.priority, source_prefixes=(spec.source,),
                   destination_prefixes=(spec.destination,), destination_ports=spec.ports)
    return rule.model_copy(update=changes)


@pytest.mark.parametrize(("name", "changes", "what"), [
    ("databricks-worker-to-storage", {"destination_ports": ("*",)}, "ports"),
    ("databricks-worker-to-storage", {"protocol": "*"}, "protocol"),
    ("databricks-worker-to-storage", {"destination_prefixes": ("*",)}, "destination"),
    ("databricks-worker-to-worker-inbound", {"source_prefixes": ("*",)}, "source"),
    ("databricks-worker-to-worker-inbound", {"access": "Deny"}, "access"),
    ("databricks-worker-to-sql", {"direction": "Inbound"}, "direction"),
    ("databricks-worker-to-databricks-webapp", {"destination_ports": ("443", "3306", "8443-8460")}, "ports"),
])
def test_net004_broader_than_published_is_modified(name: str, changes: dict[str, Any], what: str) -> None:
    spec = DATABRICKS_MANAGED_RULES[name]
    diffs = managed_rule_changes(_managed(name, **changes), spec, SUBNETS)
    assert diffs and all(d.startswith(what) for d in diffs), diffs


@pytest.mark.parametrize(("name", "changes"), [
    ("databricks-worker-to-storage", {}),
    ("databricks-worker-to-databricks-webapp", {"destination_ports": ("443",)}),   # narrower: older workspaces
    ("databricks-worker-to-storage", {"destination_prefixes": ("Storage.WestEurope",)}),   # regional tag
    ("databricks-worker-to-worker-inbound", {"source_prefixes": ("10.1.0.0/24", "10.1.1.0/24"),
                                             "destination_prefixes": ("10.1.0.0/24", "10.1.1.0/24")}),  # hardening
    ("databricks-worker-to-storage", {"protocol": "TCP"}),
])
def test_net004_same_or_narrower_is_not_modified(name: str, changes: dict[str, Any]) -> None:
    assert managed_rule_changes(_managed(name, **changes), DATABRICKS_MANAGED_RULES[name], SUBNETS) == []


def test_net004_widened_port_through_the_rule_keeps_subject() -> None:
    def mutate(e: dict[str, Any]) -> None:
        for rule in _nsg_rules(e):
            if rule["name"].endswith("worker-to-storage"):
                rule["properties"]["destinationPortRange"] = "*"
    found = [fd for fd in findings_for(compliant_estate(mutate)) if fd.rule_id == "DBX-NET-004"]
    assert [fd.subject for fd in found] == ["nsg-a/Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-storage"]
    assert "ports * broader than 443" in found[0].message and found[0].actual["ports"] == ["*"]


# -- the interval engine against a brute-force first-match oracle ----------------------------------------

def _oracle(rules: list[NsgRule], widest: int) -> dict[str, set[tuple[str, int]]]:
    """First match wins, evaluated flow by flow on one representative point of every cell (every cell starts at
    a rule boundary, so probing each interval's start and end+1 visits them all)."""
    import ipaddress

    from core.rules.nsg_flows import _compile, default_inbound_rules

    compiled = sorted((_compile(x, widest) for x in rules), key=lambda c: c.priority)
    compiled += [_compile(x, widest, default=True) for x in default_inbound_rules()]
    ports = {0, 65535} | {p for c in compiled for lo, hi in c.ports for p in (lo, min(hi + 1, 65535))}
    out: dict[str, set[tuple[str, int]]] = {}
    for family, top, probe in (("v4", 2**32 - 1, "1.2.3.4"), ("v6", 2**128 - 1, "2001:db8::1")):
        srcs = {int(ipaddress.ip_address(probe))} | {
            a for c in compiled for lo, hi in getattr(c.sources, family) for a in (lo, min(hi + 1, top))}
        for proto in ("Tcp", "Udp"):
            for port in ports:
                for src in srcs:
                    for c in compiled:
                        if proto in c.protocols and any(lo <= port <= hi for lo, hi in c.ports) and \
                                any(lo <= src <= hi for lo, hi in getattr(c.sources, family)):
                            if c.allow and not c.default and \
                                    any(lo <= src <= hi for lo, hi in getattr(c.internet, family)):
                                out.setdefault(c.name, set()).add((proto, port))
                            break
    return out


_PREFIXES = ["Internet", "*", "0.0.0.0/0", "8.0.0.0/7", "8.8.0.0/16", "10.0.0.0/8", "VirtualNetwork", "0.0.0.0/1",
             "128.0.0.0/1"]
_PORTS = ["*", "22", "80", "443", "20-30", "1000-2000", "0-100"]


@pytest.mark.parametrize("seed", range(40))
def test_engine_agrees_with_first_match_oracle(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    rules = [r(f"r{i}", 100 + i * 10, rnd.choice(["Allow", "Deny"]), src=rnd.choice(_PREFIXES),
               ports=rnd.choice(_PORTS), protocol=rnd.choice(["Tcp", "Udp", "*"]))
             for i in range(rnd.randint(1, 7))]
    got = {e.name: e for e in inbound_exposure(rules, [("10.1.0.0/24",)], 8)}
    want = _oracle(rules, 8)
    for name, e in got.items():
        exposed = {(p, port) for p, ivs in e.admits.items() if p in ("Tcp", "Udp") for lo, hi in ivs
                   for port in (lo, hi)}
        if name in want:
            assert e.exposed, (seed, name)
            assert exposed and all(any(lo <= port <= hi for lo, hi in e.admits[p]) for p, port in want[name]), seed
            # and nothing more: every admitted range starts at a cell the oracle also saw admitted
            assert all((p, lo) in want[name] for p, ivs in e.admits.items() if p in ("Tcp", "Udp")
                       for lo, _ in ivs), (seed, name, e.admits, want[name])
        else:
            assert not {p for p in e.admits if p in ("Tcp", "Udp")}, (seed, name, e.admits)


@pytest.mark.parametrize("bad", [{"widest_inbound_prefix": -1}, {"widest_inbound_prefix": True},
                                 {"report_latent_exposure": "sometimes"}, {"widest_inbound_prefx": 8}])
def test_new_network_keys_are_strict(bad: dict[str, Any]) -> None:
    from core.baseline import BaselineError

    with pytest.raises(BaselineError, match="network"):
        baseline(network={"vnet_injection": True, **bad})


def test_the_same_rules_on_two_nsgs_are_analysed_once_and_the_result_names_each_rule() -> None:
    """Every workspace's NSG carries the same Databricks-managed rules under other ARM ids: the analysis is
    cached on what it reads (not the ids), so the second NSG is a cache hit with the same answer."""
    from core.rules.nsg_flows import _exposure

    def on(nsg: str) -> list[NsgRule]:
        return [r("allow-ssh", 200, ports="22").model_copy(update={"id": f"/nsg/{nsg}/securityRules/allow-ssh"}),
                r("deny-all", 300, "Deny", src="*")]

    _exposure.cache_clear()
    a = inbound_exposure(on("a"), SUBNETS, 8)
    b = inbound_exposure(on("b"), SUBNETS, 8)
    assert a == b and [e.name for e in a] == ["allow-ssh"] and a[0].describe() == ["TCP 22"]
    assert _exposure.cache_info().hits == 1 and _exposure.cache_info().misses == 1

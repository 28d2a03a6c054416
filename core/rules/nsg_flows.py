"""Effective inbound Internet exposure of one NSG, the way Azure evaluates it.

Microsoft Learn, "Azure network security groups overview" (security rules): rules are processed in
priority order, lower numbers first; "once traffic matches a rule, processing stops"; the default rules
(AllowVNetInBound 65000, AllowAzureLoadBalancerInBound 65001, DenyAllInbound 65500) come after every custom
rule; "Any" protocol encompasses TCP, UDP and ICMP (ESP and AH too, through ARM); `*`, `Any` and
`0.0.0.0/0` all mean every address. Both the singular and the plural address/port fields count.

The flow space is protocol x source address x destination port (x destination subnet). It is cut into
cells along every rule's boundaries, so each cell is either wholly inside or wholly outside each rule;
the first rule (by priority) that matches a cell decides it. An Allow "admits Internet traffic" when it
decides a cell whose source lies in its Internet-facing sources: the tags `Internet`, `*`, `Any`, any
`/0` (`0.0.0.0/0`, `0.0.0.0/0.0.0.0`, `::/0`, `0::0/0`, ...) and public prefixes broader than
`network.widest_inbound_prefix`. Pure functions; addresses and ports are integer intervals.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from core.rules.data.nsg_reference import AZURE_DEFAULT_INBOUND_RULES
from core.state.model import NsgRule

Interval = tuple[int, int]
"""Inclusive integer range."""

PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah")
PORTED = frozenset({"Tcp", "Udp"})
ALL_PORTS: Interval = (0, 65535)
V4_ALL: Interval = (0, 2**32 - 1)
V6_ALL: Interval = (0, 2**128 - 1)
ANY_TAGS = frozenset({"*", "any", "internet"})
"""Source tags that mean every (Internet) address. `Internet` is the address space outside the VNet;
for inbound exposure that is the whole public Internet, so it is treated as every address."""
ANY_LITERALS = frozenset({"0.0.0.0", "::", "0.0.0.0/0.0.0.0"})  # noqa: S104  (how clients spell "any")
WIDE_DESTINATIONS = frozenset({"*", "any", "virtualnetwork"})
FIRST_DEFAULT_PRIORITY = 65000
MISSING_PRIORITY = 4097
"""A rule without a readable priority cannot exist in Azure; it is ordered after every valid custom rule
and before the default rules."""


@dataclass(frozen=True)
class Addresses:
    """A set of source addresses as sorted disjoint intervals per IP family."""

    v4: tuple[Interval, ...] = ()
    v6: tuple[Interval, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.v4 and not self.v6


EVERYWHERE = Addresses(v4=(V4_ALL,), v6=(V6_ALL,))


def _merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def looks_like_address(text: str) -> bool:
    """Cheap pre-check before parsing: addresses start with a digit (IPv4) or contain ':' (IPv6); service
    tags (`VirtualNetwork`, `Storage.WestEurope`), `*` and `Any` do not."""
    t = text.strip()
    return t[:1].isdigit() or ":" in t


@lru_cache(maxsize=65536)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not looks_like_address(text):
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _span(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Interval:
    return int(net.network_address), int(net.broadcast_address)


def is_any_source(prefix: str) -> bool:
    """`Internet`, `*`, `Any` and every spelling of a /0, in either family."""
    text = prefix.strip().lower()
    if text in ANY_TAGS or text in ANY_LITERALS:
        return True
    net = _network(text)
    return net is not None and net.prefixlen == 0


def source_addresses(prefixes: Sequence[str], *, internet_only: bool, widest_prefix: int) -> Addresses:
    """The Internet-flow sources a rule matches.

    `internet_only=False`: everything the rule matches (to decide which rule a flow hits first).
    `internet_only=True`: only the sources that count as "the Internet" for exposure: any-address forms
    and public prefixes broader than `/widest_prefix`. Other service tags (VirtualNetwork,
    AzureLoadBalancer, AzureDatabricks, ...) and application security groups match no Internet flow.
    """
    v4: list[Interval] = []
    v6: list[Interval] = []
    for raw in prefixes:
        text = raw.strip().lower()
        if text in ANY_TAGS:
            v4.append(V4_ALL)
            v6.append(V6_ALL)
            continue
        if text in ANY_LITERALS:
            if ":" in text:
                v6.append(V6_ALL)
            else:
                v4.append(V4_ALL)
            continue
        net = _network(text)
        if net is None:
            continue  # a service tag other than Internet, or unreadable: no Internet flow matches it
        if internet_only and net.prefixlen != 0 and (net.is_private or net.prefixlen >= widest_prefix):
            continue  # a private range, or a specific public range: someone's known addresses
        (v4 if net.version == 4 else v6).append(_span(net))
    return Addresses(v4=_merge(v4), v6=_merge(v6))


def rule_protocols(protocol: str) -> frozenset[str]:
    text = (protocol or "*").strip().lower()
    if text in ("*", "any", ""):
        return frozenset(PROTOCOLS)
    for p in PROTOCOLS:
        if p.lower() == text:
            return frozenset({p})
    return frozenset(PROTOCOLS)  # unknown protocol: unknown is not safe, assume it matches everything


def port_ranges(specs: Sequence[str]) -> tuple[tuple[Interval, ...], bool]:
    """(intervals, readable): "*", "22", "1000-2000", "80,443"; empty means any (Azure requires one)."""
    out: list[Interval] = []
    readable = True
    for spec in specs or ("*",):
        for part in spec.split(","):
            text = part.strip()
            if not text:
                continue
            if text in ("*", "any", "Any"):
                out.append(ALL_PORTS)
                continue
            lo_s, _, hi_s = text.partition("-")
            try:
                lo, hi = int(lo_s), int(hi_s or lo_s)
            except ValueError:
                readable = False
                continue
            if not 0 <= lo <= hi <= 65535:
                readable = False
                continue
            out.append((lo, hi))
    if not out and readable:
        out.append(ALL_PORTS)
    return _merge(out), readable


@dataclass(frozen=True)
class _Rule:
    name: str
    allow: bool
    priority: float
    protocols: frozenset[str]
    ports: tuple[Interval, ...]
    all_ports: bool
    sources: Addresses
    internet: Addresses
    destinations: tuple[str, ...]
    default: bool = False


def _compile(r: NsgRule, widest_prefix: int, *, default: bool = False) -> _Rule:
    allow = r.access.strip().lower() == "allow"
    ports, readable = port_ranges(r.destination_ports)
    if not readable:
        # An unreadable port spec: for an Allow assume every port (unknown is not compliant), for a Deny
        # assume it blocks nothing it cannot be shown to block.
        ports = (ALL_PORTS,) if allow else ports
    return _Rule(
        name=r.name, allow=allow,
        priority=float(r.priority) if r.priority is not None else float(MISSING_PRIORITY),
        protocols=rule_protocols(r.protocol), ports=ports, all_ports=ports == (ALL_PORTS,),
        sources=source_addresses(r.source_prefixes, internet_only=False, widest_prefix=widest_prefix),
        internet=source_addresses(r.source_prefixes, internet_only=True, widest_prefix=widest_prefix),
        destinations=tuple(p.strip() for p in r.destination_prefixes), default=default)


def default_inbound_rules() -> tuple[NsgRule, ...]:
    return tuple(NsgRule(id=None, name=name, direction=d.direction, access=d.access, protocol=d.protocol,
                         priority=d.priority, source_prefixes=(d.source,), destination_prefixes=(d.destination,),
                         destination_ports=d.ports)
                 for name, d in AZURE_DEFAULT_INBOUND_RULES.items())


def _subnet_networks(subnet: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [n for n in (_network(p) for p in subnet) if n is not None]


def _dest_matches(rule: _Rule, nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Does the rule apply to flows towards this subnet (its parsed prefixes)?

    An Allow applies unless its destination provably misses the subnet (unknown counts as a match); a
    Deny applies only when its destination provably covers the whole subnet.
    """
    if not rule.destinations:
        return rule.allow  # application security groups: cannot be resolved here
    for dest in rule.destinations:
        text = dest.lower()
        if text in WIDE_DESTINATIONS or text in ANY_LITERALS:
            return True
        dnet = _network(text)
        if dnet is None:
            continue  # another service tag (Storage, Sql, ...) is not the workspace subnet
        if dnet.prefixlen == 0:
            return True
        if not nets:
            if rule.allow:
                return True
            continue
        if rule.allow and any(n.version == dnet.version and n.overlaps(dnet) for n in nets):
            return True
        if not rule.allow and all(n.version == dnet.version and n.subnet_of(dnet) for n in nets):  # type: ignore[arg-type]
            return True
    return False


def _cuts(intervals: Iterable[Interval], within: Interval) -> list[Interval]:
    """Elementary intervals of `within` along every boundary of `intervals`."""
    lo_all, hi_all = within
    points = {lo_all, hi_all + 1}
    for lo, hi in intervals:
        if hi < lo_all or lo > hi_all:
            continue
        points.add(max(lo, lo_all))
        points.add(min(hi, hi_all) + 1)
    edges = sorted(points)
    return [(a, b - 1) for a, b in itertools.pairwise(edges)]


def _contains(intervals: Sequence[Interval], cell: Interval) -> bool:
    return any(lo <= cell[0] and cell[1] <= hi for lo, hi in intervals)


@dataclass
class RuleExposure:
    """What one inbound Allow does with Internet traffic."""

    name: str
    priority: float
    admits: dict[str, list[Interval]] = field(default_factory=dict)
    """protocol -> destination-port intervals it decides for Internet sources (empty for ICMP/ESP/AH: []
    with the protocol present means the protocol itself)."""
    shadowed_by: set[str] = field(default_factory=set)
    reachable: bool = False
    """True when the rule has Internet-facing sources at all (else it is not about the Internet)."""

    @property
    def exposed(self) -> bool:
        return bool(self.admits)

    def describe(self) -> list[str]:
        out = []
        for proto in PROTOCOLS:
            if proto not in self.admits:
                continue
            if proto not in PORTED:
                out.append(proto.upper())
                continue
            for lo, hi in _merge(self.admits[proto]):
                out.append(f"{proto.upper()} " + ("*" if (lo, hi) == ALL_PORTS else
                                                   str(lo) if lo == hi else f"{lo}-{hi}"))
        return out


def inbound_exposure(rules: Sequence[NsgRule], subnets: Sequence[Sequence[str]],
                     widest_prefix: int) -> tuple[RuleExposure, ...]:
    """One RuleExposure per custom inbound Allow with Internet-facing sources, in priority order.

    Cached: NSGs with the same rules (every workspace's Databricks-managed ones, an NSG shared by many
    workspaces) are analysed once per distinct rule set (treat the result as read-only). The key is what the
    analysis reads, so the rules' ARM ids (which differ per NSG) stay out of it."""
    ordered = sorted(rules, key=lambda r: (r.priority if r.priority is not None else MISSING_PRIORITY, r.name))
    key = tuple((r.name, r.direction, r.access, r.protocol, r.priority, r.source_prefixes, r.destination_prefixes,
                 r.destination_ports) for r in ordered)
    cidr_destinations = any(_network(d) is not None and _network(d).prefixlen != 0  # type: ignore[union-attr]
                            for r in ordered for d in r.destination_prefixes if d.strip().lower() not in ANY_LITERALS)
    # Without CIDR destinations every subnet sees the same rules, so the subnets stay out of the cache key.
    nets = tuple(tuple(s) for s in subnets) if cidr_destinations else ()
    return _exposure(key, nets or ((),), widest_prefix)


_RuleKey = tuple[str, str, str, str, int | None, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@lru_cache(maxsize=4096)
def _exposure(rules: tuple[_RuleKey, ...], subnets: tuple[tuple[str, ...], ...],
              widest_prefix: int) -> tuple[RuleExposure, ...]:
    parsed = [NsgRule(id=None, name=name, direction=direction, access=access, protocol=protocol, priority=priority,
                      source_prefixes=sources, destination_prefixes=destinations, destination_ports=ports)
              for name, direction, access, protocol, priority, sources, destinations, ports in rules]
    inbound = [_compile(r, widest_prefix) for r in parsed if r.direction.strip().lower() == "inbound"]
    defaults = [_compile(r, widest_prefix, default=True) for r in default_inbound_rules()]
    ordered = sorted(inbound, key=lambda r: r.priority) + defaults
    # Which rules apply to flows towards each subnet, decided once per rule and subnet.
    applies = [[_dest_matches(r, nets) for r in ordered] for nets in (_subnet_networks(sn) for sn in subnets)]
    out: list[RuleExposure] = []
    for idx, rule in enumerate(ordered):
        if rule.default or not rule.allow or rule.internet.empty:
            continue
        result = RuleExposure(name=rule.name, priority=rule.priority, reachable=True)
        for flags in applies:
            if not flags[idx]:
                continue
            ahead = [r for r, ok in zip(ordered[:idx], flags, strict=False) if ok]
            _decide_cells(rule, ahead, result)
        out.append(result)
    return tuple(out)


def _overlaps(a: Sequence[Interval], b: Sequence[Interval]) -> bool:
    """Whether two sorted, merged interval lists share any point (stops at the first)."""
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i][0] <= b[j][1] and b[j][0] <= a[i][1]:
            return True
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return False


def _subtract(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """`a` minus `b`, both sorted and merged."""
    out: list[Interval] = []
    j = 0
    for lo, hi in a:
        cur = lo
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return out


def _decide_cells(rule: _Rule, ahead: list[_Rule], result: RuleExposure) -> None:
    """Which of `rule`'s Internet flows it decides itself, and which earlier rules take the rest.

    Per protocol and IP family, only the earlier rules that overlap this rule's flows matter; the ports are
    cut along their boundaries, and for each port cell the earlier rules' sources are taken away from this
    rule's Internet sources in priority order (first match wins). What is left, this rule admits.
    """
    for proto in sorted(rule.protocols):
        ported = proto in PORTED
        if not ported and not rule.all_ports:
            continue  # ICMP/ESP/AH have no ports: only a rule for every port matches them
        same_proto = [r for r in ahead if proto in r.protocols
                      and (_overlaps(r.ports, rule.ports) if ported else r.all_ports)]
        for family in ("v4", "v6"):
            internet: list[Interval] = list(getattr(rule.internet, family))
            if not internet:
                continue
            relevant = [r for r in same_proto if _overlaps(getattr(r.sources, family), internet)]
            cells = ([c for c in _cuts([p for r in relevant for p in r.ports] + list(rule.ports), ALL_PORTS)
                      if _contains(rule.ports, c)] if ported else [ALL_PORTS])
            for cell in cells:
                remaining = internet
                for r in relevant:
                    if ported and not _contains(r.ports, cell):
                        continue
                    sources = getattr(r.sources, family)
                    if _overlaps(remaining, sources):
                        result.shadowed_by.add(r.name)
                        remaining = _subtract(remaining, sources)
                        if not remaining:
                            break
                if remaining:
                    result.admits.setdefault(proto, [])
                    if ported:
                        result.admits[proto].append(cell)

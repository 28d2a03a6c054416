"""DBX-NET-*: the VNet the workspace is injected into, its two subnets and their NSGs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from functools import lru_cache

from core.baseline.load import EffectiveBaseline
from core.rules.applicability import classic_compute_only
from core.rules.data.nsg_reference import (
    DATABRICKS_MANAGED_RULES,
    DATABRICKS_MANAGED_RULES_WITHOUT_SCC,
    DATABRICKS_VNET_INJECTION_SOURCE,
    PublishedRule,
)
from core.rules.data.nsg_reference import MANAGED_RULE_PREFIX as PUBLISHED_PREFIX
from core.rules.nsg_flows import inbound_exposure, looks_like_address, port_ranges, rule_protocols
from core.rules.registry import Violation, rule
from core.state.model import NetworkState, NsgRule, NsgState, SubnetState, WorkspaceState
from core.state.parse import DATABRICKS_DELEGATION
from core.state.reads import Read, ReadPlan

MANAGED_RULE_PREFIX = PUBLISHED_PREFIX.lower()

def _net(ws: WorkspaceState) -> NetworkState | None:
    """None when the workspace is not VNet-injected (NET-002..007 do not apply)."""
    return ws.network


def _subnets(net: NetworkState) -> Iterator[SubnetState]:
    yield from net.subnets


def _missing_subnet(sub: SubnetState, net: NetworkState) -> Violation:
    where = "its VNet does not exist" if not net.vnet_found else "it does not exist in the VNet"
    return Violation(f"The {sub.role} subnet {sub.name!r} cannot be checked: {where}.", expected="subnet exists",
                     actual=None, subject=sub.name, related_resource_id=sub.id)


@rule(id="DBX-NET-001", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Deploy the workspace into your own VNet (customVirtualNetworkId, customPublicSubnetName, "
                  "customPrivateSubnetName); VNet injection is fixed at creation.",
      applies=lambda s: s.network is not None and (s.network.vnet_injection is True
                                                   or bool(s.network.allowed_vnets)),
      inapplicable=classic_compute_only)
def vnet_injection(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.parameters.customVirtualNetworkId`, `customPublicSubnetName` and
    `customPrivateSubnetName`; with `network.allowed_vnets`, the VNet must be one of them."""
    arm = ws.arm
    assert arm is not None
    missing = [n for n, v in (("customVirtualNetworkId", arm.vnet_id), ("customPublicSubnetName",
               arm.public_subnet_name), ("customPrivateSubnetName", arm.private_subnet_name)) if not v]
    net = b.settings.network
    assert net is not None
    if net.vnet_injection and missing:
        yield Violation(f"Workspace is not VNet-injected: {', '.join(missing)} not set.",
                        expected="customer VNet with public and private subnets", actual=arm.vnet_id)
        return
    if arm.vnet_id and b.allowed_vnets and arm.vnet_id.lower() not in b.allowed_vnets:
        yield Violation(f"Workspace VNet {arm.vnet_id} is not in the allowed VNets.",
                        expected=sorted(net.allowed_vnets), actual=arm.vnet_id, related_resource_id=arm.vnet_id)


@rule(id="DBX-NET-002", inputs=ReadPlan.of(Read.NETWORK),
      remediation="Add the delegation `Microsoft.Databricks/workspaces` to both the public (host) and "
                  "private (container) subnet.",
      applies=lambda s: s.network is not None,
      inapplicable=classic_compute_only)
def subnet_delegation(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads each subnet's `properties.delegations[].properties.serviceName`."""
    net = _net(ws)
    if net is None:
        return
    for sub in _subnets(net):
        if not sub.found:
            yield _missing_subnet(sub, net)
            continue
        if not any(d.lower() == DATABRICKS_DELEGATION for d in sub.delegations):
            yield Violation(f"The {sub.role} subnet {sub.name!r} is not delegated to Microsoft.Databricks/workspaces.",
                            expected="Microsoft.Databricks/workspaces", actual=list(sub.delegations),
                            subject=sub.name, related_resource_id=sub.id)


@rule(id="DBX-NET-003", inputs=ReadPlan.of(Read.NETWORK),
      remediation="Associate the network security group with both workspace subnets (the baseline's NSG "
                  "when one is named).",
      applies=lambda s: s.network is not None,
      inapplicable=classic_compute_only)
def nsg_association(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads each subnet's `properties.networkSecurityGroup.id` (and compares with `network.nsg`)."""
    net = _net(ws)
    if net is None:
        return
    required = b.settings.network.nsg if b.settings.network else None
    for sub in _subnets(net):
        if not sub.found:
            continue  # reported once by DBX-NET-002
        if not sub.nsg_id:
            yield Violation(f"The {sub.role} subnet {sub.name!r} has no network security group.",
                            expected=required or "an NSG", actual=None, subject=sub.name, related_resource_id=sub.id)
        elif required and sub.nsg_id.lower() != required.lower():
            yield Violation(f"The {sub.role} subnet {sub.name!r} uses NSG {sub.nsg_id}, baseline requires {required}.",
                            expected=required, actual=sub.nsg_id, subject=sub.name, related_resource_id=sub.id)


def _found_nsgs(net: NetworkState) -> Iterator[NsgState]:
    yield from (n for n in net.nsgs if n.found)


def _subnet_prefixes(net: NetworkState, nsg: NsgState) -> list[tuple[str, ...]]:
    """Address prefixes of the workspace subnets this NSG is associated with."""
    return [s.address_prefixes for s in net.subnets if s.found and (s.nsg_id or "").lower() == nsg.id.lower()]


def _within(actual: tuple[str, ...], published: str, subnets: tuple[tuple[str, ...], ...]) -> bool:
    """Every actual source/destination is the published service tag, a regional form of it
    (`Storage.WestEurope`), or, for `VirtualNetwork`, a CIDR inside the workspace subnets (Microsoft Learn
    "Intra-VNet NSG rule hardening" replaces VirtualNetwork with the host and container subnet CIDRs)."""
    if not actual:
        return False
    tag = published.lower()
    for value in actual:
        v = value.strip().lower()
        if v == tag or v.startswith(tag + "."):
            continue
        if tag == "virtualnetwork" and _is_cidr(v):
            net = ipaddress.ip_network(v, strict=False)
            inside = [ipaddress.ip_network(p, strict=False) for s in subnets for p in s if _is_cidr(p)]
            if any(net.version == n.version and net.subnet_of(n) for n in inside):  # type: ignore[arg-type]
                continue
        return False
    return True


def _is_cidr(text: str) -> bool:
    if not looks_like_address(text):
        return False
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return False
    return True


def _ports_within(actual: tuple[str, ...], published: tuple[str, ...]) -> bool:
    have, readable = port_ranges(actual)
    allowed, _ = port_ranges(published)
    return readable and all(any(lo <= a and b <= hi for lo, hi in allowed) for a, b in have)


def managed_rule_changes(r: NsgRule, spec: PublishedRule, subnets: list[tuple[str, ...]]) -> list[str]:
    """How a Databricks-managed rule departs from the published one; [] when it is the same or narrower."""
    # Cached on what is compared (not ids or names): the same managed rules recur on every workspace's NSG.
    # The subnets matter only when the rule names CIDRs (intra-VNet hardening), so they stay out of the key
    # otherwise.
    cidrs = any(_is_cidr(v) for v in (*r.source_prefixes, *r.destination_prefixes))
    return list(_managed_rule_changes(r.direction, r.access, r.protocol, r.source_prefixes, r.destination_prefixes,
                                      r.destination_ports, spec, tuple(subnets) if cidrs else ()))


@lru_cache(maxsize=8192)
def _managed_rule_changes(direction: str, access: str, protocol: str, sources: tuple[str, ...],
                          destinations: tuple[str, ...], ports: tuple[str, ...], spec: PublishedRule,
                          subnets: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    changes = []
    if direction.strip().lower() != spec.direction.lower():
        changes.append(f"direction {direction or 'unset'} (published {spec.direction})")
    if access.strip().lower() != spec.access.lower():
        changes.append(f"access {access or 'unset'} (published {spec.access})")
    if not rule_protocols(protocol) <= rule_protocols(spec.protocol):
        changes.append(f"protocol {protocol} broader than {spec.protocol}")
    if not _within(sources, spec.source, subnets):
        changes.append(f"source {', '.join(sources) or 'unset'} broader than {spec.source}")
    if not _within(destinations, spec.destination, subnets):
        changes.append(f"destination {', '.join(destinations) or 'unset'} broader than {spec.destination}")
    if not _ports_within(ports, spec.ports):
        changes.append(f"ports {', '.join(ports) or 'unset'} broader than {', '.join(spec.ports)}")
    return tuple(changes)


@rule(id="DBX-NET-004", inputs=ReadPlan.of(Read.NETWORK),
      remediation="Restore the `Microsoft.Databricks-workspaces_UseOnly_*` rules (re-applying the workspace "
                  "deployment recreates them); do not edit them by hand.",
      applies=lambda s: (s.required_nsg_rules or "").lower() == "allrules",
      inapplicable=classic_compute_only)
def managed_nsg_rules(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.securityRules` of each NSG on the workspace subnets: the rules named
    `Microsoft.Databricks-workspaces_UseOnly_*`, compared in direction, access, protocol, source,
    destination and destination ports with the rules Databricks publishes for VNet injection
    (core/rules/data/nsg_reference.py); broader than published in any of them is "modified"."""
    net = _net(ws)
    if net is None or (ws.arm and (ws.arm.required_nsg_rules or "").lower() not in ("allrules", "")):
        return  # DBX-WS-004 reports a different requiredNsgRules setting
    expected = dict(DATABRICKS_MANAGED_RULES)
    if ws.arm is not None and not ws.arm.no_public_ip:
        expected.update(DATABRICKS_MANAGED_RULES_WITHOUT_SCC)
    for nsg in _found_nsgs(net):
        subnets = _subnet_prefixes(net, nsg)
        by_suffix = {r.name.lower()[len(MANAGED_RULE_PREFIX):]: r for r in nsg.rules
                     if r.name.lower().startswith(MANAGED_RULE_PREFIX)}
        for suffix, spec in expected.items():
            name = f"{PUBLISHED_PREFIX}{suffix}"
            found = by_suffix.get(suffix)
            if found is None:
                yield Violation(f"NSG {nsg.name!r} lacks the Databricks-managed rule {name}.",
                                expected=_spec_dict(spec), actual=None, subject=f"{nsg.name}/{name}",
                                related_resource_id=nsg.id)
                continue
            changes = managed_rule_changes(found, spec, subnets)
            if changes:
                yield Violation(f"Databricks-managed rule {name} in NSG {nsg.name!r} was modified: "
                                f"{'; '.join(changes)}.", expected=_spec_dict(spec), actual=_rule_dict(found),
                                subject=f"{nsg.name}/{name}", related_resource_id=found.id or nsg.id)


def _spec_dict(spec: PublishedRule) -> dict[str, object]:
    return {"direction": spec.direction, "access": spec.access, "protocol": spec.protocol, "source": spec.source,
            "destination": spec.destination, "ports": list(spec.ports), "source_url": DATABRICKS_VNET_INJECTION_SOURCE}


def _rule_dict(r: NsgRule) -> dict[str, object]:
    return {"direction": r.direction, "access": r.access, "protocol": r.protocol, "source": list(r.source_prefixes),
            "destination": list(r.destination_prefixes), "ports": list(r.destination_ports),
            "priority": r.priority}


@rule(id="DBX-NET-005", inputs=ReadPlan.of(Read.NETWORK),
      remediation="Delete the rule or restrict its source to specific address ranges or service tags; reach "
                  "clusters through the control plane, not open inbound ports.",
      applies=lambda s: s.network is not None,
      inapplicable=classic_compute_only)
def internet_inbound(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.securityRules[]` of the NSGs on the workspace subnets, Databricks-managed rules
    included, and evaluates inbound rules as Azure does (priority order, first match wins, default rules
    last) over protocol x source x destination port, singular and plural fields. One finding per Allow
    that admits Internet traffic (`Internet`, `*`, `Any`, any /0, or a public prefix broader than
    `network.widest_inbound_prefix`); an Allow shadowed by higher-priority rules is latent exposure, reported
    at low unless `network.report_latent_exposure` is false."""
    net = _net(ws)
    if net is None:
        return
    settings = b.settings.network
    widest = settings.widest_inbound_prefix if settings else 8
    latent = settings.report_latent_exposure if settings else True
    subjects: set[str] = set()
    for nsg in _found_nsgs(net):
        rules_by_name = {r.name: r for r in nsg.rules}
        for exp in inbound_exposure(nsg.rules, _subnet_prefixes(net, nsg), widest):
            r = rules_by_name.get(exp.name)
            subject = exp.name if exp.name.casefold() not in subjects else f"{nsg.name}/{exp.name}"
            related = (r.id if r is not None else None) or nsg.id
            prio = f"priority {r.priority}" if r is not None and r.priority is not None else "no priority"
            if exp.exposed:
                subjects.add(subject.casefold())
                ports = exp.describe()
                yield Violation(f"NSG {nsg.name!r} rule {exp.name!r} ({prio}) admits inbound "
                                f"Internet traffic on {', '.join(ports)}.",
                                expected="no inbound Allow from the Internet", actual=ports, subject=subject,
                                related_resource_id=related)
            elif latent and exp.shadowed_by:
                subjects.add(subject.casefold())
                by = ", ".join(sorted(exp.shadowed_by))
                yield Violation(f"NSG {nsg.name!r} rule {exp.name!r} ({prio}) allows inbound "
                                f"from the Internet but is shadowed today by higher-priority rules ({by}): latent "
                                f"exposure if those change.", expected="no inbound Allow from the Internet",
                                actual=f"latent: shadowed by {by}", subject=subject, related_resource_id=related,
                                severity="low")


@rule(id="DBX-NET-006", inputs=ReadPlan.of(Read.NETWORK),
      remediation="Use subnets of at least the baseline size (default /26) and give each workspace its own "
                  "pair; subnet size cannot change while the workspace uses it.",
      applies=lambda s: s.network is not None and s.network.min_subnet_prefix is not None,
      inapplicable=classic_compute_only)
def subnet_size_and_sharing(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads each subnet's `properties.addressPrefix(es)` and which other workspaces use the subnet."""
    net = _net(ws)
    if net is None:
        return
    min_prefix = b.settings.network.min_subnet_prefix if b.settings.network else None
    for sub in _subnets(net):
        if not sub.found:
            continue
        for prefix in sub.address_prefixes:
            try:
                network = ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                yield Violation(f"Subnet {sub.name!r} has an unreadable prefix {prefix!r}.",
                                expected=f"/{min_prefix} or larger", actual=prefix, subject=sub.name,
                                related_resource_id=sub.id)
                continue
            if network.version == 4 and min_prefix is not None and network.prefixlen > min_prefix:
                yield Violation(f"The {sub.role} subnet {sub.name!r} is {prefix}, smaller than /{min_prefix}.",
                                expected=f"/{min_prefix} or larger", actual=prefix, subject=sub.name,
                                related_resource_id=sub.id)
        if sub.shared_with:
            yield Violation(f"The {sub.role} subnet {sub.name!r} is also used by: {', '.join(sub.shared_with)}.",
                            expected="not shared", actual=list(sub.shared_with), subject=f"{sub.name}/shared",
                            related_resource_id=sub.id)


@rule(id="DBX-NET-007", inputs=ReadPlan.of(Read.NETWORK),
      remediation="Attach a NAT gateway (or a route table to your firewall) to both subnets; default outbound "
                  "access is being retired.",
      applies=lambda s: s.network is not None and s.network.egress is not None,
      inapplicable=classic_compute_only)
def explicit_egress(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads each subnet's `properties.natGateway.id` and `properties.routeTable.id`; only for workspaces
    with secure cluster connectivity (`enableNoPublicIp` true)."""
    net = _net(ws)
    if net is None or ws.arm is None or not ws.arm.no_public_ip:
        return
    mode = b.settings.network.egress if b.settings.network else None
    for sub in _subnets(net):
        if not sub.found:
            continue
        ok = {
            "nat_gateway": bool(sub.nat_gateway_id),
            "route_table": bool(sub.route_table_id),
            "nat_gateway_or_route_table": bool(sub.nat_gateway_id or sub.route_table_id),
        }[mode or "nat_gateway_or_route_table"]
        if not ok:
            yield Violation(f"The {sub.role} subnet {sub.name!r} has no explicit egress ({mode}).",
                            expected=mode, actual={"natGateway": sub.nat_gateway_id, "routeTable": sub.route_table_id},
                            subject=sub.name, related_resource_id=sub.id)


@rule(id="DBX-NET-008", inputs=ReadPlan.of(Read.PRIVATE_DNS),
      remediation="Add a private DNS zone group to the private endpoint that links the baseline zone "
                  "(privatelink.azuredatabricks.net), so the workspace URL resolves to the private address.",
      applies=lambda s: s.network is not None and s.network.private_dns_zone is not None)
def private_dns_zone_groups(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads each `properties.privateEndpointConnections[].properties.privateEndpoint.id` of the workspace,
    then `{privateEndpointId}/privateDnsZoneGroups` (Network 2025-07-01): some zone group's
    `privateDnsZoneConfigs[].properties.privateDnsZoneId` must be the baseline zone (by zone name). One
    finding per private endpoint."""
    assert ws.arm is not None and ws.arm_extras is not None and ws.arm_extras.private_dns is not None
    zone = (b.settings.network.private_dns_zone if b.settings.network else None) or ""
    found = ws.arm_extras.private_dns
    for pe_id in dict.fromkeys(p.private_endpoint_id for p in ws.arm.private_endpoint_connections
                               if p.private_endpoint_id):
        zones = found.get(pe_id.casefold(), ())
        if not any(z.rstrip("/").rsplit("/", 1)[-1].casefold() == zone.casefold() for z in zones):
            name = pe_id.rsplit("/", 1)[-1]
            yield Violation(f"Private endpoint {name!r} has no DNS zone group on {zone}" +
                            (f" (zones: {', '.join(z.rsplit('/', 1)[-1] for z in zones)})." if zones else "."),
                            expected=zone, actual=[z.rsplit("/", 1)[-1] for z in zones], subject=name,
                            related_resource_id=pe_id)

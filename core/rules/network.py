"""DBX-NET-*: the VNet the workspace is injected into, its two subnets and their NSGs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.rules.registry import Violation, rule
from core.state.model import NetworkState, NsgRule, NsgState, SubnetState, WorkspaceState
from core.state.parse import DATABRICKS_DELEGATION

MANAGED_RULE_PREFIX = "microsoft.databricks-workspaces_useonly_"

# The rules Azure Databricks adds to a VNet-injected workspace's NSG (requiredNsgRules AllRules):
# name suffix -> (direction, access, source prefix, destination prefix). Ports are not compared:
# Databricks updates them over time, and a changed port list is not an exposure.
MANAGED_RULES: dict[str, tuple[str, str, str, str]] = {
    "databricks-worker-to-worker-inbound": ("inbound", "allow", "virtualnetwork", "virtualnetwork"),
    "databricks-worker-to-databricks-webapp": ("outbound", "allow", "virtualnetwork", "azuredatabricks"),
    "databricks-worker-to-sql": ("outbound", "allow", "virtualnetwork", "sql"),
    "databricks-worker-to-storage": ("outbound", "allow", "virtualnetwork", "storage"),
    "databricks-worker-to-worker-outbound": ("outbound", "allow", "virtualnetwork", "virtualnetwork"),
    "databricks-worker-to-eventhub": ("outbound", "allow", "virtualnetwork", "eventhub"),
}
# Without secure cluster connectivity the control plane reaches the workers over these two as well.
MANAGED_RULES_WITHOUT_SCC: dict[str, tuple[str, str, str, str]] = {
    "databricks-control-plane-to-worker-ssh": ("inbound", "allow", "azuredatabricks", "virtualnetwork"),
    "databricks-control-plane-to-worker-proxy": ("inbound", "allow", "azuredatabricks", "virtualnetwork"),
}

OPEN_SOURCES = frozenset({"*", "internet", "any", "0.0.0.0/0", "0.0.0.0", "::/0", "0.0.0.0/0.0.0.0"})  # noqa: S104


def _net(ws: WorkspaceState) -> NetworkState | None:
    """None when the workspace is not VNet-injected (NET-002..007 do not apply)."""
    return ws.network


def _subnets(net: NetworkState) -> Iterator[SubnetState]:
    yield from net.subnets


def _missing_subnet(sub: SubnetState, net: NetworkState) -> Violation:
    where = "its VNet does not exist" if not net.vnet_found else "it does not exist in the VNet"
    return Violation(f"The {sub.role} subnet {sub.name!r} cannot be checked: {where}.", expected="subnet exists",
                     actual=None, subject=sub.name, related_resource_id=sub.id)


@rule(id="DBX-NET-001", title="Workspace is injected into a customer VNet", severity="high", needs="arm",
      remediation="Deploy the workspace into your own VNet (customVirtualNetworkId, customPublicSubnetName, "
                  "customPrivateSubnetName); VNet injection is fixed at creation.",
      applies=lambda s: s.network is not None and (s.network.vnet_injection is True
                                                   or bool(s.network.allowed_vnets)))
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


@rule(id="DBX-NET-002", title="Both subnets are delegated to Microsoft.Databricks/workspaces", severity="high",
      needs="network",
      remediation="Add the delegation `Microsoft.Databricks/workspaces` to both the public (host) and "
                  "private (container) subnet.",
      applies=lambda s: s.network is not None)
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


@rule(id="DBX-NET-003", title="An NSG is associated with both subnets", severity="high", needs="network",
      remediation="Associate the network security group with both workspace subnets (the baseline's NSG "
                  "when one is named).",
      applies=lambda s: s.network is not None)
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


def _rule_matches(r: NsgRule, spec: tuple[str, str, str, str]) -> bool:
    direction, access, src, dst = spec
    return (r.direction.lower() == direction and r.access.lower() == access
            and [p.lower() for p in r.source_prefixes] == [src]
            and [p.lower() for p in r.destination_prefixes] == [dst])


def _found_nsgs(net: NetworkState) -> Iterator[NsgState]:
    yield from (n for n in net.nsgs if n.found)


@rule(id="DBX-NET-004", title="Databricks-managed NSG rules are present and unmodified", severity="medium",
      needs="network",
      remediation="Restore the `Microsoft.Databricks-workspaces_UseOnly_*` rules (re-applying the workspace "
                  "deployment recreates them); do not edit them by hand.",
      applies=lambda s: (s.required_nsg_rules or "").lower() == "allrules")
def managed_nsg_rules(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.securityRules` of each NSG on the workspace subnets: the rules named
    `Microsoft.Databricks-workspaces_UseOnly_*` (direction, access, source and destination)."""
    net = _net(ws)
    if net is None or (ws.arm and (ws.arm.required_nsg_rules or "").lower() not in ("allrules", "")):
        return  # DBX-WS-004 reports a different requiredNsgRules setting
    expected = dict(MANAGED_RULES)
    if ws.arm is not None and not ws.arm.no_public_ip:
        expected.update(MANAGED_RULES_WITHOUT_SCC)
    for nsg in _found_nsgs(net):
        by_suffix = {r.name.lower()[len(MANAGED_RULE_PREFIX):]: r for r in nsg.rules
                     if r.name.lower().startswith(MANAGED_RULE_PREFIX)}
        for suffix, spec in expected.items():
            name = f"Microsoft.Databricks-workspaces_UseOnly_{suffix}"
            found = by_suffix.get(suffix)
            if found is None:
                yield Violation(f"NSG {nsg.name!r} lacks the Databricks-managed rule {name}.",
                                expected=_spec_dict(spec), actual=None, subject=f"{nsg.name}/{name}",
                                related_resource_id=nsg.id)
            elif not _rule_matches(found, spec):
                yield Violation(f"Databricks-managed rule {name} in NSG {nsg.name!r} was modified.",
                                expected=_spec_dict(spec), actual=_rule_dict(found),
                                subject=f"{nsg.name}/{name}", related_resource_id=found.id or nsg.id)


def _spec_dict(spec: tuple[str, str, str, str]) -> dict[str, str]:
    return dict(zip(("direction", "access", "source", "destination"), spec, strict=True))


def _rule_dict(r: NsgRule) -> dict[str, object]:
    return {"direction": r.direction, "access": r.access, "source": list(r.source_prefixes),
            "destination": list(r.destination_prefixes), "ports": list(r.destination_ports),
            "priority": r.priority}


@rule(id="DBX-NET-005", title="No custom NSG rule allows inbound traffic from the Internet", severity="critical",
      needs="network",
      remediation="Delete the rule or restrict its source to specific address ranges or service tags; reach "
                  "clusters through the control plane, not open inbound ports.",
      applies=lambda s: s.network is not None)
def internet_inbound(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.securityRules[]` (direction Inbound, access Allow, sourceAddressPrefix(es) of
    Internet, Any, `*`, 0.0.0.0/0 or ::/0) of the NSGs on the workspace subnets; one finding per rule."""
    net = _net(ws)
    if net is None:
        return
    for nsg in _found_nsgs(net):
        for r in nsg.rules:
            if r.name.lower().startswith(MANAGED_RULE_PREFIX):
                continue
            if r.direction.lower() != "inbound" or r.access.lower() != "allow":
                continue
            open_src = [p for p in r.source_prefixes if p.lower() in OPEN_SOURCES]
            if open_src:
                yield Violation(
                    f"NSG {nsg.name!r} rule {r.name!r} allows inbound from {', '.join(open_src)} "
                    f"to ports {', '.join(r.destination_ports) or '*'}.",
                    expected="no inbound Allow from Internet", actual=_rule_dict(r), subject=r.name,
                    related_resource_id=r.id or nsg.id)


@rule(id="DBX-NET-006", title="Subnets are large enough and not shared", severity="medium", needs="network",
      remediation="Use subnets of at least the baseline size (default /26) and give each workspace its own "
                  "pair; subnet size cannot change while the workspace uses it.",
      applies=lambda s: s.network is not None and s.network.min_subnet_prefix is not None)
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


@rule(id="DBX-NET-007", title="Explicit egress on both subnets (secure cluster connectivity)", severity="medium",
      needs="network",
      remediation="Attach a NAT gateway (or a route table to your firewall) to both subnets; default outbound "
                  "access is being retired.",
      applies=lambda s: s.network is not None and s.network.egress is not None)
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

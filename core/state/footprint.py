"""A workspace's network footprint: the VNet, subnets and NSGs event routing must map back to it.

One pure function used by the sweep, the scan worker, the offline snapshot and routing alike, so the
`topology` table never disagrees with itself. The footprint also says how much of it was *observed*:
the VNet and subnets come from the workspace's own ARM document, but which NSG sits on a subnet is
known only when the subnet (inside its VNet) was read. A footprint built without that read says
`nsgs_observed=False`, and saving it must keep the NSG edges already known: missing data never
removes a routing edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.arm_ids import arm_fold
from core.state.model import NetworkState, WorkspaceArm


@dataclass(frozen=True)
class NetworkFootprint:
    vnet_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    nsg_ids: tuple[str, ...] = ()
    """NSGs named by the subnets' `networkSecurityGroup.id` (known even when the NSG itself could not be read)."""
    nsgs_observed: bool = False
    """True when the subnets' NSG associations were read, so `nsg_ids` is the whole truth about NSGs."""

    def resource_ids(self) -> list[str]:
        """Every network resource id of the footprint, VNet first, without duplicates (any casing)."""
        out: dict[str, str] = {}
        for rid in (self.vnet_id, *self.subnet_ids, *self.nsg_ids):
            if rid:
                out.setdefault(arm_fold(rid), rid)
        return list(out.values())


def subnet_ids(arm: WorkspaceArm) -> list[tuple[str, str, str]]:
    """(subnet id, name, role) for a VNet-injected workspace, from its own ARM document."""
    if not arm.vnet_id:
        return []
    out = []
    for role, name in (("public", arm.public_subnet_name), ("private", arm.private_subnet_name)):
        if name:
            out.append((f"{arm.vnet_id}/subnets/{name}", name, role))
    return out


def footprint(arm: WorkspaceArm | None, network: NetworkState | None) -> NetworkFootprint:
    """The footprint from the workspace document and, when it was read, its network.

    `network` is what the collector observed (None when the VNet was not read at all). The NSG
    associations count as observed only when the VNet document was read: then a subnet without an
    NSG really has none, and an NSG that moved off a subnet really left it.
    """
    if arm is None or not arm.vnet_id:
        # Not VNet-injected (or not readable): nothing to route by. An unreadable document is not
        # saved at all by the callers, so this never removes edges on missing data.
        return NetworkFootprint(nsgs_observed=arm is not None)
    subnets = tuple(sid for sid, _, _ in subnet_ids(arm))
    if network is None or not network.vnet_found:
        return NetworkFootprint(vnet_id=arm.vnet_id, subnet_ids=subnets)
    nsgs = tuple(dict.fromkeys(s.nsg_id for s in network.subnets if s.found and s.nsg_id))
    return NetworkFootprint(vnet_id=arm.vnet_id, subnet_ids=subnets, nsg_ids=nsgs, nsgs_observed=True)


def subnet_users(pairs: Iterable[tuple[str, WorkspaceArm | None]]) -> dict[str, list[str]]:
    """`arm_fold`ed subnet id -> the workspaces (ARM ids) injected into it, for DBX-NET-006 sharing."""
    users: dict[str, list[str]] = {}
    for workspace_id, arm in pairs:
        if arm is None:
            continue
        for sid, _, _ in subnet_ids(arm):
            mine = users.setdefault(arm_fold(sid), [])
            if arm_fold(workspace_id) not in (arm_fold(u) for u in mine):
                mine.append(workspace_id)
    return users

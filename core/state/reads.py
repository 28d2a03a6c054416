"""The parts of a workspace's state a rule can read, as names: rules declare them, the collector fetches them.

Pure: no SDK, no I/O. A rule says *what* it reads (`Read` members plus, for workspace-conf and settings-v2,
which keys); `core/rules/plan.py` unions the declarations of the rules that are on into a `ReadPlan`, and
`core/collect` maps each name to its ARM or workspace-API calls. Nothing else decides what is fetched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Stage = Literal["arm", "network", "diagnostics", "workspace_api", "rbac", "access_connector", "locks",
                "private_dns", "none"]
"""Where a read happens and fails as a whole (`CollectionError.stage`, the rule's `needs`); `none` = reads
nothing (the DBX-EVAL rules read the collection errors)."""


class Read(StrEnum):
    """One part of `WorkspaceState`. Workspace-API family names equal their `WorkspaceApiState` fields."""

    WORKSPACE = "workspace"
    """The ARM workspace document (always read: discovery lists it)."""
    NETWORK = "network"
    """The injected VNet, its two subnets and their NSGs."""
    DIAGNOSTICS = "diagnostics"
    RBAC = "rbac"
    """Azure role assignments at or above the workspace, and their role definitions."""
    ACCESS_CONNECTOR = "access_connector"
    LOCKS = "locks"
    PRIVATE_DNS = "private_dns"
    """The private DNS zone groups of the workspace's private endpoints."""
    WORKSPACE_CONF = "workspace_conf"
    """`GET /api/2.0/workspace-conf` for the keys the rules name (`ReadPlan.conf_keys`)."""
    IP_ACCESS_LISTS = "ip_access_lists"
    TOKENS = "tokens"
    TOKEN_PERMISSIONS = "token_permissions"  # noqa: S105 (a state part's name, not a secret)
    WORKSPACE_SETTINGS = "workspace_settings"
    """Settings-v2 types the rules name (`ReadPlan.settings_types`)."""
    SECRET_SCOPES = "secret_scopes"  # noqa: S105 (a state part's name, not a secret)
    SECRET_ACLS = "secret_acls"  # noqa: S105 (a state part's name, not a secret)
    SCIM = "scim"
    GLOBAL_INIT_SCRIPTS = "global_init_scripts"
    CLUSTERS = "clusters"
    SPARK_VERSIONS = "spark_versions"
    POLICY_COMPLIANCE = "policy_compliance"
    CLUSTER_POLICIES = "cluster_policies"
    POLICY_PERMISSIONS = "policy_permissions"
    METASTORE = "metastore"
    DEFAULT_NAMESPACE = "default_namespace"
    STORAGE_CREDENTIALS = "storage_credentials"
    SYSTEM_SCHEMAS = "system_schemas"


_ARM_STAGES: dict[Read, Stage] = {
    Read.WORKSPACE: "arm", Read.NETWORK: "network", Read.DIAGNOSTICS: "diagnostics", Read.RBAC: "rbac",
    Read.ACCESS_CONNECTOR: "access_connector", Read.LOCKS: "locks", Read.PRIVATE_DNS: "private_dns",
}
ARM_EXTRAS = frozenset({Read.ACCESS_CONNECTOR, Read.LOCKS, Read.PRIVATE_DNS})
"""Reads served by `WorkspaceState.arm_extras` (each fails on its own)."""


def stage_of(read: Read) -> Stage:
    """The collection stage a read belongs to (every read not on ARM is a workspace-API one)."""
    return _ARM_STAGES.get(read, "workspace_api")


@dataclass(frozen=True)
class ReadPlan:
    """What to fetch for one workspace: a union of rules' declarations (empty = read nothing beyond ARM)."""

    parts: frozenset[Read] = frozenset()
    conf_keys: tuple[str, ...] = ()
    """Workspace-conf keys, in the order the rules declared them (first declaration wins)."""
    settings_types: tuple[str, ...] = ()
    """Settings-v2 types, in declaration order."""

    @staticmethod
    def of(*parts: Read, conf_keys: Iterable[str] = (), settings_types: Iterable[str] = ()) -> ReadPlan:
        conf_keys, settings_types = tuple(conf_keys), tuple(settings_types)
        extra = ({Read.WORKSPACE_CONF} if conf_keys else set()) | ({Read.WORKSPACE_SETTINGS} if settings_types
                                                                   else set())
        return ReadPlan(frozenset(parts) | extra, conf_keys, settings_types)

    def __or__(self, other: ReadPlan) -> ReadPlan:
        return ReadPlan(self.parts | other.parts, tuple(dict.fromkeys(self.conf_keys + other.conf_keys)),
                        tuple(dict.fromkeys(self.settings_types + other.settings_types)))

    @property
    def stages(self) -> frozenset[Stage]:
        return frozenset(stage_of(r) for r in self.parts)

    def stage(self) -> Stage:
        """The one stage beyond the ARM document these reads need (`arm` for it alone, `none` for nothing)."""
        beyond = self.stages - {"arm"}
        if len(beyond) > 1:
            raise ValueError(f"reads span several stages: {sorted(beyond)}")
        if beyond:
            return next(iter(beyond))
        return "arm" if self.parts else "none"

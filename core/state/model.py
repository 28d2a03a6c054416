"""Observed state of one workspace, normalised from ARM and workspace-API payloads.

`None` for a whole part (network, diagnostics, workspace_api) means "not observed": the rules
that need it are not evaluated, so nothing is passed or resolved on missing data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.baseline.model import IPNetwork
from core.state.compute_uc import (
    ClusterState,
    DefaultNamespace,
    GlobalInitScript,
    MetastoreState,
    PermissionEntry,
    PolicyCompliance,
    PolicyState,
    StorageCredentialsState,
    SystemSchema,
)

Stage = Literal["arm", "network", "diagnostics", "workspace_api", "rbac"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class CollectionError(_Frozen):
    """A part of the state that could not be read; becomes DBX-EVAL-001/002. No secrets."""

    stage: Stage
    message: str
    related_resource_id: str | None = None


class PrivateEndpointConnection(_Frozen):
    id: str | None
    status: str | None
    private_endpoint_id: str | None = None
    """`properties.privateEndpoint.id`: the Microsoft.Network/privateEndpoints resource (DBX-NET-008)."""


class CmkKeyState(_Frozen):
    """Key Vault key of one encryption entity, as the workspace document names it (no key material)."""

    key_vault_uri: str | None = None
    key_name: str | None = None


class EnhancedSecurityState(_Frozen):
    compliance_security_profile: bool | None = None
    enhanced_security_monitoring: bool | None = None
    automatic_cluster_update: bool | None = None


class WorkspaceArm(_Frozen):
    """The workspace's own ARM document, with `parameters` unwrapped and locations canonical."""

    sku: str | None
    location: str
    location_display: str
    no_public_ip: bool | None
    public_network_access: str | None
    required_nsg_rules: str | None
    private_endpoint_connections: tuple[PrivateEndpointConnection, ...] = ()
    vnet_id: str | None = None
    public_subnet_name: str | None = None
    private_subnet_name: str | None = None
    cmk_managed_services: bool = False
    cmk_managed_disk: bool = False
    cmk_dbfs_root: bool = False
    infrastructure_encryption: bool | None = None
    enhanced_security: EnhancedSecurityState = Field(default_factory=EnhancedSecurityState)
    workspace_url: str | None = None
    provisioning_state: str | None = None
    access_connector_id: str | None = None
    """`properties.accessConnector.id` (Databricks 2026-01-01; not allowed on Serverless)."""
    access_connector_identity_type: str | None = None
    default_storage_firewall: str | None = None
    """`properties.defaultStorageFirewall`: Enabled | Disabled; absent = not configured."""
    cmk_keys: dict[str, CmkKeyState] = Field(default_factory=dict)
    """Entity (managed_services, managed_disk, dbfs_root) -> its Key Vault key, for entities that have one."""
    managed_disk_auto_rotation: bool | None = None
    """`encryption.entities.managedDisk.rotationToLatestKeyVersionEnabled`."""
    compliance_standards: tuple[str, ...] | None = None
    """`enhancedSecurityCompliance.complianceSecurityProfile.complianceStandards`; None when absent."""
    is_uc_enabled: bool | None = None
    """`properties.isUcEnabled` (Databricks ARM 2026-01-01, read-only): whether Unity Catalog is enabled for
    the workspace; None when the document does not carry it."""
    compute_mode: str = "Hybrid"
    """`properties.computeMode` (Databricks ARM 2026-01-01): `Serverless` | `Hybrid`; absent (older
    api-versions, which only know classic workspaces) means `Hybrid`."""

    @property
    def serverless(self) -> bool:
        """Serverless workspaces have no classic compute plane: no VNet, no NSG rules, no managed disks."""
        return self.compute_mode.lower() == "serverless"


class NsgRule(_Frozen):
    id: str | None
    name: str
    direction: str
    access: str
    protocol: str
    priority: int | None
    source_prefixes: tuple[str, ...]
    destination_prefixes: tuple[str, ...]
    destination_ports: tuple[str, ...]


class NsgState(_Frozen):
    id: str
    name: str
    found: bool
    rules: tuple[NsgRule, ...] = ()


class SubnetState(_Frozen):
    id: str
    name: str
    role: Literal["public", "private"]
    found: bool
    address_prefixes: tuple[str, ...] = ()
    delegations: tuple[str, ...] = ()
    nsg_id: str | None = None
    nat_gateway_id: str | None = None
    route_table_id: str | None = None
    shared_with: tuple[str, ...] = ()
    """Other workspaces (ARM ids) whose VNet injection uses this same subnet."""


class NetworkState(_Frozen):
    vnet_id: str
    vnet_found: bool
    subnets: tuple[SubnetState, ...] = ()
    nsgs: tuple[NsgState, ...] = ()


class DiagnosticSetting(_Frozen):
    id: str | None
    name: str
    categories: frozenset[str]
    """Enabled log categories, lower-case; `alllogs`/`audit` category groups are kept as given."""
    category_groups: frozenset[str] = frozenset()
    has_destination: bool = True
    workspace_id: str | None = None
    """Destinations as the setting names them (`properties.workspaceId`, `storageAccountId`,
    `eventHubAuthorizationRuleId`, `eventHubName`)."""
    storage_account_id: str | None = None
    event_hub_authorization_rule_id: str | None = None
    event_hub_name: str | None = None


class IpAccessEntry(_Frozen):
    raw: str
    network: IPNetwork | None
    """None when the API returned something that is not a CIDR or address."""


class IpAccessList(_Frozen):
    list_id: str | None
    label: str | None
    list_type: str
    enabled: bool
    entries: tuple[IpAccessEntry, ...]


class TokenInfo(_Frozen):
    """Token metadata only: the token value is never read, stored or shown."""

    token_id: str
    creation_time: int | None = None
    expiry_time: int | None = None
    created_by: str | None = None
    owner_id: str | None = None
    last_used_day: int | None = None
    """`last_used_day` of token management (ms since the epoch of the day last used; 0/absent = never)."""


class TokenPermissionEntry(_Frozen):
    """One principal of GET /api/2.0/permissions/authorization/tokens `access_control_list`, from raw JSON
    (databricks-sdk 0.162.0 `TokenPermissionLevel` knows only CAN_USE and turns CAN_MANAGE into None)."""

    principal_type: Literal["user", "group", "service_principal", "unknown"]
    principal: str
    levels: tuple[str, ...] = ()


class SecretScopeState(_Frozen):
    """One scope of GET /api/2.0/secrets/scopes/list (names and metadata only; never a secret value)."""

    name: str
    backend_type: str | None
    keyvault_resource_id: str | None = None
    keyvault_dns_name: str | None = None


class SecretAcl(_Frozen):
    """One item of GET /api/2.0/secrets/acls/list?scope=... (`principal`, `permission` READ|WRITE|MANAGE)."""

    principal: str
    permission: str | None


class ScimPrincipal(_Frozen):
    """A SCIM user (`userName`) or service principal (`applicationId`) of the workspace."""

    id: str
    kind: Literal["user", "service_principal"]
    name: str
    """userName for users, applicationId for service principals."""
    display_name: str | None = None
    external_id: str | None = None
    active: bool | None = None


class ScimGroup(_Frozen):
    id: str
    display_name: str
    external_id: str | None = None
    members: tuple[str, ...] = ()
    """Member ids (`members[].value`): users, service principals or groups."""
    entitlements: tuple[str, ...] = ()


class ScimState(_Frozen):
    """GET /api/2.0/preview/scim/v2/{Users,ServicePrincipals,Groups}, every page."""

    principals: tuple[ScimPrincipal, ...] = ()
    groups: tuple[ScimGroup, ...] = ()


class WorkspaceApiState(_Frozen):
    conf: dict[str, str | None]
    unsupported_conf_keys: tuple[str, ...] = ()
    """workspace-conf keys the workspace answered "Invalid keys" for (dropped from the read, not unset)."""
    ip_access_lists: tuple[IpAccessList, ...] = ()
    tokens: tuple[TokenInfo, ...] = ()
    observed_at_ms: int | None = None
    """When the workspace API was read (ms since the epoch): the "now" of DBX-TOKEN-004's staleness."""
    token_permissions: tuple[TokenPermissionEntry, ...] | None = None
    """None = not read (not needed, or its family failed; see `family_errors`)."""
    workspace_settings: dict[str, str | bool | None] | None = None
    """Settings-v2 type -> raw payload value (`status` or `value`); None = not read."""
    scim: ScimState | None = None
    secret_scopes: tuple[SecretScopeState, ...] | None = None
    secret_acls: dict[str, tuple[SecretAcl, ...]] | None = None
    """Scope name -> its ACL items; None = not read."""
    global_init_scripts: tuple[GlobalInitScript, ...] | None = None
    """Compute and Unity Catalog families (core/state/compute_uc.py); None = not read."""
    clusters: tuple[ClusterState, ...] | None = None
    spark_versions: tuple[str, ...] | None = None
    cluster_policies: tuple[PolicyState, ...] | None = None
    policy_compliance: dict[str, PolicyCompliance] | None = None
    """cluster_id -> its compliance with its policy (list-compliance of each policy clusters use)."""
    policy_permissions: dict[str, tuple[PermissionEntry, ...]] | None = None
    """policy_id -> its ACL, for the policies that do not pin a UC access mode."""
    metastore: MetastoreState | None = None
    default_namespace: DefaultNamespace | None = None
    storage_credentials: StorageCredentialsState | None = None
    system_schemas: tuple[SystemSchema, ...] | None = None
    family_errors: dict[str, str] = Field(default_factory=dict)
    """Per-family read failures (family -> cause, no secrets): that family is not evaluated (DBX-EVAL-002
    with the family as subject); the other families are."""

    def family_observed(self, family: str) -> bool:
        return family not in self.family_errors and getattr(self, family, None) is not None


class RoleAssignmentState(_Frozen):
    """One item of ARM `GET {workspaceId}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`
    (api-version 2022-04-01): an assignment at the workspace or at a scope above it."""

    id: str | None
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str | None = None
    """User | Group | ServicePrincipal | ForeignGroup (as ARM says; kept as given)."""


class RolePermission(_Frozen):
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()


class RoleDefinitionState(_Frozen):
    """One item of ARM `GET {workspaceId}/providers/Microsoft.Authorization/roleDefinitions` (applicable at
    the workspace and above): only the control-plane `actions` / `notActions` matter here."""

    id: str
    name: str
    """The definition's GUID (the last segment of its id; the same GUID at every scope)."""
    role_name: str | None = None
    permissions: tuple[RolePermission, ...] = ()


class RbacState(_Frozen):
    """Azure RBAC that reaches the workspace: the assignments at or above it and the definitions they use."""

    assignments: tuple[RoleAssignmentState, ...] = ()
    definitions: tuple[RoleDefinitionState, ...] = ()
class AccessConnectorState(_Frozen):
    """GET Microsoft.Databricks/accessConnectors/{name} (2026-01-01 accessconnector.json)."""

    id: str
    found: bool
    provisioning_state: str | None = None
    identity_type: str | None = None
    """`identity.type`: SystemAssigned | UserAssigned | "SystemAssigned,UserAssigned" | None."""
    refered_by: tuple[str, ...] = ()
    """`properties.referedBy` (sic): ARM ids of the workspaces that use the connector."""


class ManagementLock(_Frozen):
    """One Microsoft.Authorization/locks object (2020-05-01 locks.json `ManagementLockObject`)."""

    id: str
    name: str
    level: str
    scope: str
    """The id the lock sits on (the lock id without `/providers/Microsoft.Authorization/locks/{name}`)."""


ArmPart = Literal["access_connector", "locks", "private_dns"]


class ArmExtrasState(_Frozen):
    """ARM reads beyond the workspace document, each made only when a rule that is on needs it.

    None for a part = not read (not needed, or failed: see `part_errors`). A failed part leaves only
    its rules unevaluated (DBX-EVAL-001 with the part as subject) and resolves nothing.
    """

    access_connector: AccessConnectorState | None = None
    locks: tuple[ManagementLock, ...] | None = None
    private_dns: dict[str, tuple[str, ...]] | None = None
    """Private endpoint id -> private DNS zone ids of its DNS zone groups (every config of every group)."""
    part_errors: dict[str, str] = Field(default_factory=dict)

    def observed(self, part: str) -> bool:
        return part not in self.part_errors and getattr(self, part, None) is not None


class WorkspaceState(_Frozen):
    resource_id: str
    name: str
    subscription_id: str
    resource_group: str
    tags: dict[str, str] = Field(default_factory=dict)
    arm: WorkspaceArm | None
    network: NetworkState | None = None
    diagnostics: tuple[DiagnosticSetting, ...] | None = None
    workspace_api: WorkspaceApiState | None = None
    rbac: RbacState | None = None
    """None = not read (DBX-IAM-002 off, or the read failed: a `rbac` stage error says why)."""
    arm_extras: ArmExtrasState | None = None
    errors: tuple[CollectionError, ...] = ()

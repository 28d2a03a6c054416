"""The baseline schema (`driftwatch.baseline/v1`, ARCHITECTURE 4.5) as strict pydantic models.

Every model forbids unknown keys: a typo must fail loudly, never silently disable a check.
Absent or null settings mean "not checked".
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from core.catalogue import RULE_IDS
from core.findings.model import Severity

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
CmkEntity = Literal["managed_services", "managed_disk", "dbfs_root"]


def parse_cidr(value: str) -> IPNetwork:
    """Normalise a CIDR or bare address: a bare address equals its /32 (/128).

    Host bits are ignored (`10.0.0.5/24` is `10.0.0.0/24`), as Databricks does.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected a CIDR string, got {type(value).__name__}")
    return ipaddress.ip_network(value.strip(), strict=False)


def canonical_location(value: str) -> str:
    """ARM returns display names ("West Europe") or canonical ones ("westeurope")."""
    return "".join(value.split()).lower()


def _check_rule_id(value: str) -> str:
    v = value.strip().upper()
    if v not in RULE_IDS:
        raise ValueError(f"unknown rule id {value!r}")
    return v


def _norm_cidr(value: str) -> str:
    try:
        return str(parse_cidr(value))
    except ValueError:
        raise ValueError(f"{value!r} is not a valid CIDR or IP address") from None


def _not_bool(value: Any) -> Any:
    # YAML reads `yes`/`true` as a boolean and pydantic would take it as 1: `widest_allow_prefix: yes` must not
    # silently mean /1.
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    return value


RuleId = Annotated[str, AfterValidator(_check_rule_id)]
Cidr = Annotated[str, AfterValidator(_norm_cidr)]
Int = Annotated[int, BeforeValidator(_not_bool)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnhancedSecurity(_Strict):
    compliance_security_profile: bool | None = None
    enhanced_security_monitoring: bool | None = None
    automatic_cluster_update: bool | None = None


class NetworkBaseline(_Strict):
    vnet_injection: bool | None = None
    allowed_vnets: list[str] = Field(default_factory=list)
    min_subnet_prefix: Int | None = Field(default=26, ge=0, le=128)
    nsg: str | None = None
    egress: Literal["nat_gateway", "route_table", "nat_gateway_or_route_table"] | None = None
    private_dns_zone: str | None = None
    """DBX-NET-008: every private endpoint of the workspace has a DNS zone group on this private DNS zone
    (normally `privatelink.azuredatabricks.net`); null = not checked."""
    widest_inbound_prefix: Int = Field(default=8, ge=0, le=128)
    """DBX-NET-005: a public source prefix shorter than this (e.g. /7 with the default 8) counts as the Internet."""
    report_latent_exposure: bool = True
    """DBX-NET-005: report an Allow from the Internet that higher-priority rules shadow today, at `low`."""

    @field_validator("allowed_vnets")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        for item in v:
            if not item.lower().startswith("/subscriptions/"):
                raise ValueError(f"not an ARM resource id: {item!r}")
        return v


class IpAccessListsBaseline(_Strict):
    enforced: bool | None = None
    allow: list[Cidr] | None = None
    block: list[Cidr] | None = None
    widest_allow_prefix: Int | None = Field(default=None, ge=0, le=32)
    widest_allow_prefix_v6: Int | None = Field(default=None, ge=0, le=128)
    when_private: Literal["check", "skip"] = "skip"
    """With `publicNetworkAccess: Disabled` no request comes over the Internet, so IP access lists have
    nothing to filter: `skip` (default) reports DBX-IPACL-* as not applicable, `check` keeps them."""


def _arm_id(value: str | None) -> str | None:
    if value is not None and not value.lower().startswith("/subscriptions/"):
        raise ValueError(f"not an ARM resource id: {value!r}")
    return value


ArmId = Annotated[str, AfterValidator(_arm_id)]


class AccessConnectorBaseline(_Strict):
    """DBX-WS-012: the workspace's `properties.accessConnector` and the connector it names."""

    id: ArmId | None = None
    """ARM id of the expected Microsoft.Databricks/accessConnectors resource (case-insensitive); null = any."""
    identity_type: Literal["SystemAssigned", "UserAssigned"] | None = None


class CmkKey(_Strict):
    """DBX-WS-014: the Key Vault key one encryption entity must use."""

    key_vault_uri: str = Field(min_length=1)
    """Compared without a trailing slash, case-insensitively (`https://myvault.vault.azure.net`)."""
    key_name: str = Field(min_length=1)


class CmkKeysBaseline(_Strict):
    managed_services: CmkKey | None = None
    managed_disk: CmkKey | None = None
    dbfs_root: CmkKey | None = None
    managed_disk_auto_rotation: bool | None = None
    """`encryption.entities.managedDisk.rotationToLatestKeyVersionEnabled` must equal this."""


class DiagnosticDestination(_Strict):
    """DBX-WS-010: where the log categories must go; each given key must match one setting's value."""

    workspace_id: ArmId | None = None
    """Log Analytics workspace ARM id."""
    storage_account_id: ArmId | None = None
    event_hub_authorization_rule_id: ArmId | None = None
    event_hub_name: str | None = None


class TokensBaseline(_Strict):
    max_lifetime_days: Int | None = Field(default=None, ge=1)
    enabled: bool | None = None
    """DBX-TOKEN-005: workspace-conf `enableTokensConfig`; while it is "false", TOKEN-002..004 do not apply."""
    allowed_users: list[str] | None = None
    """DBX-TOKEN-003: principals (userName, group name, SP applicationId) that may hold CAN_USE on tokens."""
    stale_days: Int | None = Field(default=None, ge=1)
    """DBX-TOKEN-004: a token unused (`last_used_day`) for more than this many days is a finding."""
    service_principals_only: bool | None = None
    """DBX-TOKEN-004: with true, a token owned by a human (not a service principal) is a finding."""


FORBIDDEN_USERS_ENTITLEMENTS = ("allow-cluster-create", "allow-instance-pool-create")


class IamBaseline(_Strict):
    """Workspace identities (SCIM)."""

    admins: list[str] | None = None
    """DBX-IAM-001: the effective members of `admins` (nested groups resolved): userNames of users and
    applicationIds of service principals (case-insensitive)."""
    max_admins: Int | None = Field(default=None, ge=1)
    """DBX-IAM-001: at most this many effective admins."""
    require_idp: bool | None = None
    """DBX-IAM-003: with true, every active user and non-system group has an externalId (IdP-provisioned)."""
    local_allowlist: list[str] = Field(default_factory=list)
    """DBX-IAM-003: userNames / group names allowed without externalId (break-glass accounts)."""
    users_entitlements: list[str] | None = None
    """DBX-IAM-004: the entitlements of group `users` (never allow-cluster-create/allow-instance-pool-create)."""
    azure_admins: list[str] | None = None
    """DBX-IAM-002: Entra object ids (principalId GUIDs) that may hold Owner, Contributor or any role allowing
    `Microsoft.Databricks/workspaces/write` at the workspace or a scope above it."""

    @field_validator("azure_admins")
    @classmethod
    def _object_ids(cls, v: list[str] | None) -> list[str] | None:
        import uuid

        for item in v or ():
            try:
                uuid.UUID(str(item))
            except ValueError:
                raise ValueError(f"{item!r} is not an Entra object id (a GUID)") from None
        return v

    @field_validator("users_entitlements")
    @classmethod
    def _no_forbidden(cls, v: list[str] | None) -> list[str] | None:
        bad = [e for e in v or () if e in FORBIDDEN_USERS_ENTITLEMENTS]
        if bad:
            raise ValueError(f"{', '.join(bad)} may never be an entitlement of the users group")
        return v


class SecretsBaseline(_Strict):
    """Secret scopes (names and metadata only; driftwatch never reads a secret value)."""

    scopes: list[str] | None = None
    """DBX-SEC-001: allowed scope names; an entry with * ? or [ is a glob, a plain name must also exist."""
    backend: Literal["AZURE_KEYVAULT", "DATABRICKS"] | None = None
    """DBX-SEC-001: every scope's `backend_type`."""
    allowed_vaults: list[str] | None = None
    """DBX-SEC-002: Key Vault resource ids (case-insensitive) Key Vault-backed scopes may point at."""
    shared_vaults: list[str] = Field(default_factory=list)
    """DBX-SEC-002: vaults (resource ids) on which more than one scope is allowed."""
    managers: list[str] | None = None
    """DBX-SEC-003: the only principals that may hold MANAGE on a scope; `users` may hold nothing."""


RestrictWorkspaceAdmins = Literal["ALLOW_ALL", "RESTRICT_TOKENS_AND_JOB_RUN_AS"]


class WorkspaceSettingsBaseline(_Strict):
    """Settings-v2 (`GET /api/2.0/settings/types/<type>/names/default`); absent or null = not checked."""

    restrict_workspace_admins: RestrictWorkspaceAdmins | None = None
    disable_legacy_dbfs: bool | None = None
    sql_results_download: bool | None = None
    disable_legacy_access: bool | None = None


ClusterSource = Literal["UI", "API", "JOB", "PIPELINE", "PIPELINE_MAINTENANCE", "MODELS", "SQL"]
"""`ClusterDetails.cluster_source` values (databricks-sdk-py 0.162.0 `compute.ClusterSource`)."""


def _sha256_hex(value: str) -> str:
    v = value.strip().lower()
    if len(v) != 64 or any(c not in "0123456789abcdef" for c in v):
        raise ValueError(f"{value!r} is not a sha256 hex digest (64 hex digits)")
    return v


Sha256 = Annotated[str, AfterValidator(_sha256_hex)]


class GlobalInitScriptBaseline(_Strict):
    """One expected global init script: its sha256 is of the decoded script bytes (never the text)."""

    name: str = Field(min_length=1)
    enabled: bool
    position: Int = Field(ge=0)
    sha256: Sha256


class ClusterPolicyBaseline(_Strict):
    """One expected cluster policy: sha256 of its canonical definition JSON (keys sorted, no whitespace)."""

    name: str = Field(min_length=1)
    sha256: Sha256


def _runtime(value: str) -> str:
    parts = str(value).strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{value!r} is not a Databricks Runtime version such as 13.3")
    return f"{int(parts[0])}.{int(parts[1])}"


class ComputeBaseline(_Strict):
    """Clusters, cluster policies and init scripts (workspace API); absent or null = not checked."""

    global_init_scripts: list[GlobalInitScriptBaseline] | None = None
    """DBX-CLU-001: the exact set of (name, enabled, position, sha256 of the decoded script); [] = none."""
    cluster_sources: list[ClusterSource] = Field(default_factory=lambda: list[ClusterSource](("UI", "API")))
    """Which clusters DBX-CLU-002/003/004/006/007 look at, by `cluster_source` (job and pipeline clusters
    only when listed here)."""
    uc_access_mode: bool | None = None
    """DBX-CLU-002: with true, every cluster in scope uses a Unity Catalog access mode."""
    min_runtime: Annotated[str, AfterValidator(_runtime)] | None = None
    """DBX-CLU-003: every cluster's spark_version is a supported one (clusters/spark-versions) and at least
    this Databricks Runtime (major.minor, e.g. "13.3")."""
    require_policy: bool | None = None
    """DBX-CLU-004: with true, every cluster in scope has a policy_id and complies with it."""
    policies: list[ClusterPolicyBaseline] | None = None
    """DBX-CLU-005: the exact set of (name, sha256 of the canonical definition) of the cluster policies."""
    users_policy_use: Literal["uc_pinned_only"] | None = None
    """DBX-CLU-005: uc_pinned_only = the group users holds no CAN_USE on a policy that does not pin
    data_security_mode to Unity Catalog access modes."""
    no_legacy_init_scripts: bool | None = None
    """DBX-CLU-006: with true, no cluster in scope runs a DBFS init script, and workspace-conf
    enableDeprecatedGlobalInitScripts / enableDeprecatedClusterNamedInitScripts are not "true"."""
    worker_encryption: bool | None = None
    """DBX-CLU-007 (opt-in, CIS 2.1.3): with true, clusters in scope set spark.authenticate,
    spark.network.crypto.enabled and spark.io.encryption.enabled to "true" in spark_conf."""

    @field_validator("global_init_scripts", "policies")
    @classmethod
    def _unique_names(cls, v: list[Any] | None) -> list[Any] | None:
        names = [i.name for i in v or ()]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate name(s): {', '.join(dup)}")
        return v


class UnityCatalogBaseline(_Strict):
    """Unity Catalog (workspace API); absent or null = not checked."""

    required: bool | None = None
    """DBX-UC-001/002: with true, a metastore is assigned and the default catalog is not hive_metastore."""
    metastore_id: str | None = Field(default=None, min_length=1)
    """DBX-UC-001: the metastore the workspace must be assigned to (implies a metastore is required)."""
    metastore_owner_group: bool | None = None
    """DBX-UC-003: with true, the metastore owner is a group (not a user name with @, not an SP
    application id)."""
    max_recipient_token_lifetime_days: Int | None = Field(default=None, ge=1)
    """DBX-UC-003: with Delta Sharing scope INTERNAL_AND_EXTERNAL, the recipient token lifetime is set
    (0 = tokens never expire) and at most this many days."""
    approved_access_connectors: list[str] | None = None
    """DBX-UC-004: storage credentials use Azure managed identities through these access connectors (ARM ids,
    case-insensitive); a service-principal (client secret) credential is always a finding."""
    access_system_schema: bool | None = None
    """DBX-UC-005: with true, the `access` system schema (audit tables) is ENABLE_COMPLETED or MANAGED."""

    @field_validator("approved_access_connectors")
    @classmethod
    def _ids(cls, v: list[str] | None) -> list[str] | None:
        for item in v or ():
            if not item.lower().startswith("/subscriptions/") or \
                    "/providers/microsoft.databricks/accessconnectors/" not in item.lower():
                raise ValueError(f"not an access connector ARM id: {item!r}")
        return v


class Settings(_Strict):
    """The checkable settings: `defaults`, and each scope's `set` (partially)."""

    sku: Literal["premium", "standard", "trial"] | None = None
    secure_cluster_connectivity: bool | None = None
    public_network_access: Literal["Enabled", "Disabled"] | None = None
    required_nsg_rules: Literal["AllRules", "NoAzureDatabricksRules", "NoAzureServiceRules"] | None = None
    private_link: Literal["required", "optional"] | None = None
    customer_managed_keys: list[CmkEntity] | None = None
    infrastructure_encryption: bool | None = None
    enhanced_security: EnhancedSecurity | None = None
    allowed_locations: list[str] | None = None
    diagnostic_logs: list[str] | None = None
    diagnostic_destination: DiagnosticDestination | None = None
    compute_mode: Literal["Serverless", "Hybrid"] | None = None
    access_connector: AccessConnectorBaseline | None = None
    default_storage_firewall: Literal["Enabled", "Disabled"] | None = None
    cmk_keys: CmkKeysBaseline | None = None
    resource_lock: Literal["required", "optional"] | None = None
    required_tags: dict[str, list[str] | None] | None = None
    """Tag name (case-insensitive, as ARM) -> allowed values (exact); null or [] = any value."""
    compliance_standards: list[str] | None = None
    network: NetworkBaseline | None = None
    ip_access_lists: IpAccessListsBaseline | None = None
    workspace_conf: dict[str, str] | None = None
    workspace_conf_profile: Literal["sat-hardening"] | None = None
    """DBX-CONF-001: a shipped key set (core/baseline/profiles.py) merged under `workspace_conf` (its keys win)."""
    tokens: TokensBaseline | None = None
    settings: WorkspaceSettingsBaseline | None = None
    secrets: SecretsBaseline | None = None
    iam: IamBaseline | None = None
    compute: ComputeBaseline | None = None
    unity_catalog: UnityCatalogBaseline | None = None
    severity: dict[RuleId, Severity] = Field(default_factory=dict)
    disabled_rules: list[RuleId] = Field(default_factory=list)

    @field_validator("allowed_locations")
    @classmethod
    def _locations(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [canonical_location(x) for x in v]

    @field_validator("workspace_conf", mode="before")
    @classmethod
    def _conf_strings(cls, v: Any) -> Any:
        # YAML turns `true` into a bool; workspace-conf values are strings on the wire.
        if isinstance(v, dict):
            return {k: (str(x).lower() if isinstance(x, bool) else str(x) if isinstance(x, int) else x)
                    for k, x in v.items()}
        return v


class ScopeMatch(_Strict):
    """All given keys must match; an empty list or map matches everything."""

    tags: dict[str, str] = Field(default_factory=dict)
    subscriptions: list[str] = Field(default_factory=list)
    resource_groups: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)

    def matches(self, *, subscription_id: str, resource_group: str, name: str, tags: Mapping[str, str]) -> bool:
        """Subscriptions and resource groups compare case-insensitively, names as globs, tag names
        case-insensitively and tag values exactly."""
        if self.subscriptions and subscription_id.lower() not in {s.lower() for s in self.subscriptions}:
            return False
        if self.resource_groups and resource_group.lower() not in {r.lower() for r in self.resource_groups}:
            return False
        if self.names and not any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in self.names):
            return False
        if self.tags:
            have = {k.lower(): v for k, v in tags.items()}
            if any(have.get(key.lower()) != value for key, value in self.tags.items()):
                return False
        return True


class Scope(_Strict):
    name: str = Field(min_length=1)
    match: ScopeMatch = Field(default_factory=ScopeMatch)
    set: Settings


class Exemption(_Strict):
    rule: RuleId
    resource: str = Field(min_length=1)
    subject: str | None = None
    reason: str = Field(min_length=1)
    expires: date
    approved_by: str | None = None

    def as_record(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


WEBHOOK_SETTING_PATTERN = r"^TEAMS_WEBHOOK_URL(?:_[A-Z0-9]+)*$"


class NotificationRoute(_Strict):
    """Where one workspace's Teams digests go: the first route whose `match` fits wins."""

    match: ScopeMatch = Field(default_factory=ScopeMatch)
    min_severity: Severity | None = None
    """Lowest severity posted on this route; null = DRIFTWATCH_NOTIFY_MIN_SEVERITY."""
    webhook: str = Field(pattern=WEBHOOK_SETTING_PATTERN, max_length=128)
    """The *name* of the app setting holding the Workflows webhook URL (never the URL itself)."""


class Notifications(_Strict):
    routes: list[NotificationRoute] = Field(default_factory=list)


class BaselineDocument(_Strict):
    schema_: Literal["driftwatch.baseline/v1"] = Field(alias="schema")
    defaults: Settings = Field(default_factory=Settings)
    scopes: list[Scope] = Field(default_factory=list)
    exemptions: list[Exemption] = Field(default_factory=list)
    notifications: Notifications = Field(default_factory=Notifications)
    """Alert routing only: not part of what "compliant" means, so not part of the baseline's sha256."""

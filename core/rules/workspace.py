"""DBX-WS-*: the workspace resource's own ARM properties."""

from __future__ import annotations

from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.rules.applicability import (
    SERVERLESS_CMK_ENTITIES,
    SERVERLESS_REASON,
    classic_cmk_entities,
    classic_compute_only,
)
from core.rules.registry import Violation, rule
from core.state.model import DiagnosticSetting, WorkspaceArm, WorkspaceState
from core.state.reads import Read, ReadPlan


def _arm(ws: WorkspaceState) -> WorkspaceArm:
    assert ws.arm is not None  # the engine runs "arm" rules only when the document was read
    return ws.arm


@rule(id="DBX-WS-001", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Upgrade the workspace to the Premium tier (Azure portal > workspace > Upgrade, or "
                  "`az databricks workspace update --sku premium`). Premium is needed for IP access "
                  "lists, audit logs and private link.",
      applies=lambda s: s.sku is not None)
def sku_is_premium(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `sku.name` of the Microsoft.Databricks/workspaces resource."""
    actual = _arm(ws).sku
    if actual != b.settings.sku:
        yield Violation(f"Workspace SKU is {actual or 'unset'}, baseline requires {b.settings.sku}.",
                        expected=b.settings.sku, actual=actual)


@rule(id="DBX-WS-002", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Enable secure cluster connectivity: set `parameters.enableNoPublicIp` to true "
                  "(redeploy or `az databricks workspace update --enable-no-public-ip`).",
      applies=lambda s: s.secure_cluster_connectivity is not None,
      inapplicable=classic_compute_only)
def secure_cluster_connectivity(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.parameters.enableNoPublicIp.value` (absent counts as a finding, actual null)."""
    actual = _arm(ws).no_public_ip
    want = b.settings.secure_cluster_connectivity
    if actual is None or actual != want:
        yield Violation(f"enableNoPublicIp is {_fmt(actual)}, baseline requires {_fmt(want)}.",
                        expected=want, actual=actual)


@rule(id="DBX-WS-003", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Set `properties.publicNetworkAccess` to the baseline value (with Disabled, users reach "
                  "the workspace through private endpoints only).",
      applies=lambda s: s.public_network_access is not None)
def public_network_access(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.publicNetworkAccess` (Enabled | Disabled; absent means Enabled in Azure)."""
    yield from _same_setting("publicNetworkAccess", _arm(ws).public_network_access or "Enabled",
                             b.settings.public_network_access)


@rule(id="DBX-WS-004", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Set `properties.requiredNsgRules` to the baseline value (NoAzureDatabricksRules needs "
                  "back-end private link).",
      applies=lambda s: s.required_nsg_rules is not None,
      inapplicable=classic_compute_only)
def required_nsg_rules(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.requiredNsgRules` (AllRules | NoAzureDatabricksRules | NoAzureServiceRules)."""
    yield from _same_setting("requiredNsgRules", _arm(ws).required_nsg_rules, b.settings.required_nsg_rules)


@rule(id="DBX-WS-005", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Create a private endpoint for the workspace (sub-resource databricks_ui_api) and approve "
                  "the connection.",
      applies=lambda s: s.private_link == "required")
def private_link(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.privateEndpointConnections[].properties.privateLinkServiceConnectionState.status`."""
    pecs = _arm(ws).private_endpoint_connections
    if not any((p.status or "").lower() == "approved" for p in pecs):
        statuses = [p.status for p in pecs]
        yield Violation("No approved private endpoint connection" +
                        (f" (connections: {', '.join(str(s) for s in statuses)})." if pecs else "."),
                        expected="at least one Approved connection", actual=statuses)


_CMK_FIELDS = {
    "managed_services": ("cmk_managed_services", "properties.encryption.entities.managedServices"),
    "managed_disk": ("cmk_managed_disk", "properties.encryption.entities.managedDisk"),
    "dbfs_root": ("cmk_dbfs_root", "properties.parameters.encryption.value"),
}


@rule(id="DBX-WS-006", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Configure customer-managed keys from Key Vault for the named entity (managed services, "
                  "managed disks, DBFS root); Premium SKU is required.",
      applies=lambda s: bool(s.customer_managed_keys),
      inapplicable=classic_cmk_entities)
def customer_managed_keys(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.encryption.entities.{managedServices,managedDisk}.keySource` and
    `properties.parameters.encryption.value.keySource` (DBFS root); Microsoft.Keyvault = CMK. On a
    Serverless workspace managed disks and the DBFS root are not applicable (only managed services)."""
    arm = _arm(ws)
    for entity in b.settings.customer_managed_keys or []:
        if arm.serverless and entity in SERVERLESS_CMK_ENTITIES:
            continue
        attr, path = _CMK_FIELDS[entity]
        if not getattr(arm, attr):
            yield Violation(f"No customer-managed key for {entity} ({path}.keySource is not Microsoft.Keyvault).",
                            expected="Microsoft.Keyvault", actual=None, subject=entity)


@rule(id="DBX-WS-007", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Infrastructure encryption can only be set at creation: recreate the workspace with "
                  "`requireInfrastructureEncryption` true and migrate.",
      applies=lambda s: s.infrastructure_encryption is not None,
      inapplicable=classic_compute_only)
def infrastructure_encryption(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.parameters.requireInfrastructureEncryption.value`."""
    actual = _arm(ws).infrastructure_encryption
    want = b.settings.infrastructure_encryption
    if bool(actual) != want:
        yield Violation(f"requireInfrastructureEncryption is {_fmt(actual)}, baseline requires {_fmt(want)}.",
                        expected=want, actual=actual)


_ESC = {
    "compliance_security_profile": "complianceSecurityProfile",
    "enhanced_security_monitoring": "enhancedSecurityMonitoring",
    "automatic_cluster_update": "automaticClusterUpdate",
}


@rule(id="DBX-WS-008", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Set `properties.enhancedSecurityCompliance` (compliance security profile, enhanced "
                  "security monitoring, automatic cluster update) to the baseline values.",
      applies=lambda s: s.enhanced_security is not None)
def enhanced_security(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.enhancedSecurityCompliance.{complianceSecurityProfile,enhancedSecurityMonitoring,
    automaticClusterUpdate}.value` (Enabled | Disabled); one finding per differing setting."""
    want_all = b.settings.enhanced_security
    assert want_all is not None
    actual_all = _arm(ws).enhanced_security
    for key, arm_name in _ESC.items():
        want = getattr(want_all, key)
        if want is None:
            continue
        actual = getattr(actual_all, key)
        if bool(actual) != want:
            yield Violation(f"{arm_name} is {_enabled(actual)}, baseline requires {_enabled(want)}.",
                            expected=_enabled(want), actual=_enabled(actual) if actual is not None else None,
                            subject=arm_name)


@rule(id="DBX-WS-009", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Workspaces cannot move region: recreate it in an allowed region, or add the region to "
                  "`allowed_locations` if policy allows.",
      applies=lambda s: s.allowed_locations is not None)
def allowed_location(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `location` (display names such as "West Europe" and canonical names both understood)."""
    allowed = b.settings.allowed_locations or []
    arm = _arm(ws)
    if arm.location not in allowed:
        yield Violation(f"Location {arm.location_display or arm.location!r} is not in the allowed regions "
                        f"({', '.join(allowed) or 'none'}).", expected=allowed, actual=arm.location)


@rule(id="DBX-WS-010", inputs=ReadPlan.of(Read.DIAGNOSTICS),
      remediation="Add a diagnostic setting on the workspace (Microsoft.Insights/diagnosticSettings) that "
                  "sends the listed categories to Log Analytics, storage or Event Hubs (to the baseline's "
                  "destination when `diagnostic_destination` names one).",
      applies=lambda s: s.diagnostic_logs is not None or s.diagnostic_destination is not None)
def diagnostic_logs(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads the workspace's `providers/Microsoft.Insights/diagnosticSettings` (`properties.logs[]` with
    `category` or `categoryGroup` allLogs/audit, and a destination). With `diagnostic_destination`, only
    settings whose `workspaceId` / `storageAccountId` / `eventHubAuthorizationRuleId` / `eventHubName` equal
    every given key count (ids case-insensitive): a log stream rerouted elsewhere is drift."""
    want = sorted({c.lower() for c in b.settings.diagnostic_logs or []})
    settings = [d for d in ws.diagnostics or () if d.has_destination]
    if not settings:
        yield Violation("No diagnostic setting sends workspace logs anywhere.", expected=want, actual=[])
        return
    dest = b.settings.diagnostic_destination
    if dest is not None:
        wanted = {k: v for k, v in dest.model_dump().items() if v is not None}
        matching = [d for d in settings if _same_destination(d, wanted)]
        if wanted and not matching:
            yield Violation("No diagnostic setting sends to the baseline destination (logs go to: " +
                            "; ".join(_destination_text(d) for d in settings) + ").",
                            expected=wanted, actual=[_destination(d) for d in settings], subject="destination")
            return
        settings = matching
    sent: set[str] = set()
    all_logs = False
    for d in settings:
        sent |= d.categories
        all_logs = all_logs or "alllogs" in d.category_groups
    missing = [] if all_logs else [c for c in want if c not in sent]
    if missing:
        yield Violation(f"Diagnostic settings do not send: {', '.join(missing)}.", expected=want,
                        actual=sorted(sent))


def _destination(d: DiagnosticSetting) -> dict[str, str]:
    return {k: v for k, v in (("workspace_id", d.workspace_id), ("storage_account_id", d.storage_account_id),
                              ("event_hub_authorization_rule_id", d.event_hub_authorization_rule_id),
                              ("event_hub_name", d.event_hub_name)) if v}


def _destination_text(d: DiagnosticSetting) -> str:
    return f"{d.name}: " + (", ".join(f"{k}={v}" for k, v in _destination(d).items()) or "none")


def _same_destination(d: DiagnosticSetting, wanted: dict[str, str]) -> bool:
    have = _destination(d)
    return all((have.get(k) or "").casefold() == v.casefold() if k != "event_hub_name" else have.get(k) == v
               for k, v in wanted.items())


def _same_setting(name: str, actual: str | None, want: str | None) -> Iterator[Violation]:
    """String properties compare case-insensitively, as ARM treats these enum values."""
    if (actual or "").lower() != (want or "").lower():
        yield Violation(f"{name} is {actual or 'unset'}, baseline requires {want}.", expected=want, actual=actual)


def _fmt(v: bool | None) -> str:
    return "absent" if v is None else str(v).lower()


def _enabled(v: bool | None) -> str:
    return "absent" if v is None else ("Enabled" if v else "Disabled")


# ---- Databricks ARM 2026-01-01 properties (issue 13) ----------------------------------------------------
# Shapes: azure-rest-api-specs specification/databricks/resource-manager/Microsoft.Databricks/Databricks/
# stable/2026-01-01/databricks.json (`WorkspaceProperties`: computeMode, accessConnector {id, identityType,
# userAssignedIdentityId}, defaultStorageFirewall, `EncryptionEntitiesDefinition`, `ManagedDiskEncryption`,
# `ComplianceSecurityProfileDefinition.complianceStandards`) and accessconnector.json (`AccessConnector`).


@rule(id="DBX-WS-011", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Compute mode is fixed at creation: recreate the workspace with the baseline's "
                  "`computeMode` (Serverless or Hybrid) and migrate, or change `compute_mode` if policy allows.",
      applies=lambda s: s.compute_mode is not None)
def compute_mode(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.computeMode` (Serverless | Hybrid; absent on older api-versions = Hybrid)."""
    yield from _same_setting("computeMode", _arm(ws).compute_mode, b.settings.compute_mode)


@rule(id="DBX-WS-012", inputs=ReadPlan.of(Read.ACCESS_CONNECTOR),
      remediation="Set `properties.accessConnector` {id, identityType} to the baseline's connector, and make "
                  "sure the Microsoft.Databricks/accessConnectors resource exists, is Succeeded and has the "
                  "matching managed identity.",
      applies=lambda s: s.access_connector is not None,
      inapplicable=classic_compute_only)
def access_connector(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.accessConnector.{id,identityType}` of the workspace, then GETs the connector
    (Microsoft.Databricks/accessConnectors, 2026-01-01): `properties.provisioningState` Succeeded,
    `identity.type` including the identity type, `properties.referedBy` naming the workspace. One finding
    per differing part (subject: id, identityType, exists, provisioningState, identity, referedBy)."""
    arm = _arm(ws)
    want = b.settings.access_connector
    assert want is not None and ws.arm_extras is not None and ws.arm_extras.access_connector is not None
    if not arm.access_connector_id:
        yield Violation("The workspace has no access connector (properties.accessConnector is absent).",
                        expected=want.id or "an access connector", actual=None, subject="id")
        return
    if want.id and arm.access_connector_id.casefold() != want.id.casefold():
        yield Violation(f"Access connector is {arm.access_connector_id}, baseline requires {want.id}.",
                        expected=want.id, actual=arm.access_connector_id, subject="id",
                        related_resource_id=arm.access_connector_id)
    itype = arm.access_connector_identity_type
    if want.identity_type and (itype or "").casefold() != want.identity_type.casefold():
        yield Violation(f"accessConnector.identityType is {itype or 'unset'}, baseline requires "
                        f"{want.identity_type}.", expected=want.identity_type, actual=itype, subject="identityType",
                        related_resource_id=arm.access_connector_id)
    conn = ws.arm_extras.access_connector
    if not conn.found:
        yield Violation(f"The access connector {arm.access_connector_id} does not exist.", expected="exists",
                        actual="not found", subject="exists", related_resource_id=arm.access_connector_id)
        return
    if (conn.provisioning_state or "").casefold() != "succeeded":
        yield Violation(f"The access connector is {conn.provisioning_state or 'in no provisioning state'}, "
                        "not Succeeded.", expected="Succeeded", actual=conn.provisioning_state,
                        subject="provisioningState", related_resource_id=conn.id)
    need_identity = want.identity_type or itype
    have = {t.strip().casefold() for t in (conn.identity_type or "").split(",") if t.strip()}
    if need_identity and need_identity.casefold() not in have:
        yield Violation(f"The access connector's managed identity is {conn.identity_type or 'none'}, not "
                        f"{need_identity}.", expected=need_identity, actual=conn.identity_type, subject="identity",
                        related_resource_id=conn.id)
    if ws.resource_id.casefold() not in {r.casefold() for r in conn.refered_by}:
        yield Violation("The access connector does not refer back to this workspace (properties.referedBy).",
                        expected=ws.resource_id, actual=list(conn.refered_by), subject="referedBy",
                        related_resource_id=conn.id)


@rule(id="DBX-WS-013", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Set `properties.defaultStorageFirewall` to the baseline value; Enabled needs an access "
                  "connector (`properties.accessConnector`) for the workspace storage account to trust.",
      applies=lambda s: s.default_storage_firewall is not None,
      inapplicable=classic_compute_only)
def default_storage_firewall(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.defaultStorageFirewall` (Enabled | Disabled; absent = not configured, i.e.
    Disabled) and, when Enabled, `properties.accessConnector.id` (subject `accessConnector`)."""
    arm = _arm(ws)
    want = b.settings.default_storage_firewall or ""
    actual = arm.default_storage_firewall
    if (actual or "Disabled").casefold() != want.casefold():
        yield Violation(f"defaultStorageFirewall is {actual or 'absent'}, baseline requires {want}.",
                        expected=want, actual=actual)
    elif want.casefold() == "enabled" and not arm.access_connector_id:
        yield Violation("defaultStorageFirewall is Enabled but the workspace names no access connector.",
                        expected="properties.accessConnector.id", actual=None, subject="accessConnector")


_CMK_KEY_PATHS = {
    "managed_services": "properties.encryption.entities.managedServices.keyVaultProperties",
    "managed_disk": "properties.encryption.entities.managedDisk.keyVaultProperties",
    "dbfs_root": "properties.parameters.encryption.value",
}
_ROTATION_SUBJECT = "managed_disk.rotationToLatestKeyVersionEnabled"


def _cmk_key_entities(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[tuple[str | None, str]]:
    if ws.arm is None or not ws.arm.serverless or b.settings.cmk_keys is None:
        return
    for entity in SERVERLESS_CMK_ENTITIES:
        if getattr(b.settings.cmk_keys, entity) is not None:
            yield entity, SERVERLESS_REASON
    if b.settings.cmk_keys.managed_disk_auto_rotation is not None:
        yield _ROTATION_SUBJECT, SERVERLESS_REASON


_cmk_key_entities.label = "computeMode Serverless (managed_disk, dbfs_root)"  # type: ignore[attr-defined]


@rule(id="DBX-WS-014", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Point each encryption entity at the baseline's Key Vault and key (workspace encryption "
                  "settings), and turn on automatic key rotation for managed disks.",
      applies=lambda s: s.cmk_keys is not None,
      inapplicable=_cmk_key_entities)
def customer_managed_key_ids(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.encryption.entities.{managedServices,managedDisk}.keyVaultProperties.{keyVaultUri,
    keyName}`, the DBFS root's `properties.parameters.encryption.value.{keyvaulturi,KeyName}` and
    `managedDisk.rotationToLatestKeyVersionEnabled`; one finding per entity (subject: the entity)."""
    arm = _arm(ws)
    want = b.settings.cmk_keys
    assert want is not None
    for entity, path in _CMK_KEY_PATHS.items():
        key = getattr(want, entity)
        if key is None or (arm.serverless and entity in SERVERLESS_CMK_ENTITIES):
            continue
        expected = {"key_vault_uri": key.key_vault_uri, "key_name": key.key_name}
        have = arm.cmk_keys.get(entity)
        if have is None:
            yield Violation(f"{entity} has no Key Vault key ({path} not set).", expected=expected, actual=None,
                            subject=entity)
            continue
        actual = {"key_vault_uri": have.key_vault_uri, "key_name": have.key_name}
        if (_vault(have.key_vault_uri) != _vault(key.key_vault_uri)
                or (have.key_name or "").casefold() != key.key_name.casefold()):
            yield Violation(f"{entity} uses key {have.key_name or '?'} in {have.key_vault_uri or '?'}, baseline "
                            f"requires {key.key_name} in {key.key_vault_uri}.", expected=expected, actual=actual,
                            subject=entity)
    rotation = want.managed_disk_auto_rotation
    if rotation is not None and not arm.serverless and bool(arm.managed_disk_auto_rotation) != rotation:
        yield Violation(f"Managed-disk key auto-rotation is {_fmt(arm.managed_disk_auto_rotation)}, baseline "
                        f"requires {_fmt(rotation)}.", expected=rotation, actual=arm.managed_disk_auto_rotation,
                        subject=_ROTATION_SUBJECT)


def _vault(uri: str | None) -> str:
    """Key Vault URIs compare without scheme case, host case or a trailing slash."""
    return (uri or "").strip().rstrip("/").casefold()


LOCK_LEVELS = ("CanNotDelete", "ReadOnly")


@rule(id="DBX-WS-015", inputs=ReadPlan.of(Read.LOCKS),
      remediation="Add a CanNotDelete (or ReadOnly) management lock on the workspace or its resource group "
                  "(`az lock create --lock-type CanNotDelete ...`).",
      applies=lambda s: s.resource_lock == "required")
def resource_lock(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `{workspaceId}/providers/Microsoft.Authorization/locks` (2020-05-01; the list includes locks
    inherited from the resource group): a lock with `properties.level` CanNotDelete or ReadOnly whose scope
    is the workspace or its resource group."""
    assert ws.arm_extras is not None and ws.arm_extras.locks is not None
    group = f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}".casefold()
    scopes = {ws.resource_id.casefold(), group}
    locks = ws.arm_extras.locks
    if any(lk.scope.casefold() in scopes and lk.level.casefold() in {x.casefold() for x in LOCK_LEVELS}
           for lk in locks):
        return
    seen = [f"{lk.name} ({lk.level}) on {lk.scope}" for lk in locks]
    yield Violation("No CanNotDelete or ReadOnly lock on the workspace or its resource group" +
                    (f" (locks seen: {'; '.join(seen)})." if seen else "."),
                    expected="CanNotDelete or ReadOnly on the workspace or its resource group", actual=seen)


@rule(id="DBX-WS-016", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Set the missing or wrong tags on the workspace (`az tag update --operation merge`).",
      applies=lambda s: bool(s.required_tags))
def required_tags(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads the workspace's `tags`; tag names compare case-insensitively (as ARM treats them), values
    exactly. One finding per missing or disallowed tag (subject: the tag name)."""
    have = {k.casefold(): v for k, v in ws.tags.items()}
    for name, allowed in (b.settings.required_tags or {}).items():
        value = have.get(name.casefold())
        if value is None:
            yield Violation(f"Tag {name!r} is missing.", expected=allowed or "any value", actual=None, subject=name)
        elif allowed and value not in allowed:
            yield Violation(f"Tag {name!r} is {value!r}, allowed: {', '.join(allowed)}.", expected=allowed,
                            actual=value, subject=name)


@rule(id="DBX-WS-017", inputs=ReadPlan.of(Read.WORKSPACE),
      remediation="Set `properties.enhancedSecurityCompliance.complianceSecurityProfile.complianceStandards` to "
                  "the baseline's standards (the compliance security profile must be Enabled).",
      applies=lambda s: s.compliance_standards is not None)
def compliance_standards(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.enhancedSecurityCompliance.complianceSecurityProfile.complianceStandards` (strings
    such as HIPAA, PCI_DSS; compared as a set, case-insensitively; absent = none)."""
    want = {s.casefold(): s for s in b.settings.compliance_standards or []}
    have = {s.casefold(): s for s in _arm(ws).compliance_standards or ()}
    missing = [v for k, v in want.items() if k not in have]
    extra = [v for k, v in have.items() if k not in want]
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unexpected {', '.join(extra)}"]
                                                                          if extra else [])
        yield Violation(f"Compliance standards differ: {'; '.join(parts)}.", expected=sorted(want.values()),
                        actual=sorted(have.values()))

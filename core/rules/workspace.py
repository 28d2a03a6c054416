"""DBX-WS-*: the workspace resource's own ARM properties."""

from __future__ import annotations

from collections.abc import Iterator

from core.baseline.load import EffectiveBaseline
from core.rules.applicability import SERVERLESS_CMK_ENTITIES, classic_cmk_entities, classic_compute_only
from core.rules.registry import Violation, rule
from core.state.model import WorkspaceArm, WorkspaceState


def _arm(ws: WorkspaceState) -> WorkspaceArm:
    assert ws.arm is not None  # the engine runs "arm" rules only when the document was read
    return ws.arm


@rule(id="DBX-WS-001", title="Workspace SKU is Premium", severity="high", needs="arm",
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


@rule(id="DBX-WS-002", title="Secure cluster connectivity (no public IP) is enabled", severity="critical",
      needs="arm",
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


@rule(id="DBX-WS-003", title="Public network access matches the baseline", severity="high", needs="arm",
      remediation="Set `properties.publicNetworkAccess` to the baseline value (with Disabled, users reach "
                  "the workspace through private endpoints only).",
      applies=lambda s: s.public_network_access is not None)
def public_network_access(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.publicNetworkAccess` (Enabled | Disabled; absent means Enabled in Azure)."""
    yield from _same_setting("publicNetworkAccess", _arm(ws).public_network_access or "Enabled",
                             b.settings.public_network_access)


@rule(id="DBX-WS-004", title="Required NSG rules setting matches the baseline", severity="medium",
      needs="arm",
      remediation="Set `properties.requiredNsgRules` to the baseline value (NoAzureDatabricksRules needs "
                  "back-end private link).",
      applies=lambda s: s.required_nsg_rules is not None,
      inapplicable=classic_compute_only)
def required_nsg_rules(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads `properties.requiredNsgRules` (AllRules | NoAzureDatabricksRules | NoAzureServiceRules)."""
    yield from _same_setting("requiredNsgRules", _arm(ws).required_nsg_rules, b.settings.required_nsg_rules)


@rule(id="DBX-WS-005", title="Private link: an approved private endpoint connection exists",
      severity="high", needs="arm",
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


@rule(id="DBX-WS-006", title="Customer-managed keys are configured", severity="medium", needs="arm",
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


@rule(id="DBX-WS-007", title="Infrastructure encryption is enabled", severity="medium", needs="arm",
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


@rule(id="DBX-WS-008", title="Enhanced security & compliance settings match the baseline", severity="medium",
      needs="arm",
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


@rule(id="DBX-WS-009", title="Workspace is in an allowed region", severity="low", needs="arm",
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


@rule(id="DBX-WS-010", title="Diagnostic logs are sent for the baseline categories", severity="medium",
      needs="diagnostics",
      remediation="Add a diagnostic setting on the workspace (Microsoft.Insights/diagnosticSettings) that "
                  "sends the listed categories to Log Analytics, storage or Event Hubs.",
      applies=lambda s: s.diagnostic_logs is not None)
def diagnostic_logs(ws: WorkspaceState, b: EffectiveBaseline) -> Iterator[Violation]:
    """Reads the workspace's `providers/Microsoft.Insights/diagnosticSettings` (`properties.logs[]` with
    `category` or `categoryGroup` allLogs/audit, and a destination)."""
    want = sorted({c.lower() for c in b.settings.diagnostic_logs or []})
    settings = [d for d in ws.diagnostics or () if d.has_destination]
    sent: set[str] = set()
    all_logs = False
    for d in settings:
        sent |= d.categories
        all_logs = all_logs or "alllogs" in d.category_groups
    if not settings:
        yield Violation("No diagnostic setting sends workspace logs anywhere.", expected=want, actual=[])
        return
    missing = [] if all_logs else [c for c in want if c not in sent]
    if missing:
        yield Violation(f"Diagnostic settings do not send: {', '.join(missing)}.", expected=want,
                        actual=sorted(sent))


def _same_setting(name: str, actual: str | None, want: str | None) -> Iterator[Violation]:
    """String properties compare case-insensitively, as ARM treats these enum values."""
    if (actual or "").lower() != (want or "").lower():
        yield Violation(f"{name} is {actual or 'unset'}, baseline requires {want}.", expected=want, actual=actual)


def _fmt(v: bool | None) -> str:
    return "absent" if v is None else str(v).lower()


def _enabled(v: bool | None) -> str:
    return "absent" if v is None else ("Enabled" if v else "Disabled")

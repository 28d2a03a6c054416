"""Build WorkspaceState from raw ARM documents and workspace-API payloads.

Real ARM is messy and this module accepts it: `parameters` may be null or lack keys, values come
wrapped as `{"type": ..., "value": ...}` (or bare), booleans may be strings, locations come as
display or canonical names, ids differ in casing between documents, and a subnet may be embedded
in its VNet or stand alone. Anything else malformed raises StateError naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.arm_ids import arm_fold, parse_arm_id, same_arm_id
from core.baseline.model import canonical_location, parse_cidr
from core.errors import InputError
from core.state.footprint import subnet_ids
from core.state.model import (
    AccessConnectorState,
    CmkKeyState,
    CollectionError,
    DiagnosticSetting,
    EnhancedSecurityState,
    IpAccessEntry,
    IpAccessList,
    ManagementLock,
    NetworkState,
    NsgRule,
    NsgState,
    PrivateEndpointConnection,
    SubnetState,
    TokenInfo,
    WorkspaceApiState,
    WorkspaceArm,
    WorkspaceState,
)

DATABRICKS_DELEGATION = "microsoft.databricks/workspaces"

Lookup = Callable[[str], Mapping[str, Any] | None]
"""Resolve an ARM id (any casing) to its document, or None when it does not exist."""


class StateError(InputError):
    """A payload that cannot be understood; names the resource and field."""


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any, where: str) -> list[Any] | tuple[Any, ...]:
    """A JSON array field; absent/null is empty, anything else (a number, a string, an object) is malformed."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return value
    raise StateError(f"{where}: expected a list, got {type(value).__name__}")


def _param(params: Mapping[str, Any], name: str) -> Any:
    """`parameters.X` arrives as {"type": "Bool", "value": true} or, from some tools, bare."""
    for key, value in params.items():
        if key.lower() == name.lower():
            if isinstance(value, Mapping) and "value" in value:
                return value["value"]
            return value
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "enabled", "yes", "1"):
            return True
        if v in ("false", "disabled", "no", "0"):
            return False
    if isinstance(value, int):
        return bool(value)
    return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    return str(value)


def _get_ci(mapping: Mapping[str, Any], key: str) -> Any:
    if key in mapping:
        return mapping[key]
    lk = key.lower()
    for k, v in mapping.items():
        if k.lower() == lk:
            return v
    return None


def _enabled_value(section: Any) -> bool | None:
    """enhancedSecurityCompliance.* carry {"value": "Enabled" | "Disabled"}."""
    if isinstance(section, Mapping):
        return as_bool(section.get("value"))
    return as_bool(section)


def _keyvault(entity: Any) -> bool:
    src = _str(_get_ci(_obj(entity), "keySource"))
    return bool(src) and src.lower() == "microsoft.keyvault"  # type: ignore[union-attr]


def parse_workspace_arm(doc: Mapping[str, Any]) -> WorkspaceArm:
    rid = _str(doc.get("id")) or "(unknown id)"
    props = doc.get("properties")
    if props is not None and not isinstance(props, Mapping):
        raise StateError(f"{rid}: properties: expected an object, got {type(props).__name__}")
    props = _obj(props)
    params = _obj(props.get("parameters"))
    location_display = _str(doc.get("location")) or ""
    pecs = []
    for pec in _list(props.get("privateEndpointConnections"), f"{rid}: properties.privateEndpointConnections"):
        if not isinstance(pec, Mapping):
            continue
        state = _obj(_obj(pec.get("properties")).get("privateLinkServiceConnectionState"))
        pecs.append(PrivateEndpointConnection(
            id=_str(pec.get("id")), status=_str(state.get("status")),
            private_endpoint_id=_ref_id(_obj(pec.get("properties")).get("privateEndpoint"))))
    entities = _obj(_obj(props.get("encryption")).get("entities"))
    esc = _obj(props.get("enhancedSecurityCompliance"))
    dbfs_enc = _obj(_param(params, "encryption"))
    connector = _obj(props.get("accessConnector"))
    disk = _obj(_get_ci(entities, "managedDisk"))
    csp = _obj(esc.get("complianceSecurityProfile"))
    standards = _list(csp.get("complianceStandards"),
                      f"{rid}: properties.enhancedSecurityCompliance.complianceSecurityProfile.complianceStandards")
    return WorkspaceArm(
        sku=(_str(_obj(doc.get("sku")).get("name")) or "").lower() or None,
        location=canonical_location(location_display),
        location_display=location_display,
        no_public_ip=as_bool(_param(params, "enableNoPublicIp")),
        public_network_access=_str(props.get("publicNetworkAccess")),
        required_nsg_rules=_str(props.get("requiredNsgRules")),
        private_endpoint_connections=tuple(pecs),
        vnet_id=_str(_param(params, "customVirtualNetworkId")),
        public_subnet_name=_str(_param(params, "customPublicSubnetName")),
        private_subnet_name=_str(_param(params, "customPrivateSubnetName")),
        cmk_managed_services=_keyvault(_get_ci(entities, "managedServices")),
        cmk_managed_disk=_keyvault(_get_ci(entities, "managedDisk")),
        cmk_dbfs_root=_keyvault(dbfs_enc),
        infrastructure_encryption=as_bool(_param(params, "requireInfrastructureEncryption")),
        enhanced_security=EnhancedSecurityState(
            compliance_security_profile=_enabled_value(esc.get("complianceSecurityProfile")),
            enhanced_security_monitoring=_enabled_value(esc.get("enhancedSecurityMonitoring")),
            automatic_cluster_update=_enabled_value(esc.get("automaticClusterUpdate")),
        ),
        workspace_url=_str(props.get("workspaceUrl")),
        provisioning_state=_str(props.get("provisioningState")),
        access_connector_id=_str(connector.get("id")),
        access_connector_identity_type=_str(connector.get("identityType")),
        default_storage_firewall=_str(props.get("defaultStorageFirewall")),
        cmk_keys=_cmk_keys(entities, dbfs_enc),
        managed_disk_auto_rotation=as_bool(disk.get("rotationToLatestKeyVersionEnabled")),
        compliance_standards=(tuple(str(x) for x in standards if _str(x))
                              if csp.get("complianceStandards") is not None else None),
        compute_mode=_compute_mode(rid, props.get("computeMode")),
        is_uc_enabled=as_bool(props.get("isUcEnabled")),
    )


def _cmk_keys(entities: Mapping[str, Any], dbfs_enc: Mapping[str, Any]) -> dict[str, CmkKeyState]:
    """Key Vault keys per entity: `encryption.entities.{managedServices,managedDisk}.keyVaultProperties.
    {keyVaultUri,keyName}` and the DBFS root's `parameters.encryption.value.{keyvaulturi,KeyName}` (the
    spec's own casing, 2026-01-01 databricks.json `Encryption`); only entities whose keySource is Key Vault."""
    out: dict[str, CmkKeyState] = {}
    for entity, key in (("managed_services", "managedServices"), ("managed_disk", "managedDisk")):
        doc = _get_ci(entities, key)
        if _keyvault(doc):
            kv = _obj(_get_ci(_obj(doc), "keyVaultProperties"))
            out[entity] = CmkKeyState(key_vault_uri=_str(_get_ci(kv, "keyVaultUri")),
                                      key_name=_str(_get_ci(kv, "keyName")))
    if _keyvault(dbfs_enc):
        out["dbfs_root"] = CmkKeyState(key_vault_uri=_str(_get_ci(dbfs_enc, "keyvaulturi")),
                                       key_name=_str(_get_ci(dbfs_enc, "KeyName")))
    return out


COMPUTE_MODES = ("Serverless", "Hybrid")
"""azure-rest-api-specs specification/databricks/resource-manager/Microsoft.Databricks/Databricks/stable/
2026-01-01/databricks.json, `ComputeMode`: "Required on create, cannot be changed"."""


def _compute_mode(rid: str, value: Any) -> str:
    """Absent (api-versions before 2026-01-01 have no such property) means classic (`Hybrid`)."""
    text = _str(value)
    if text is None:
        return "Hybrid"
    for mode in COMPUTE_MODES:
        if text.lower() == mode.lower():
            return mode
    raise StateError(f"{rid}: properties.computeMode: expected one of {', '.join(COMPUTE_MODES)}, got {text!r}")


def _prefixes(props: Mapping[str, Any], single: str, plural: str, where: str) -> tuple[str, ...]:
    out: list[str] = []
    one = _str(props.get(single))
    if one:
        out.append(one)
    for p in _list(props.get(plural), f"{where}: properties.{plural}"):
        s = _str(p)
        if s:
            out.append(s)
    return tuple(out)


def parse_nsg_rule(doc: Mapping[str, Any]) -> NsgRule:
    props = _obj(doc.get("properties"))
    priority = props.get("priority")
    where = _str(doc.get("id")) or _str(doc.get("name")) or "(NSG rule)"
    return NsgRule(
        id=_str(doc.get("id")),
        name=_str(doc.get("name")) or "",
        direction=_str(props.get("direction")) or "",
        access=_str(props.get("access")) or "",
        protocol=_str(props.get("protocol")) or "*",
        priority=priority if isinstance(priority, int) else None,
        source_prefixes=_prefixes(props, "sourceAddressPrefix", "sourceAddressPrefixes", where),
        destination_prefixes=_prefixes(props, "destinationAddressPrefix", "destinationAddressPrefixes", where),
        destination_ports=_prefixes(props, "destinationPortRange", "destinationPortRanges", where),
    )


def parse_nsg(nsg_id: str, doc: Mapping[str, Any] | None) -> NsgState:
    if doc is None:
        return NsgState(id=nsg_id, name=nsg_id.rsplit("/", 1)[-1], found=False)
    rules = tuple(parse_nsg_rule(r) for r in _list(_obj(doc.get("properties")).get("securityRules"),
                                                   f"{nsg_id}: properties.securityRules")
                  if isinstance(r, Mapping))
    return NsgState(id=_str(doc.get("id")) or nsg_id, name=_str(doc.get("name")) or "", found=True, rules=rules)


def _ref_id(value: Any) -> str | None:
    return _str(_obj(value).get("id"))


def _find_subnet(vnet_doc: Mapping[str, Any] | None, subnet_id: str, name: str,
                 lookup: Lookup) -> Mapping[str, Any] | None:
    standalone = lookup(subnet_id)
    if standalone is not None:
        return standalone
    if vnet_doc is None:
        return None
    vnet_id = _str(vnet_doc.get("id")) or subnet_id.rsplit("/", 2)[0]
    for sub in _list(_obj(vnet_doc.get("properties")).get("subnets"), f"{vnet_id}: properties.subnets"):
        if isinstance(sub, Mapping) and (_str(sub.get("name")) or "").lower() == name.lower():
            return sub
    return None


def parse_subnet(subnet_id: str, name: str, role: str, doc: Mapping[str, Any] | None,
                 shared_with: Iterable[str] = ()) -> SubnetState:
    if doc is None:
        return SubnetState(id=subnet_id, name=name, role=role, found=False)
    props = _obj(doc.get("properties"))
    delegations = tuple(
        (_str(_obj(d.get("properties")).get("serviceName")) or "")
        for d in _list(props.get("delegations"), f"{subnet_id}: properties.delegations")
        if isinstance(d, Mapping)
    )
    return SubnetState(
        id=_str(doc.get("id")) or subnet_id,
        name=name,
        role=role,
        found=True,
        address_prefixes=_prefixes(props, "addressPrefix", "addressPrefixes", subnet_id),
        delegations=delegations,
        nsg_id=_ref_id(props.get("networkSecurityGroup")),
        nat_gateway_id=_ref_id(props.get("natGateway")),
        route_table_id=_ref_id(props.get("routeTable")),
        shared_with=tuple(shared_with),
    )


def build_network(arm: WorkspaceArm, workspace_id: str, lookup: Lookup,
                  subnet_users: Mapping[str, Iterable[str]] | None = None,
                  nsg_cache: dict[str, NsgState] | None = None) -> NetworkState | None:
    """The VNet, both subnets and every NSG on them; None when the workspace is not injected."""
    if not arm.vnet_id:
        return None
    vnet_doc = lookup(arm.vnet_id)
    subnets = []
    for sid, name, role in subnet_ids(arm):
        users = (subnet_users or {}).get(arm_fold(sid), ())
        others = sorted({u for u in users if not same_arm_id(u, workspace_id)})
        subnets.append(parse_subnet(sid, name, role, _find_subnet(vnet_doc, sid, name, lookup), others))
    nsgs: dict[str, NsgState] = {}
    for sub in subnets:
        key = arm_fold(sub.nsg_id or "")
        if key and key not in nsgs:
            cached = nsg_cache.get(key) if nsg_cache is not None else None
            if cached is None:
                cached = parse_nsg(sub.nsg_id or "", lookup(key))
                if nsg_cache is not None:
                    nsg_cache[key] = cached  # NSGs are shared: parse each once per estate
            nsgs[key] = cached
    return NetworkState(vnet_id=arm.vnet_id, vnet_found=vnet_doc is not None, subnets=tuple(subnets),
                        nsgs=tuple(nsgs.values()))


def parse_diagnostic_setting(doc: Mapping[str, Any]) -> DiagnosticSetting:
    props = _obj(doc.get("properties"))
    cats: set[str] = set()
    groups: set[str] = set()
    for log in _list(props.get("logs"), f"{_str(doc.get('id')) or '(diagnostic setting)'}: properties.logs"):
        if not isinstance(log, Mapping) or as_bool(log.get("enabled")) is False:
            continue
        if _str(log.get("category")):
            cats.add(str(log["category"]).lower())
        if _str(log.get("categoryGroup")):
            groups.add(str(log["categoryGroup"]).lower())
    dest = any(props.get(k) for k in ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId",
                                      "eventHubName", "marketplacePartnerId"))
    return DiagnosticSetting(id=_str(doc.get("id")), name=_str(doc.get("name")) or "",
                             categories=frozenset(cats), category_groups=frozenset(groups), has_destination=dest,
                             workspace_id=_str(props.get("workspaceId")),
                             storage_account_id=_str(props.get("storageAccountId")),
                             event_hub_authorization_rule_id=_str(props.get("eventHubAuthorizationRuleId")),
                             event_hub_name=_str(props.get("eventHubName")))


LOCKS_MARKER = "/providers/microsoft.authorization/locks/"


def parse_access_connector(connector_id: str, doc: Mapping[str, Any] | None) -> AccessConnectorState:
    """`properties.provisioningState`, `properties.referedBy` and `identity.type` of an access connector
    (azure-rest-api-specs .../Databricks/stable/2026-01-01/accessconnector.json, example AccessConnectorGet.json)."""
    if doc is None:
        return AccessConnectorState(id=connector_id, found=False)
    props = _obj(doc.get("properties"))
    refs = _list(props.get("referedBy"), f"{connector_id}: properties.referedBy")
    return AccessConnectorState(id=_str(doc.get("id")) or connector_id, found=True,
                                provisioning_state=_str(props.get("provisioningState")),
                                identity_type=_str(_obj(doc.get("identity")).get("type")),
                                refered_by=tuple(r for r in (_str(x) for x in refs) if r))


def parse_locks(items: Iterable[Any], where: str) -> tuple[ManagementLock, ...]:
    """Lock objects (`id`, `name`, `properties.level`) of a locks list; the scope is read from the id."""
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise StateError(f"{where}: value[{i}]: expected an object, got {type(item).__name__}")
        lid = _str(item.get("id"))
        if not lid or LOCKS_MARKER not in lid.lower():
            raise StateError(f"{where}: value[{i}].id: not a Microsoft.Authorization/locks id ({lid!r})")
        at = lid.lower().rindex(LOCKS_MARKER)
        out.append(ManagementLock(id=lid, name=_str(item.get("name")) or lid.rsplit("/", 1)[-1],
                                  level=_str(_obj(item.get("properties")).get("level")) or "NotSpecified",
                                  scope=lid[:at]))
    return tuple(out)


def parse_dns_zone_groups(items: Iterable[Any], where: str) -> tuple[str, ...]:
    """Private DNS zone ids of a private endpoint's zone groups (`properties.privateDnsZoneConfigs[].
    properties.privateDnsZoneId`; Network PrivateEndpointDnsZoneGroupList.json example)."""
    zones: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise StateError(f"{where}: value[{i}]: expected an object, got {type(item).__name__}")
        configs = _list(_obj(item.get("properties")).get("privateDnsZoneConfigs"),
                        f"{where}: value[{i}].properties.privateDnsZoneConfigs")
        for c in configs:
            zone = _str(_obj(_obj(c).get("properties")).get("privateDnsZoneId"))
            if zone:
                zones.append(zone)
    return tuple(zones)


def _entries(addresses: Any, where: str) -> tuple[IpAccessEntry, ...]:
    out = []
    for raw in _list(addresses, where):
        text = _str(raw) or ""
        try:
            net = parse_cidr(text)
        except ValueError:
            net = None
        out.append(IpAccessEntry(raw=text, network=net))
    return tuple(out)


def parse_workspace_api(conf: Mapping[str, Any] | None, ip_lists: Iterable[Any] | None,
                        tokens: Iterable[Any] | None, where: str = "workspace API",
                        unsupported_conf_keys: Iterable[str] = ()) -> WorkspaceApiState:
    if conf is not None and not isinstance(conf, Mapping):
        raise StateError(f"{where}: workspace_conf: expected an object, got {type(conf).__name__}")
    lists = []
    for i, item in enumerate(_list(ip_lists, f"{where}: ip_access_lists")):
        if not isinstance(item, Mapping):
            raise StateError(f"{where}: ip_access_lists[{i}]: expected an object, got {type(item).__name__}")
        if (_str(item.get("list_type")) or "").upper() not in ("ALLOW", "BLOCK"):
            # The API only stores ALLOW or BLOCK lists: anything else is not an IP access list document.
            raise StateError(f"{where}: ip_access_lists[{i}].list_type: expected ALLOW or BLOCK, "
                             f"got {str(item.get('list_type'))[:40]!r}")
        lists.append(IpAccessList(
            list_id=_str(item.get("list_id")),
            label=_str(item.get("label")),
            list_type=(_str(item.get("list_type")) or "").upper(),
            enabled=as_bool(item.get("enabled")) is not False,
            entries=_entries(item.get("ip_addresses"), f"{where}: ip_access_lists[{i}].ip_addresses"),
        ))
    toks = []
    for i, item in enumerate(_list(tokens, f"{where}: tokens")):
        if not isinstance(item, Mapping) or not _str(item.get("token_id")):
            raise StateError(f"{where}: tokens[{i}]: expected an object with token_id")
        toks.append(TokenInfo(
            token_id=str(item["token_id"]),
            creation_time=_int(item.get("creation_time"), f"{where}: tokens[{i}].creation_time"),
            expiry_time=_int(item.get("expiry_time"), f"{where}: tokens[{i}].expiry_time"),
            created_by=_str(item.get("created_by_username")),
            owner_id=_str(item.get("owner_id")),
            last_used_day=_int(item.get("last_used_day")),
        ))
    conf_norm = {str(k): (None if v is None else str(v).lower() if isinstance(v, bool) else str(v))
                 for k, v in (conf or {}).items()}
    return WorkspaceApiState(conf=conf_norm, ip_access_lists=tuple(lists), tokens=tuple(toks),
                             unsupported_conf_keys=tuple(dict.fromkeys(unsupported_conf_keys)))


_INT64 = 2**63
"""Token times are int64 milliseconds on the wire; anything outside is not a time (and would overflow a float)."""


def _int(value: Any, where: str = "value") -> int | None:
    """A wire integer (ms). JSON numbers may arrive as floats (1.7e12) or strings ("1700000000000", "1.7e12"):
    those are parsed; text that is not a number, NaN/inf and booleans are rejected with StateError, never
    skipped (a skipped creation_time made a 900-day token pass DBX-TOKEN-002). Absent is None; values outside
    int64 are unknown (None), which the rules treat as not compliant."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise StateError(f"{where}: expected a number of milliseconds, got a boolean")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise StateError(f"{where}: expected a number of milliseconds, got {text[:40]!r}") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StateError(f"{where}: expected a number of milliseconds, got {value}")
        if not -_INT64 <= value < _INT64:
            return None
        value = math.floor(value)
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else None
    raise StateError(f"{where}: expected a number of milliseconds, got {type(value).__name__}")


def workspace_identity_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    rid = _str(doc.get("id"))
    if not rid:
        raise StateError("workspace document: id: missing")
    parts = parse_arm_id(rid)
    if not parts.get("subscription") or not parts.get("resource_group") or not parts.get("name"):
        raise StateError(f"{rid}: id: not a workspace resource id")
    tags = {str(k): str(v) for k, v in _obj(doc.get("tags")).items() if v is not None}
    return {"resource_id": rid, "name": _str(doc.get("name")) or parts["name"],
            "subscription_id": parts["subscription"], "resource_group": parts["resource_group"], "tags": tags}


def build_workspace_state(
    doc: Mapping[str, Any],
    lookup: Lookup,
    *,
    diagnostics: Iterable[Mapping[str, Any]] | None,
    workspace_api: WorkspaceApiState | None,
    read_network: bool = True,
    subnet_users: Mapping[str, Iterable[str]] | None = None,
    errors: Iterable[CollectionError] = (),
    arm: WorkspaceArm | None = None,
    nsg_cache: dict[str, NsgState] | None = None,
) -> WorkspaceState:
    """Assemble one workspace's state from its documents; `lookup` resolves VNet/subnet/NSG ids."""
    ident = workspace_identity_fields(doc)
    arm = arm or parse_workspace_arm(doc)
    network = (build_network(arm, ident["resource_id"], lookup, subnet_users, nsg_cache)
               if read_network else None)
    diags = None if diagnostics is None else tuple(parse_diagnostic_setting(d) for d in diagnostics)
    return WorkspaceState(**ident, arm=arm, network=network, diagnostics=diags, workspace_api=workspace_api,
                          errors=tuple(errors))


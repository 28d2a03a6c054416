"""A small realistic estate seed for the emulator tests, and SDK clients pointed at a running emulator."""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy

SUB = "11111111-1111-4111-8111-111111111111"
SUB2 = "22222222-2222-4222-8222-222222222222"
TENANT = "33333333-3333-4333-8333-333333333333"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-data"
WS_ID = f"{RG}/providers/Microsoft.Databricks/workspaces/ws-prod"
VNET_ID = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-dbx"
NSG_ID = f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-dbx"
DIAG_ID = f"{WS_ID}/providers/Microsoft.Insights/diagnosticSettings/to-law"
HOST = "adb-1234567890123456.7.azuredatabricks.net"
HOST2 = "adb-2222222222222222.2.azuredatabricks.net"
WS2_ID = f"/subscriptions/{SUB2}/resourceGroups/rg-dev/providers/Microsoft.Databricks/workspaces/ws-dev"


def _param(kind: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "value": value}


def workspace_doc(resource_id: str, host: str, *, location: str = "westeurope") -> dict[str, Any]:
    """A Databricks workspace as ARM GET returns it (VNet-injected, SCC on)."""
    name = resource_id.rsplit("/", 1)[1]
    sub = resource_id.split("/")[2]
    return {
        "id": resource_id,
        "name": name,
        "type": "Microsoft.Databricks/workspaces",
        "location": location,
        "sku": {"name": "premium"},
        "tags": {"env": "prod", "owner": "data-platform"},
        "properties": {
            "computeMode": "Hybrid",
            "managedResourceGroupId": f"/subscriptions/{sub}/resourceGroups/databricks-rg-{name}",
            "parameters": {
                "customVirtualNetworkId": _param("String", VNET_ID),
                "customPublicSubnetName": _param("String", "snet-host"),
                "customPrivateSubnetName": _param("String", "snet-container"),
                "enableNoPublicIp": _param("Bool", True),
                "prepareEncryption": _param("Bool", False),
                "requireInfrastructureEncryption": _param("Bool", True),
            },
            "provisioningState": "Succeeded",
            "authorizations": [],
            "createdBy": {},
            "updatedBy": {},
            "workspaceId": host.split("-")[1].split(".")[0],
            "workspaceUrl": host,
            "publicNetworkAccess": "Disabled",
            "requiredNsgRules": "NoAzureDatabricksRules",
            "createdDateTime": "2025-03-01T10:00:00.0000000Z",
        },
        "systemData": {"createdBy": "ops@example.com", "createdByType": "User"},
    }


def _subnet(name: str, prefix: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": f"{VNET_ID}/subnets/{name}",
        "etag": 'W/"00000000-0000-0000-0000-000000000001"',
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {
            "provisioningState": "Succeeded",
            "addressPrefix": prefix,
            "networkSecurityGroup": {"id": NSG_ID},
            "delegations": [
                {
                    "name": "databricks-del",
                    "id": f"{VNET_ID}/subnets/{name}/delegations/databricks-del",
                    "properties": {"serviceName": "Microsoft.Databricks/workspaces"},
                    "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
                }
            ],
        },
    }


def _rule(name: str, priority: int, direction: str, source: str, port: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": f"{NSG_ID}/securityRules/{name}",
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": {
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "destinationPortRange": port,
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": "VirtualNetwork",
            "access": "Allow",
            "priority": priority,
            "direction": direction,
            "provisioningState": "Succeeded",
        },
    }


def make_seed() -> dict[str, Any]:
    """Two subscriptions, one VNet-injected workspace with network and diagnostics, one dev workspace."""
    ws = workspace_doc(WS_ID, HOST)
    ws2 = workspace_doc(WS2_ID, HOST2, location="West Europe")
    ws2["tags"] = {"env": "dev"}
    return {
        "schema": "driftwatch.estate/v1",
        "subscriptions": [
            {
                "subscriptionId": SUB,
                "displayName": "Data Platform Prod",
                "state": "Enabled",
                "tenantId": TENANT,
            },
            {"subscriptionId": SUB2, "displayName": "Data Platform Dev", "state": "Enabled"},
        ],
        "resources": [
            ws,
            ws2,
            {
                "id": VNET_ID,
                "name": "vnet-dbx",
                "type": "Microsoft.Network/virtualNetworks",
                "location": "westeurope",
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.10.0.0/16"]},
                    "subnets": [
                        _subnet("snet-host", "10.10.0.0/24"),
                        _subnet("snet-container", "10.10.1.0/24"),
                    ],
                    "provisioningState": "Succeeded",
                },
            },
            {
                "id": NSG_ID,
                "name": "nsg-dbx",
                "type": "Microsoft.Network/networkSecurityGroups",
                "location": "westeurope",
                "properties": {
                    "securityRules": [
                        _rule(
                            "Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-worker-inbound",
                            100,
                            "Inbound",
                            "VirtualNetwork",
                            "*",
                        ),
                        _rule("allow-vendor-ssh", 200, "Inbound", "Internet", "22"),
                    ],
                    "defaultSecurityRules": [],
                    "subnets": [
                        {"id": f"{VNET_ID}/subnets/snet-host"},
                        {"id": f"{VNET_ID}/subnets/snet-container"},
                    ],
                },
            },
            {
                "id": DIAG_ID,
                "name": "to-law",
                "type": "Microsoft.Insights/diagnosticSettings",
                "properties": {
                    "workspaceId": f"{RG}/providers/Microsoft.OperationalInsights/workspaces/law",
                    "logs": [{"category": c, "enabled": True} for c in ("accounts", "clusters", "jobs", "workspace")],
                },
            },
        ],
        "databricks": {
            HOST: {
                "workspace_conf": {"enableIpAccessLists": "true", "maxTokenLifetimeDays": "90"},
                "ip_access_lists": [
                    {
                        "list_id": "8f2a4e2c-0000-4000-8000-000000000001",
                        "label": "office",
                        "list_type": "ALLOW",
                        "ip_addresses": ["203.0.113.0/24", "198.51.100.7/32"],
                        "address_count": 2,
                        "enabled": True,
                        "created_at": 1735689600000,
                        "created_by": 1001,
                        "updated_at": 1735689600000,
                        "updated_by": 1001,
                    }
                ],
                "tokens": [
                    {
                        "token_id": "tok-1",
                        "comment": "ci pipeline",
                        "created_by_id": 1001,
                        "created_by_username": "ci@example.com",
                        "creation_time": 1735689600000,
                        "expiry_time": -1,
                        "owner_id": 1001,
                        "token_value": "dapi-must-never-be-served",
                    }
                ],
            },
            HOST2: {"workspace_conf": {}, "ip_access_lists": [], "tokens": []},
        },
    }


class StaticToken:
    """A TokenCredential that always hands out the same token (the emulator accepts any)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("emulator-token", int(time.time()) + 3600)


class BearerOverHttp(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """azure-core refuses bearer tokens over http; the emulator is http, so set the header directly."""

    def on_request(self, request: Any) -> None:
        request.http_request.headers["Authorization"] = "Bearer emulator-token"



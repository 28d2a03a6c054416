"""The Azure operations driftwatch reacts to: one list shared by the router and the infra.

`infra/` builds the Event Grid advanced filter on `data.operationName` from this module
(a test proves the Bicep filter and this list match), so what Event Grid delivers and what
`core.events` routes cannot drift apart.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "Microsoft.Resources.ResourceWriteSuccess",
    "Microsoft.Resources.ResourceDeleteSuccess",
    "Microsoft.Resources.ResourceActionSuccess",
)

# operationName (case-insensitive) -> the kind of resource it changes.
WORKSPACE_OPERATIONS: tuple[str, ...] = (
    "Microsoft.Databricks/workspaces/write",
    "Microsoft.Databricks/workspaces/delete",
    "Microsoft.Databricks/workspaces/privateEndpointConnections/write",
    "Microsoft.Databricks/workspaces/privateEndpointConnections/delete",
)
NETWORK_OPERATIONS: tuple[str, ...] = (
    "Microsoft.Network/virtualNetworks/write",
    "Microsoft.Network/virtualNetworks/delete",
    "Microsoft.Network/virtualNetworks/subnets/write",
    "Microsoft.Network/virtualNetworks/subnets/delete",
    "Microsoft.Network/networkSecurityGroups/write",
    "Microsoft.Network/networkSecurityGroups/delete",
    "Microsoft.Network/networkSecurityGroups/securityRules/write",
    "Microsoft.Network/networkSecurityGroups/securityRules/delete",
)
DIAGNOSTIC_OPERATIONS: tuple[str, ...] = (
    "Microsoft.Insights/diagnosticSettings/write",
    "Microsoft.Insights/diagnosticSettings/delete",
)
LINKED_OPERATIONS: tuple[str, ...] = (
    "Microsoft.Authorization/locks/write",
    "Microsoft.Authorization/locks/delete",
    "Microsoft.Databricks/accessConnectors/write",
    "Microsoft.Databricks/accessConnectors/delete",
    "Microsoft.Network/privateEndpoints/write",
    "Microsoft.Network/privateEndpoints/delete",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/write",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/delete",
)
"""Resources the workspace names outside itself (DBX-WS-012, DBX-WS-015, DBX-NET-008): routed through the
topology (core/state/footprint.py) to the workspaces that use them."""

AUTHORIZATION_OPERATIONS: tuple[str, ...] = (
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.Authorization/roleAssignments/delete",
)
"""Role assignments on a workspace, its resource group or subscription (DBX-IAM-002)."""

ROUTED_OPERATIONS: tuple[str, ...] = (WORKSPACE_OPERATIONS + NETWORK_OPERATIONS + DIAGNOSTIC_OPERATIONS
                                      + AUTHORIZATION_OPERATIONS + LINKED_OPERATIONS)

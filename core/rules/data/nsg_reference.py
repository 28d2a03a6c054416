"""NSG reference data: the rules Azure Databricks publishes for VNet injection, and Azure's default rules.

Data only (no logic), so a change in the published tables is a change in this one file.
"""

from __future__ import annotations

from typing import NamedTuple


class PublishedRule(NamedTuple):
    """One row of a published NSG rule table. `ports` are destination ports ("*" = any)."""

    direction: str
    access: str
    protocol: str
    source: str
    destination: str
    ports: tuple[str, ...]
    priority: int | None = None


DATABRICKS_VNET_INJECTION_SOURCE = (
    "https://learn.microsoft.com/en-us/azure/databricks/security/network/classic/vnet-inject"
    "#network-security-group-rules"
)
"""Microsoft Learn, "Deploy Azure Databricks in your Azure virtual network (VNet injection)", section
"Network security group rules": the rules Azure Databricks provisions (name prefix
`Microsoft.Databricks-workspaces_UseOnly_`) on the NSG of both delegated subnets. The same rows appear in
the Databricks quickstart templates for VNet injection (azure-quickstart-templates
`quickstarts/microsoft.databricks/databricks-all-in-one-template-for-vnet-injection`)."""

MANAGED_RULE_PREFIX = "Microsoft.Databricks-workspaces_UseOnly_"

DATABRICKS_MANAGED_RULES: dict[str, PublishedRule] = {
    "databricks-worker-to-worker-inbound":
        PublishedRule("Inbound", "Allow", "*", "VirtualNetwork", "VirtualNetwork", ("*",), 100),
    "databricks-worker-to-databricks-webapp":
        PublishedRule("Outbound", "Allow", "Tcp", "VirtualNetwork", "AzureDatabricks",
                      ("443", "3306", "8443-8451"), 100),
    "databricks-worker-to-sql":
        PublishedRule("Outbound", "Allow", "Tcp", "VirtualNetwork", "Sql", ("3306",), 101),
    "databricks-worker-to-storage":
        PublishedRule("Outbound", "Allow", "Tcp", "VirtualNetwork", "Storage", ("443",), 102),
    "databricks-worker-to-worker-outbound":
        PublishedRule("Outbound", "Allow", "*", "VirtualNetwork", "VirtualNetwork", ("*",), 103),
    "databricks-worker-to-eventhub":
        PublishedRule("Outbound", "Allow", "Tcp", "VirtualNetwork", "EventHub", ("9093",), 104),
}
"""Rules on every VNet-injected workspace with `requiredNsgRules: AllRules`."""

DATABRICKS_MANAGED_RULES_WITHOUT_SCC: dict[str, PublishedRule] = {
    "databricks-control-plane-to-worker-ssh":
        PublishedRule("Inbound", "Allow", "Tcp", "AzureDatabricks", "VirtualNetwork", ("22",), 101),
    "databricks-control-plane-to-worker-proxy":
        PublishedRule("Inbound", "Allow", "Tcp", "AzureDatabricks", "VirtualNetwork", ("5557",), 102),
}
"""Only without secure cluster connectivity ("Only if SCC is disabled" in the published table)."""

AZURE_DEFAULT_RULES_SOURCE = (
    "https://learn.microsoft.com/en-us/azure/virtual-network/network-security-groups-overview#default-security-rules"
)
"""Microsoft Learn, "Azure network security groups overview", "Default security rules": every NSG has them,
they cannot be removed, and they are processed after every custom rule (priority 100..4096)."""

AZURE_DEFAULT_INBOUND_RULES: dict[str, PublishedRule] = {
    "AllowVNetInBound": PublishedRule("Inbound", "Allow", "*", "VirtualNetwork", "VirtualNetwork", ("*",), 65000),
    "AllowAzureLoadBalancerInBound":
        PublishedRule("Inbound", "Allow", "*", "AzureLoadBalancer", "0.0.0.0/0", ("*",), 65001),
    "DenyAllInbound": PublishedRule("Inbound", "Deny", "*", "0.0.0.0/0", "0.0.0.0/0", ("*",), 65500),
}

"""What the Microsoft.Network provider enforces on a write of the resources the emulator serves.

Read from azure-rest-api-specs `specification/network/resource-manager/Microsoft.Network/stable/
2024-05-01/networkSecurityGroup.json` and `virtualNetwork.json`:

- PUT of a network security group, a security rule, a virtual network or a subnet is long-running
  (`x-ms-long-running-operation: true`, `final-state-via: azure-async-operation`), answering 201
  (create) or 200 (update) with the resource; PATCH (`*_UpdateTags`) is not. The status URL is the
  provider's location-scoped operation, `/subscriptions/{sub}/providers/Microsoft.Network/locations/
  {region}/operations/{id}` (Microsoft Learn "Track asynchronous Azure operations",
  learn.microsoft.com/azure/azure-resource-manager/management/async-operations).
- `SecurityRulePropertiesFormat` requires `protocol`, `access`, `priority` and `direction`; protocol
  is one of Tcp, Udp, Icmp, Esp, *, Ah; priority is "between 100 and 4096" and "unique for each rule
  in the collection", which the provider applies per direction.

The error codes and messages are the ones Azure answers, as users quote them:
`SecurityRuleInvalidPriority` "Security rule has invalid Priority. Value provided: 0 Allowed range
100-4096." (Azure/azure-rest-api-specs#22546: a rule without priority is read as 0);
`SecurityRuleInvalidProtocol` "Security rule has invalid Protocol. Value provided: ... Allowed values:
Icmp,Tcp,Udp,Esp,Ah,*." (Azure/azure-cli#25181); `SecurityRuleConflict` "Security rule A conflicts
with rule B. Rules cannot have the same Priority and Direction." (Azure/aks-engine#2106,
hashicorp/terraform-provider-azurerm#11137). `SecurityRuleParameterMissing` is the code Azure answers
for a missing rule parameter (Azure/azure-powershell#8371); its message wording here is ours.
"""

from __future__ import annotations

from typing import Any

from emulator.events import provider_and_type
from emulator.http_common import ApiError

LONG_RUNNING_PUT_TYPES = frozenset({
    "microsoft.network/networksecuritygroups",
    "microsoft.network/networksecuritygroups/securityrules",
    "microsoft.network/virtualnetworks",
    "microsoft.network/virtualnetworks/subnets",
})
"""Resource types (lower) whose PUT is a long-running operation in the 2024-05-01 network spec."""

PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "*", "Ah")
ACCESS = ("Allow", "Deny")
DIRECTIONS = ("Inbound", "Outbound")
PRIORITY_RANGE = (100, 4096)

SECURITY_RULE_TYPE = "microsoft.network/networksecuritygroups/securityrules"
NSG_TYPE = "microsoft.network/networksecuritygroups"


def resource_type(path: str) -> str:
    """The lower-cased resource type a path addresses."""
    return provider_and_type(path)[1].lower()


def is_long_running_put(path: str) -> bool:
    return resource_type(path) in LONG_RUNNING_PUT_TYPES


def _bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def check_security_rule(name: str, body: Any) -> dict[str, Any]:
    """The rule's properties when they are valid; the provider's 400 otherwise."""
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise _bad("SecurityRuleParameterMissing", f"Security rule {name} has no properties.")
    for key, allowed in (("access", ACCESS), ("direction", DIRECTIONS)):
        value = props.get(key)
        if value is None:
            raise _bad("SecurityRuleParameterMissing", f"Security rule {name} is missing the parameter {key}.")
        if not isinstance(value, str) or value.lower() not in {a.lower() for a in allowed}:
            raise _bad("InvalidRequestFormat", f"Security rule {name} has invalid {key} '{value}'.")
    protocol = props.get("protocol")
    if not isinstance(protocol, str) or protocol.lower() not in {p.lower() for p in PROTOCOLS}:
        shown = "" if protocol is None else protocol
        raise _bad("SecurityRuleInvalidProtocol", f'Security rule has invalid Protocol. Value provided: "{shown}" '
                   "Allowed values: Icmp,Tcp,Udp,Esp,Ah,*.")
    priority = props.get("priority", 0)
    low, high = PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
        raise _bad("SecurityRuleInvalidPriority",
                   f"Security rule has invalid Priority. Value provided: {priority} Allowed range {low}-{high}.")
    return props


def check_rule_set(rules: list[tuple[str, dict[str, Any]]]) -> None:
    """No two rules of one NSG share a priority and a direction (`SecurityRuleConflict`)."""
    seen: dict[tuple[int, str], str] = {}
    for name, props in rules:
        key = (int(props["priority"]), str(props["direction"]).lower())
        if key in seen and seen[key].lower() != name.lower():
            raise _bad("SecurityRuleConflict",
                       f"Security rule {seen[key]} conflicts with rule {name}. "
                       "Rules cannot have the same Priority and Direction.")
        seen[key] = name


def check_nsg_put(body: dict[str, Any]) -> None:
    """Every embedded security rule of an NSG PUT is valid and none conflict."""
    props = body.get("properties")
    rules = props.get("securityRules") if isinstance(props, dict) else None
    if rules is None:
        return
    if not isinstance(rules, list):
        raise _bad("InvalidRequestFormat", "properties.securityRules must be an array.")
    checked = []
    for i, rule in enumerate(rules):
        name = rule.get("name") if isinstance(rule, dict) else None
        if not isinstance(name, str) or not name:
            raise _bad("InvalidRequestFormat", f"properties.securityRules[{i}] has no name.")
        checked.append((name, check_security_rule(name, rule)))
    check_rule_set(checked)


def check_rule_put(nsg: dict[str, Any], name: str, body: Any) -> None:
    """A security-rule PUT is valid on its own and against the NSG's other rules."""
    props = check_security_rule(name, body)
    others: list[tuple[str, dict[str, Any]]] = []
    for rule in (nsg.get("properties") or {}).get("securityRules") or []:
        if isinstance(rule, dict) and str(rule.get("name", "")).lower() != name.lower():
            other = rule.get("properties")
            if isinstance(other, dict) and isinstance(other.get("priority"), int) and other.get("direction"):
                others.append((str(rule["name"]), other))
    check_rule_set([*others, (name, props)])

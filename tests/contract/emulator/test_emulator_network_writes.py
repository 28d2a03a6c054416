"""Network writes as the Microsoft.Network provider answers them (emulator/network_rules.py).

Sources: azure-rest-api-specs `specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/
networkSecurityGroup.json` (SecurityRules_CreateOrUpdate and NetworkSecurityGroups_CreateOrUpdate:
`x-ms-long-running-operation`, `final-state-via: azure-async-operation`; `SecurityRulePropertiesFormat`
requires protocol, access, priority, direction) and `virtualNetwork.json`; the provider's error codes as
users quote them (Azure/azure-rest-api-specs#22546, Azure/azure-cli#25181, Azure/aks-engine#2106). The
poller is azure-core's own `ARMPolling`, through azure-mgmt-resource's `begin_create_or_update_by_id`.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.mgmt.resource.resources import ResourceManagementClient

from emulator.server import EmulatorServer

AUTH = {"Authorization": "Bearer test"}
NET = {"api-version": "2024-05-01"}


def _rule(priority: int | None = 310, **over: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"protocol": "Tcp", "access": "Allow", "direction": "Inbound",
                             "sourceAddressPrefix": "*", "sourcePortRange": "*",
                             "destinationAddressPrefix": "*", "destinationPortRange": "22"}
    if priority is not None:
        props["priority"] = priority
    props.update(over)
    return {"properties": props}


def _put(server: EmulatorServer, rid: str, body: dict[str, Any]) -> requests.Response:
    return requests.put(server.url + rid, params=NET, headers=AUTH, json=body, timeout=10)


@pytest.mark.parametrize(("body", "code"), [
    (_rule(protocol=None), "SecurityRuleInvalidProtocol"),
    (_rule(protocol="HTTP"), "SecurityRuleInvalidProtocol"),
    (_rule(priority=None), "SecurityRuleInvalidPriority"),
    (_rule(priority=50), "SecurityRuleInvalidPriority"),
    (_rule(priority=4097), "SecurityRuleInvalidPriority"),
    (_rule(access=None), "SecurityRuleParameterMissing"),
    (_rule(direction="Sideways"), "InvalidRequestFormat"),
])
def test_a_security_rule_the_provider_refuses_is_refused(emulator: EmulatorServer, ids: Any,
                                                          body: dict[str, Any], code: str) -> None:
    if body["properties"].get("protocol", "x") is None:
        del body["properties"]["protocol"]
    if body["properties"].get("access", "x") is None:
        del body["properties"]["access"]
    rid = f"{ids.NSG_ID}/securityRules/bad-rule"
    r = _put(emulator, rid, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert requests.get(emulator.url + rid, params=NET, headers=AUTH, timeout=10).status_code == 404
    assert emulator.events() == []  # nothing was written, so nothing is reported


def test_same_priority_and_direction_conflicts_other_direction_does_not(emulator: EmulatorServer, ids: Any) -> None:
    nsg = requests.get(emulator.url + ids.NSG_ID, params=NET, headers=AUTH, timeout=10).json()
    taken = next(r for r in nsg["properties"]["securityRules"] if r["properties"]["direction"] == "Inbound")
    prio = taken["properties"]["priority"]
    r = _put(emulator, f"{ids.NSG_ID}/securityRules/clash", _rule(prio))
    assert r.status_code == 400 and r.json()["error"]["code"] == "SecurityRuleConflict"
    assert f"Security rule {taken['name']} conflicts with rule clash." in r.json()["error"]["message"]
    ok = _put(emulator, f"{ids.NSG_ID}/securityRules/outbound-twin", _rule(prio, direction="Outbound"))
    assert ok.status_code in (200, 201), ok.text  # priorities are unique per direction only
    again = _put(emulator, f"{ids.NSG_ID}/securityRules/{taken['name']}", {"properties": taken["properties"]})
    assert again.status_code == 200  # a rule never conflicts with itself


def test_network_put_is_a_long_running_operation_the_sdk_poller_follows(seed: Any, ids: Any, arm_client: Any) -> None:
    with EmulatorServer(seed, lro_delay_s=0.3) as server:
        rid = f"{ids.NSG_ID}/securityRules/allow-ssh-lro"
        r = _put(server, rid, _rule(320))
        assert r.status_code == 201
        status_url = r.headers["Azure-AsyncOperation"]
        assert "/providers/Microsoft.Network/locations/" in status_url and "/operations/" in status_url
        assert r.json()["properties"]["provisioningState"] == "Updating"
        # ARM shows the write at once; the operation settles it.
        seen = requests.get(server.url + rid, params=NET, headers=AUTH, timeout=10).json()
        assert seen["properties"]["provisioningState"] == "Updating"
        assert requests.get(status_url, headers=AUTH, timeout=10).json() == {"status": "InProgress"}

        client: ResourceManagementClient = arm_client(server)
        poller = client.resources.begin_create_or_update_by_id(
            f"{ids.NSG_ID}/securityRules/allow-ssh-sdk", _rule(330), api_version="2024-05-01", polling_interval=0.05)
        done = poller.result(timeout=10)
        assert done.properties["provisioningState"] == "Succeeded"
        assert requests.get(status_url, headers=AUTH, timeout=10).json() == {"status": "Succeeded"}
        unknown = status_url.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000?api-version=2024-05-01"
        assert requests.get(unknown, headers=AUTH, timeout=10).status_code == 404


def test_an_nsg_put_checks_every_embedded_rule(emulator: EmulatorServer, ids: Any) -> None:
    nsg = requests.get(emulator.url + ids.NSG_ID, params=NET, headers=AUTH, timeout=10).json()
    body = {"location": nsg["location"], "properties": {"securityRules": [
        {"name": "a", **_rule(400)}, {"name": "b", **_rule(400)}]}}
    r = _put(emulator, ids.NSG_ID, body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "SecurityRuleConflict"
    body["properties"]["securityRules"][1]["properties"]["priority"] = 401
    r = _put(emulator, ids.NSG_ID, body)
    assert r.status_code == 200 and r.json()["properties"]["provisioningState"] == "Succeeded"
    assert r.headers["Azure-AsyncOperation"]


def test_a_rule_under_a_missing_nsg_is_arms_parent_not_found(emulator: EmulatorServer, ids: Any) -> None:
    """ARM answers a nested resource without its parent with ParentResourceNotFound and "Can not perform
    requested operation on nested resource. Parent resource '<name>' not found." (Microsoft Learn,
    azure-resource-manager/troubleshooting/error-parent-resource; served by emulator/arm_state.py)."""
    missing = ids.NSG_ID.rsplit("/", 1)[0] + "/nsg-gone/securityRules/r"
    r = _put(emulator, missing, _rule(300))
    assert r.status_code == 404 and r.json()["error"]["code"] == "ParentResourceNotFound"
    assert r.json()["error"]["message"] == ("Can not perform requested operation on nested resource. "
                                            "Parent resource 'nsg-gone' not found.")

"""Hypothesis strategies for hostile input: Event Grid / CloudEvents deliveries, ARM documents,
workspace-API payloads, baselines, queue messages and `/api/findings` query strings.

Each family has a valid form, a subtly broken form and a hostile form (wrong types everywhere, huge
strings, unicode, odd casing, `..` and `%2f` in ids). Strategies that know what they broke return the
field path an error message must name.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

from core.catalogue import RULE_IDS
from samples import factory as f

# -- scalars -------------------------------------------------------------------------------------------

SUB = "1b0c4e2a-1111-4c1e-9a51-2f6a0c9d7e01"

odd_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(["", " ", "..", "%2f", "%2F..%2f", "../..", "İstanbul", "ß", "ǅ", "K", "\u0130\u0131",
                     "\x00", "\u202e", "\ud800", "null", "true", "NaN", "' or 1 eq 1 or '", "<script>", "=cmd|calc"]),
)
huge_text = st.integers(10_000, 200_000).map(lambda n: "x" * n)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                         st.floats(allow_nan=False, allow_infinity=False), odd_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(odd_text, children, max_size=4),
    max_leaves=12,
)
wrong_type = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                       st.lists(json_scalars, max_size=3), st.dictionaries(odd_text, json_scalars, max_size=3),
                       odd_text)


def _case(s: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flips[i % len(flips)] else c.lower() for i, c in enumerate(s)) if flips else s


odd_casing = st.lists(st.booleans(), min_size=1, max_size=8)
segment = st.one_of(st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True), odd_text.filter(bool),
                    st.sampled_from(["..", "%2f", "a%2Fb", "x/../y", "İİ", "ws.", "-"]))


@st.composite
def arm_ids(draw: st.DrawFn) -> str:
    """ARM ids of the kinds routing cares about, in odd casing, sometimes with path tricks in the names."""
    sub = draw(st.sampled_from([SUB, SUB.upper(), "%2f", "..", "x"]))
    rg, name, child = draw(segment), draw(segment), draw(segment)
    kind = draw(st.sampled_from([
        "Microsoft.Databricks/workspaces/{n}",
        "Microsoft.Databricks/workspaces/{n}/privateEndpointConnections/{c}",
        "Microsoft.Databricks/workspaces/{n}/providers/Microsoft.Insights/diagnosticSettings/{c}",
        "Microsoft.Databricks/workspaces/{n}/virtualNetworkPeerings/{c}",
        "Microsoft.Network/virtualNetworks/{n}",
        "Microsoft.Network/virtualNetworks/{n}/subnets/{c}",
        "Microsoft.Network/networkSecurityGroups/{n}",
        "Microsoft.Network/networkSecurityGroups/{n}/securityRules/{c}",
        "Microsoft.Network/networkSecurityGroups/{n}/securityRules/{c}/extra/{c}",
        "Microsoft.Storage/storageAccounts/{n}",
    ]))
    rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/" + kind.format(n=name, c=child)
    return _case(rid, draw(odd_casing)) if draw(st.booleans()) else rid


# -- Event Grid / CloudEvents ---------------------------------------------------------------------------

EVENT_TYPES = ["Microsoft.Resources.ResourceWriteSuccess", "Microsoft.Resources.ResourceDeleteSuccess",
               "Microsoft.Resources.ResourceActionSuccess", "Microsoft.Resources.ResourceWriteFailure",
               "Microsoft.EventGrid.SubscriptionValidationEvent", "MICROSOFT.RESOURCES.RESOURCEWRITESUCCESS"]
OPERATIONS = ["Microsoft.Databricks/workspaces/write", "Microsoft.Databricks/workspaces/delete",
              "Microsoft.Network/networkSecurityGroups/securityRules/write",
              "Microsoft.Network/virtualNetworks/subnets/write", "microsoft.insights/diagnosticSettings/WRITE",
              "Microsoft.Storage/storageAccounts/write", ""]


@st.composite
def event_data(draw: st.DrawFn, rid: str) -> dict[str, Any]:
    return {"resourceUri": rid, "operationName": draw(st.sampled_from(OPERATIONS) | odd_text),
            "status": draw(st.sampled_from(["Succeeded", "succeeded", "Failed", ""])),
            "subscriptionId": SUB, "tenantId": f.TENANT}


def _valid_id(text: str) -> bool:
    """A usable event id: not blank and valid Unicode (a lone surrogate is rejected by design, issue 10 §7)."""
    return bool(text.strip()) and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@st.composite
def eventgrid_events(draw: st.DrawFn) -> dict[str, Any]:
    rid = draw(arm_ids())
    return {"id": draw(st.uuids().map(str) | odd_text.filter(_valid_id)), "eventType": draw(st.sampled_from(EVENT_TYPES)),
            "subject": rid, "topic": f"/subscriptions/{SUB}", "eventTime": "2026-11-26T12:00:00Z",
            "dataVersion": "2", "metadataVersion": "1", "data": draw(event_data(rid))}


@st.composite
def cloudevents(draw: st.DrawFn) -> dict[str, Any]:
    rid = draw(arm_ids())
    return {"specversion": "1.0", "id": draw(st.uuids().map(str) | odd_text.filter(_valid_id)),
            "type": draw(st.sampled_from(EVENT_TYPES)), "source": f"/subscriptions/{SUB}", "subject": rid,
            "time": "2026-11-26T12:00:00Z", "data": draw(event_data(rid))}


valid_events = st.one_of(eventgrid_events(), cloudevents())

EVENT_KEYS = ["id", "eventType", "type", "subject", "topic", "source", "data", "specversion", "eventTime", "time"]
DATA_KEYS = ["resourceUri", "operationName", "status", "subscriptionId"]


@st.composite
def broken_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one to three fields dropped or replaced by a value of the wrong type."""
    ev = copy.deepcopy(draw(valid_events))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(EVENT_KEYS + [f"data.{k}" for k in DATA_KEYS]))
        target = ev
        if key.startswith("data."):
            if not isinstance(ev.get("data"), dict):
                continue
            target, key = ev["data"], key[5:]
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(wrong_type | st.sampled_from(["1.1", "0.3", "", "   "]))
    return ev


@st.composite
def hostile_events(draw: st.DrawFn) -> Any:
    """Wrong types everywhere, huge strings, arbitrary JSON."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(json_values)
    if kind == 1:
        return {k: draw(wrong_type) for k in draw(st.lists(st.sampled_from(EVENT_KEYS), max_size=8, unique=True))}
    ev = copy.deepcopy(draw(valid_events))
    key = draw(st.sampled_from(["id", "subject", "eventType" if "eventType" in ev else "type"]))
    if kind == 2:
        ev[key] = draw(huge_text)
    else:
        ev["data"]["resourceUri"] = ev["subject"] = draw(huge_text.map(lambda t: f"/subscriptions/{SUB}/{t}"))
    return ev


any_event = st.one_of(valid_events, broken_events(), hostile_events())
deliveries = st.one_of(st.lists(any_event, max_size=6), any_event)


# -- ARM documents --------------------------------------------------------------------------------------

RG = "rg-fuzz"
VNET_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet-fuzz"
NSG_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-fuzz"
WS_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Databricks/workspaces/dbw-fuzz"
WS_HOST = "adb-0000000000009999.9.azuredatabricks.net"


def wrapped(value: Any) -> dict[str, Any]:
    return {"type": "String", "value": value}


@st.composite
def param_value(draw: st.DrawFn, good: Any) -> Any:
    """A `parameters.X` entry: wrapped, bare, wrapped garbage, nested garbage, or a wrapper without value."""
    return draw(st.sampled_from([
        wrapped(good), good, wrapped(draw(wrong_type)), draw(wrong_type), {"type": "Bool"},
        {"value": {"value": good}}, draw(json_values),
    ]))


@st.composite
def messy_parameters(draw: st.DrawFn) -> Any:
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return None
    if shape == 1:
        return draw(wrong_type)
    goods = {"enableNoPublicIp": True, "customVirtualNetworkId": VNET_ID, "customPublicSubnetName": "host",
             "customPrivateSubnetName": "container", "requireInfrastructureEncryption": "true",
             "encryption": {"KeySource": "Microsoft.Keyvault"}, "prepareEncryption": True}
    out: dict[str, Any] = {}
    for key, good in goods.items():
        if draw(st.integers(0, 4)) == 0:
            continue  # missing
        name = _case(key, draw(odd_casing)) if draw(st.booleans()) else key
        out[name] = draw(param_value(good))
    if draw(st.booleans()):
        out.update(draw(st.dictionaries(odd_text, json_values, max_size=3)))
    return out


def _maybe(draw: st.DrawFn, good: Any) -> Any:
    """Mostly the good value, sometimes a wrong type, sometimes absent (the sentinel `...`)."""
    n = draw(st.integers(0, 9))
    return good if n < 6 else (... if n == 6 else draw(wrong_type))


def _set(d: dict[str, Any], key: str, value: Any) -> None:
    if value is not ...:
        d[key] = value


def absent(value: Any) -> Any:
    """Drop the `...` (absent) sentinels `_maybe` leaves inside nested literals."""
    if isinstance(value, dict):
        return {k: absent(v) for k, v in value.items() if v is not ...}
    if isinstance(value, list):
        return [absent(v) for v in value if v is not ...]
    return value


@st.composite
def _workspace_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": WS_ID, "type": "Microsoft.Databricks/workspaces", "name": "dbw-fuzz"}
    _set(doc, "id", draw(st.sampled_from([WS_ID, WS_ID.upper(), WS_ID.lower()]) | st.just(...) | wrong_type))
    _set(doc, "location", _maybe(draw, draw(st.sampled_from(["West Europe", "westeurope", "  ", "İzmir"]))))
    _set(doc, "sku", _maybe(draw, {"name": draw(st.sampled_from(["premium", "Standard", "", "trial"]))}))
    _set(doc, "tags", _maybe(draw, draw(st.dictionaries(odd_text, json_scalars, max_size=3))))
    props: dict[str, Any] = {}
    _set(props, "computeMode", _maybe(draw, draw(st.sampled_from(["Hybrid", "hybrid"]))))
    _set(props, "parameters", draw(messy_parameters()))
    _set(props, "publicNetworkAccess", _maybe(draw, "Disabled"))
    _set(props, "requiredNsgRules", _maybe(draw, "AllRules"))
    _set(props, "workspaceUrl", _maybe(draw, WS_HOST))
    _set(props, "privateEndpointConnections", _maybe(draw, [
        {"id": "pec", "properties": {"privateLinkServiceConnectionState": {"status": _maybe(draw, "Approved")}}},
        draw(wrong_type)]))
    _set(props, "encryption", _maybe(draw, {"entities": _maybe(draw, {
        "managedServices": _maybe(draw, {"keySource": "Microsoft.Keyvault"}),
        "managedDisk": _maybe(draw, {"keySource": "Microsoft.Keyvault"})})}))
    _set(props, "enhancedSecurityCompliance", _maybe(draw, {
        "complianceSecurityProfile": _maybe(draw, {"value": "Enabled"}),
        "enhancedSecurityMonitoring": _maybe(draw, "Disabled"),
        "automaticClusterUpdate": _maybe(draw, {"value": 1})}))
    _set(doc, "properties", props if draw(st.integers(0, 9)) else draw(wrong_type))
    return doc


def workspace_docs() -> st.SearchStrategy[Any]:
    return _workspace_docs().map(absent)


garbage_prefixes = st.lists(st.one_of(
    st.sampled_from(["*", "Internet", "0.0.0.0/0", "::/0", "10.0.0.0/8", "VirtualNetwork", "1.2.3.4/99",
                     "300.1.1.1", "10.0.0.0/8/8", "", " "]),
    odd_text, wrong_type), max_size=6)


@st.composite
def nsg_rules(draw: st.DrawFn) -> Any:
    name = draw(st.sampled_from(["allow-ssh", "Microsoft.Databricks-workspaces_UseOnly_databricks-worker-to-worker-inbound"])
                | odd_text)
    props: dict[str, Any] = {}
    _set(props, "direction", _maybe(draw, draw(st.sampled_from(["Inbound", "Outbound", "inbound"]))))
    _set(props, "access", _maybe(draw, draw(st.sampled_from(["Allow", "Deny", "allow"]))))
    _set(props, "protocol", _maybe(draw, "Tcp"))
    _set(props, "priority", _maybe(draw, draw(st.integers(-5, 5000))))
    _set(props, "sourceAddressPrefix", _maybe(draw, draw(st.sampled_from(["*", "Internet", "10.0.0.0/8"]))))
    _set(props, "sourceAddressPrefixes", draw(garbage_prefixes | wrong_type))
    _set(props, "destinationAddressPrefix", _maybe(draw, "*"))
    _set(props, "destinationPortRange", _maybe(draw, "22"))
    _set(props, "destinationPortRanges", _maybe(draw, ["22", "3389"]))
    rule = {"id": f"{NSG_ID}/securityRules/{name}", "name": name, "properties": absent(props)}
    return rule if draw(st.integers(0, 9)) else draw(wrong_type)


@st.composite
def nsg_docs(draw: st.DrawFn) -> dict[str, Any]:
    props: dict[str, Any] = {}
    _set(props, "securityRules", _maybe(draw, draw(st.lists(nsg_rules(), max_size=4))))
    return {"id": NSG_ID, "type": "Microsoft.Network/networkSecurityGroups", "name": "nsg-fuzz",
            "properties": props if draw(st.integers(0, 9)) else draw(wrong_type)}


@st.composite
def subnets(draw: st.DrawFn, name: str) -> Any:
    props: dict[str, Any] = {}
    _set(props, "addressPrefix", _maybe(draw, draw(st.sampled_from(["10.1.0.0/24", "10.1.0.0/27", "garbage"]))))
    _set(props, "addressPrefixes", draw(garbage_prefixes | wrong_type) if draw(st.booleans()) else ...)
    _set(props, "delegations", _maybe(draw, [{"properties": {"serviceName": "Microsoft.Databricks/workspaces"}}]))
    _set(props, "networkSecurityGroup", _maybe(draw, {"id": _case(NSG_ID, draw(odd_casing))}))
    _set(props, "natGateway", _maybe(draw, {"id": "/subscriptions/x/natGateways/n"}))
    _set(props, "routeTable", _maybe(draw, None))
    sub = {"id": f"{VNET_ID}/subnets/{name}", "name": _maybe(draw, name), "properties": props}
    sub = absent(sub)
    return sub if draw(st.integers(0, 9)) else draw(wrong_type)


@st.composite
def vnet_docs(draw: st.DrawFn) -> dict[str, Any]:
    props: dict[str, Any] = {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}
    _set(props, "subnets", _maybe(draw, [draw(subnets("host")), draw(subnets("container"))]))
    return {"id": VNET_ID, "type": "Microsoft.Network/virtualNetworks", "name": "vnet-fuzz",
            "properties": props if draw(st.integers(0, 9)) else draw(wrong_type)}


@st.composite
def standalone_children(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Subnets / rules served at their own ids too (folded into the parent by parse_estate)."""
    out = []
    if draw(st.booleans()):
        sub = draw(subnets("host"))
        if isinstance(sub, dict):
            out.append({**sub, "type": "Microsoft.Network/virtualNetworks/subnets"})
    if draw(st.booleans()):
        rule = draw(nsg_rules())
        if isinstance(rule, dict):
            out.append({**rule, "type": "Microsoft.Network/networkSecurityGroups/securityRules"})
    return out


@st.composite
def diag_docs(draw: st.DrawFn) -> dict[str, Any]:
    props: dict[str, Any] = {"workspaceId": "/subscriptions/x/workspaces/law"}
    _set(props, "logs", absent(_maybe(draw, [{"category": c, "enabled": draw(json_scalars)} for c in
                                             ("accounts", "clusters", "jobs")] + [draw(wrong_type)])))
    return {"id": f"{WS_ID}/providers/Microsoft.Insights/diagnosticSettings/diag",
            "type": "Microsoft.Insights/diagnosticSettings", "name": "diag", "properties": props}


# -- workspace API ---------------------------------------------------------------------------------------

cidr_ish = st.one_of(
    st.sampled_from(["203.0.113.0/24", "198.51.100.7", "198.51.100.7/32", "0.0.0.0/0", "::/0", "2001:db8::/32",
                     "10.0.0.5/8", "1.2.3.4/33", "256.0.0.1", "1.2.3", "fe80::1%eth0", "", " 10.0.0.0/8 "]),
    st.ip_addresses().map(str),
    st.tuples(st.ip_addresses(v=4), st.integers(-1, 40)).map(lambda t: f"{t[0]}/{t[1]}"),
    odd_text, wrong_type,
)
odd_times = st.one_of(st.none(), st.integers(-(2**70), 2**70), st.sampled_from([-1, 0, 2**63 - 1, 2**63, 10**400]),
                      st.floats(), st.text(max_size=12), st.sampled_from(["1794136000000", " 12 ", "-1", "1e20"]))


@st.composite
def ip_access_lists(draw: st.DrawFn) -> Any:
    item: dict[str, Any] = {"list_id": draw(odd_text), "label": draw(odd_text)}
    _set(item, "list_type", _maybe(draw, draw(st.sampled_from(["ALLOW", "BLOCK", "allow", "Block", "MAYBE"]))))
    _set(item, "enabled", _maybe(draw, draw(st.booleans())))
    _set(item, "ip_addresses", draw(st.lists(cidr_ish, max_size=8)) if draw(st.integers(0, 5)) else draw(wrong_type))
    return item if draw(st.integers(0, 9)) else draw(wrong_type)


@st.composite
def tokens(draw: st.DrawFn) -> Any:
    item: dict[str, Any] = {}
    _set(item, "token_id", _maybe(draw, draw(st.sampled_from(["a1b2", "T" * 300]) | odd_text)))
    _set(item, "creation_time", draw(odd_times))
    _set(item, "expiry_time", draw(odd_times))
    _set(item, "created_by_username", _maybe(draw, "etl@contoso.com"))
    _set(item, "owner_id", draw(json_scalars))
    return item if draw(st.integers(0, 9)) else draw(wrong_type)


workspace_confs = st.one_of(
    st.fixed_dictionaries({}, optional={
        "enableIpAccessLists": st.sampled_from(["true", "false", "TRUE", "", None]) | json_scalars,
        "maxTokenLifetimeDays": st.sampled_from(["90", "0", "-1", "1e9", "9" * 5000, ""]) | json_scalars,
        "enableVerboseAuditLogs": json_scalars, "enableDbfsFileBrowser": json_scalars}),
    st.dictionaries(odd_text, json_scalars, max_size=4),
)


@st.composite
def workspace_api_payloads(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    """(workspace_conf, ip_access_lists, tokens) as parse_workspace_api takes them, each possibly garbage."""
    conf = draw(workspace_confs) if draw(st.integers(0, 9)) else draw(wrong_type)
    lists = draw(st.lists(ip_access_lists(), max_size=4)) if draw(st.integers(0, 9)) else draw(wrong_type)
    toks = draw(st.lists(tokens(), max_size=4)) if draw(st.integers(0, 9)) else draw(wrong_type)
    return conf, lists, toks


@st.composite
def estates(draw: st.DrawFn, shape_garbage: bool = True) -> dict[str, Any]:
    """A driftwatch.estate/v1 snapshot around one messy workspace, its network and its API payload.

    With shape_garbage=False the document passes the snapshot schema (so evaluation runs) and the mess is
    inside the ARM documents and API payloads only.
    """
    resources: list[Any] = [draw(workspace_docs()), draw(vnet_docs()), draw(nsg_docs()), draw(diag_docs())]
    resources += draw(standalone_children())
    if shape_garbage:
        if draw(st.integers(0, 9)) == 0:
            resources.append(draw(wrong_type))
        conf, lists, toks = draw(workspace_api_payloads())
    else:
        conf = draw(st.dictionaries(odd_text, st.none() | st.booleans() | st.integers() | odd_text, max_size=4)
                    | workspace_confs.filter(lambda c: all(not isinstance(v, float) for v in c.values())))
        lists = draw(st.lists(ip_access_lists().filter(lambda x: isinstance(x, dict)), max_size=4))
        toks = draw(st.lists(tokens().filter(lambda x: isinstance(x, dict)), max_size=4))
        resources = [r for r in resources if isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"]]
    api: dict[str, Any] = {"workspace_conf": conf, "ip_access_lists": lists, "tokens": toks}
    schemas = ["driftwatch.estate/v1"] * 8 + (["driftwatch.estate/v2", ""] if shape_garbage else [])
    doc: dict[str, Any] = {"schema": draw(st.sampled_from(schemas)),
                           "subscriptions": [{"subscriptionId": SUB, "displayName": "p", "state": "Enabled"}],
                           "resources": resources,
                           "databricks": {draw(st.sampled_from([WS_HOST, WS_HOST.upper()])): api}}
    if shape_garbage and draw(st.integers(0, 9)) == 0:
        doc[draw(odd_text)] = draw(json_values)
    return doc


# -- baselines -----------------------------------------------------------------------------------------

cidrs = st.one_of(
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.ip_addresses().map(str),
)


@st.composite
def valid_baselines(draw: st.DrawFn) -> dict[str, Any]:
    defaults = draw(st.fixed_dictionaries({}, optional={
        "sku": st.sampled_from(["premium", "standard", None]),
        "secure_cluster_connectivity": st.booleans() | st.none(),
        "public_network_access": st.sampled_from(["Enabled", "Disabled"]),
        "required_nsg_rules": st.sampled_from(["AllRules", "NoAzureDatabricksRules"]),
        "private_link": st.sampled_from(["required", "optional"]),
        "customer_managed_keys": st.lists(st.sampled_from(["managed_services", "managed_disk", "dbfs_root"]),
                                          unique=True),
        "infrastructure_encryption": st.booleans(),
        "allowed_locations": st.lists(st.sampled_from(["westeurope", "West Europe", "northeurope"]), max_size=3),
        "diagnostic_logs": st.lists(st.sampled_from(["accounts", "clusters", "jobs"]), max_size=3),
        "network": st.fixed_dictionaries({}, optional={
            "vnet_injection": st.booleans(), "min_subnet_prefix": st.integers(0, 32),
            "egress": st.sampled_from(["nat_gateway", "route_table", "nat_gateway_or_route_table"]),
            "allowed_vnets": st.lists(st.just(VNET_ID), max_size=1)}),
        "ip_access_lists": st.fixed_dictionaries({}, optional={
            "enforced": st.booleans(), "allow": st.lists(cidrs, max_size=5), "block": st.lists(cidrs, max_size=3),
            "widest_allow_prefix": st.integers(0, 32)}),
        "workspace_conf": st.dictionaries(st.sampled_from(["enableVerboseAuditLogs", "enableDbfsFileBrowser"]),
                                          st.sampled_from(["true", "false"]) | st.booleans()),
        "tokens": st.fixed_dictionaries({"max_lifetime_days": st.integers(1, 365)}),
        "severity": st.dictionaries(st.sampled_from(sorted(RULE_IDS)), st.sampled_from(["critical", "low"]),
                                    max_size=3),
        "disabled_rules": st.lists(st.sampled_from(sorted(RULE_IDS)), max_size=3),
    }))
    doc: dict[str, Any] = {"schema": "driftwatch.baseline/v1", "defaults": defaults}
    if draw(st.booleans()):
        doc["scopes"] = [{"name": "dev", "match": {"names": ["dbw-*"], "tags": {"env": "dev"}},
                          "set": {"public_network_access": "Enabled"}}]
    if draw(st.booleans()):
        doc["exemptions"] = [{"rule": draw(st.sampled_from(sorted(RULE_IDS))), "resource": "/subscriptions/*",
                              "reason": "fuzz", "expires": draw(st.dates()).isoformat()}]
    return doc


@st.composite
def mutated_baselines(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """(an invalid baseline, the field path the error must name)."""
    doc = copy.deepcopy(draw(valid_baselines()))
    d = doc["defaults"]
    kind = draw(st.integers(0, 7))
    if kind == 0:
        where = draw(st.sampled_from(["", "defaults", "network", "ip_access_lists", "tokens"]))
        key = draw(st.sampled_from(["ip_acess_lists", "Sku", "widest_allow", "x"]) | st.from_regex(r"[a-z_]{3,12}",
                                                                                                   fullmatch=True))
        target = {"": doc, "defaults": d}.get(where)
        if target is None:
            target = d.setdefault(where, {})
        if key in target or (where == "" and key in ("schema", "defaults", "scopes", "exemptions")):
            key += "_typo"
        target[key] = draw(json_scalars)
        return doc, f"{where + '.' if where and where != 'defaults' else ''}{key}"
    if kind == 1:
        key, bad = draw(st.sampled_from([("sku", 5), ("sku", "platinum"), ("secure_cluster_connectivity", "maybe"),
                                         ("public_network_access", "disabled"), ("customer_managed_keys", "all"),
                                         ("allowed_locations", "westeurope"), ("network", [1]),
                                         ("workspace_conf", ["a"]), ("tokens", {"max_lifetime_days": 0})]))
        d[key] = bad
        return doc, f"defaults.{key}"
    if kind == 2:
        allow = list(d.get("ip_access_lists", {}).get("allow") or [])
        i = draw(st.integers(0, len(allow)))
        allow.insert(i, draw(st.sampled_from(["1.2.3.4/33", "300.0.0.0/8", "10.0.0.0/8/8", "", "abc", "10.0.0.0/-1"])
                             | st.sampled_from([5, None, ["x"]])))
        d.setdefault("ip_access_lists", {})["allow"] = allow
        return doc, f"defaults.ip_access_lists.allow[{i}]"
    if kind == 3:
        bad = draw(st.sampled_from(["DBX-XX-999", "dbx-ws-1", "", "DBX-WS-0001"]) | odd_text.filter(
            lambda s: s.strip().upper() not in RULE_IDS))
        d["disabled_rules"] = [bad]
        return doc, "defaults.disabled_rules[0]"
    if kind == 4:
        doc["exemptions"] = [{"rule": "DBX-WS-001", "resource": "/subscriptions/*", "reason": "no expiry"}]
        return doc, "exemptions[0].expires"
    if kind == 5:
        doc["exemptions"] = [{"rule": "DBX-WS-001", "resource": "/subscriptions/*", "reason": "r",
                              "expires": draw(st.sampled_from(["2027-13-45", "tomorrow", "", 5, None]))}]
        return doc, "exemptions[0].expires"
    if kind == 6:
        doc["schema"] = draw(st.sampled_from(["driftwatch.baseline/v2", "", None, 1]))
        return doc, "schema"
    d["ip_access_lists"] = {"widest_allow_prefix": draw(st.sampled_from([-1, 33, "sixteen", [16], 16.5, True, False]))}
    return doc, "defaults.ip_access_lists.widest_allow_prefix"


# -- queue messages and query strings --------------------------------------------------------------------

@st.composite
def garbage_messages(draw: st.DrawFn, schema: str, kinds: tuple[int, ...] = (0, 1, 2, 3, 4)) -> bytes:
    """Queue message bodies that can never be valid: random bytes (0), invalid UTF-8 (1), JSON of the wrong
    shape (2), the right schema with wrong types in every field (3), tiny oddities (4)."""
    kind = draw(st.sampled_from(kinds))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:
        raw = draw(st.binary(max_size=100))
        return raw[: len(raw) // 2] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88"])) + raw
    if kind == 2:
        return json.dumps(draw(json_values)).encode()
    if kind == 3:
        body = {"schema": schema, "workspace_id": draw(wrong_type), "source": draw(wrong_type),
                "requested_at": draw(wrong_type), "transition": draw(wrong_type), "at": draw(wrong_type),
                "finding": draw(wrong_type)}
        return json.dumps(body).encode()
    return draw(st.sampled_from([b"", b"null", b"[]", b"{", b"\x00\x00", "{\"schema\": \"\u2603\"}".encode()]))


PARAMS = ["status", "severity", "rule", "workspace", "subscription", "since", "top", "continuation", "format"]
INJECTIONS = ["' or 1 eq 1 or '", "open' or status ne 'x", "$filter=PartitionKey ne ''", "eq null", "%27", "'';--",
              "PartitionKey gt ''", "\u2028", "<script>alert(1)</script>", "x" * 5000, "1; DROP TABLE findings"]
bad_values = {
    "status": st.sampled_from(["OPEN ", "opened", "", "open,resolved", *INJECTIONS]) | odd_text.filter(
        lambda s: s.strip() not in ("open", "resolved", "exempted")),
    "severity": st.sampled_from(["CRITICAL", "sev1", *INJECTIONS]),
    "rule": st.sampled_from(["DBX-WS-1", "dbx-ws-001", "DBX-WS-001'", *INJECTIONS]),
    "workspace": st.sampled_from(["", "   ", "x" * 1025]),
    "subscription": st.sampled_from(["", " ", "s" * 129]),
    "since": st.sampled_from(["yesterday", "2026-13-01", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00",
                              "1e10", "2026-01-01T25:00", *INJECTIONS]),
    "top": st.sampled_from(["0", "1001", "-1", "1e3", "ten", "99999999999999999999999", "1.5", *INJECTIONS]),
    "continuation": st.sampled_from(["x" * 4097, "", "bm90IGEgdG9rZW4=", "eyJhIjoxfQ", "%00", *INJECTIONS]),
    "format": st.sampled_from(["xml", "JSON ", "csv;", *INJECTIONS]),
}


@st.composite
def bad_query_strings(draw: st.DrawFn) -> tuple[list[tuple[str, str]], str | None]:
    """([(name, value)...], a parameter that must be reported or None when any invalid one may be)."""
    pairs: list[tuple[str, str]] = []
    kind = draw(st.integers(0, 2))
    if kind == 0:  # one unknown parameter name (random, unicode, OData-looking, huge)
        name = draw(st.sampled_from(["$filter", "$top", "stat us", "Status", "top ", "x" * 3000, "<b>", "\u202e"])
                    | odd_text.filter(lambda s: s and s not in PARAMS and s != "code"))
        pairs.append((name, draw(odd_text)))
        culprit: str | None = None
    else:  # a known parameter with a bad value, possibly repeated
        name = draw(st.sampled_from(PARAMS))
        pairs.append((name, draw(bad_values[name])))
        culprit = name
        if kind == 2 and name not in ("workspace", "subscription", "continuation"):  # joined, these may be valid
            pairs.append((name, draw(bad_values[name])))
    good = [("status", "open"), ("top", "5"), ("format", "json"), ("code", "k")]
    pairs += draw(st.lists(st.sampled_from([g for g in good if g[0] != name]), max_size=2, unique=True))
    order = draw(st.permutations(pairs))
    return list(order), culprit


random_query_strings = st.lists(st.tuples(st.sampled_from(PARAMS) | odd_text, odd_text | st.sampled_from(INJECTIONS)),
                                max_size=5)


def host_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Query pairs as the Functions host hands them to Python: one string per name, repeats joined by ','."""
    out: dict[str, str] = {}
    for k, v in pairs:
        out[k] = f"{out[k]},{v}" if k in out else v
    return out

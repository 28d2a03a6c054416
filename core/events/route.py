"""Parse Event Grid deliveries (Event Grid schema or CloudEvents 1.0) and route each event.

A change to a workspace, its private endpoint connections or diagnostic settings scans that
workspace; a change to its VNet, a subnet, an NSG or an NSG rule scans every workspace the
topology says uses it; a workspace delete resolves its findings. Anything else is `ignore`d with a
reason, and a malformed event is `reject`ed without stopping the rest of the delivery.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

from core.arm_ids import parent_id, parse_arm_id, parse_arm_id_lower
from core.events.model import ResourceEvent, RoutingDecision
from core.events.operations import EVENT_TYPES, ROUTED_OPERATIONS
from core.events.topology import TopologyLookup
from core.findings.model import ChangeAttribution

MAX_DELIVERY_BYTES = 1_048_576 + 65_536  # Event Grid caps a delivery at 1 MB; allow framing slack
_EVENT_TYPES = {t.lower() for t in EVENT_TYPES}
_ROUTED = {o.lower() for o in ROUTED_OPERATIONS}
_VALIDATION = "microsoft.eventgrid.subscriptionvalidationevent"


class EventParseError(ValueError):
    """One event that is not a usable Event Grid / CloudEvents resource event."""


_REPR = reprlib.Repr(maxlevel=2, maxstring=80, maxother=80, maxlist=4, maxdict=4, maxlong=40)


def _excerpt(value: Any, limit: int = 200) -> str:
    """A short excerpt of event input for a reason (events may carry megabytes or deep nesting)."""
    text = value if isinstance(value, str) else _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _req_str(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise EventParseError(f"{where}: field {key!r} missing or not a non-empty string")
    return value


def parse_event(raw: Any, index: int = 0) -> ResourceEvent:
    """Normalise one event of either schema; EventParseError names the missing/bad field."""
    where = f"event[{index}]"
    if not isinstance(raw, Mapping):
        raise EventParseError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    if "specversion" in raw:
        if raw.get("specversion") != "1.0":
            raise EventParseError(f"{where}: unsupported CloudEvents specversion {_REPR.repr(raw.get('specversion'))}")
        event_id = _req_str(raw, "id", where)
        event_type = _req_str(raw, "type", where)
        source = raw.get("source") if isinstance(raw.get("source"), str) else ""
        data = raw.get("data")
        subject = raw.get("subject") if isinstance(raw.get("subject"), str) else None
        schema = "cloudevents"
        time = raw.get("time") if isinstance(raw.get("time"), str) else None
    elif "eventType" in raw:
        event_id = _req_str(raw, "id", where)
        event_type = _req_str(raw, "eventType", where)
        source = raw.get("topic") if isinstance(raw.get("topic"), str) else ""
        data = raw.get("data")
        subject = raw.get("subject") if isinstance(raw.get("subject"), str) else None
        schema = "eventgrid"
        time = raw.get("eventTime") if isinstance(raw.get("eventTime"), str) else None
    else:
        raise EventParseError(f"{where}: neither Event Grid (eventType) nor CloudEvents 1.0 (specversion)")
    if data is not None and not isinstance(data, Mapping):
        raise EventParseError(f"{where}: field 'data' must be an object, got {type(data).__name__}")
    data = data or {}
    resource_uri = data.get("resourceUri") if isinstance(data.get("resourceUri"), str) else None
    if event_type.lower() in _EVENT_TYPES and not (resource_uri or subject):
        raise EventParseError(f"{where}: neither data.resourceUri nor subject names the resource")

    def _s(key: str) -> str | None:
        v = data.get(key)
        return v if isinstance(v, str) else None
    sub = _s("subscriptionId")
    if not sub and isinstance(source, str) and source.lower().startswith("/subscriptions/"):
        sub = source.split("/")[2]
    return ResourceEvent(id=event_id, event_type=event_type, subject=subject or resource_uri or "",
                         event_time=time, operation_name=_s("operationName"), resource_uri=resource_uri,
                         status=_s("status"), subscription_id=sub, wire_schema=schema,
                         attribution=arm_attribution(data, event_id))


_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


def arm_attribution(data: Mapping[str, Any], event_id: str) -> ChangeAttribution | None:
    """Who made an ARM change and from where, from the event's `data` (names and addresses only).

    Event Grid's Azure Resource Manager events carry the caller's token claims (`data.claims`: `upn` /
    `.../claims/upn`, `.../claims/name`, `name`, `appid` for an application, `ipaddr`), the request
    (`data.httpRequest.clientIpAddress`) and `data.authorization` (`action`, `evidence.role`); see
    Microsoft Learn "Azure Resource Manager as an Event Grid source" (azure-docs
    articles/event-grid/event-schema-subscriptions.md, example events). Nothing else is kept.
    """
    from core.events.audit import source_ip

    def obj(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = parent.get(key)
        return value if isinstance(value, Mapping) else {}

    claims, auth, http = obj(data, "claims"), obj(data, "authorization"), obj(data, "httpRequest")

    def text(value: Any, limit: int = 256) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return None
        clean = " ".join("".join(c if c.isprintable() else " " for c in value).split())
        return clean[:limit] or None

    who = (text(claims.get(_UPN)) or text(claims.get("upn")) or text(claims.get(_NAME))
           or text(claims.get("name")))
    if who is None and text(claims.get("appid")):
        who = f"application {text(claims.get('appid'), 64)}"
    where = source_ip(claims.get("ipaddr")) or source_ip(http.get("clientIpAddress"))
    action = text(auth.get("action"), 150) or text(data.get("operationName"), 150)
    role = text(obj(auth, "evidence").get("role"), 40)
    summary = f"ran {action}" + (f" as {role}" if role else "") if action else None
    if not (who or where or summary):
        return None
    return ChangeAttribution(changed_by=who, changed_from=where, change_event_id=text(event_id),
                             change_summary=summary[:200] if summary else None)


def parse_delivery(payload: bytes | str | Any) -> list[Any]:
    """A delivery is a JSON array of events or one event; returns the raw items (not yet validated)."""
    if isinstance(payload, bytes | bytearray):
        if len(payload) > MAX_DELIVERY_BYTES:
            raise EventParseError(f"delivery is {len(payload)} bytes, over Event Grid's 1 MB limit")
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventParseError(f"delivery is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if isinstance(payload, str):
        if len(payload) > MAX_DELIVERY_BYTES:
            raise EventParseError(f"delivery is {len(payload)} characters, over Event Grid's 1 MB limit")
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise EventParseError(f"delivery is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        except RecursionError:
            raise EventParseError("delivery JSON is nested too deeply") from None
        except ValueError as exc:  # e.g. an integer literal over Python's 4300-digit conversion limit
            raise EventParseError(f"delivery is not JSON: {str(exc)[:200]}") from None
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        return [payload]
    raise EventParseError(f"delivery must be a JSON array or object, got {type(payload).__name__}")


def _decision(ev: ResourceEvent, action: str, workspaces: Iterable[str], reason: str,
              families: list[str] | None = None) -> RoutingDecision:
    return RoutingDecision(event_id=ev.id, action=action, workspaces=list(workspaces), reason=reason,
                           event_time=ev.event_time, resource_id=ev.resource_id,
                           attribution=ev.attribution if action in ("scan", "resolve") else None,
                           attribution_families=families)


def _workspace_id_of(rid: str, parts: Mapping[str, Any]) -> str | None:
    """The workspace id when `rid` is a workspace or a child/extension of one."""
    if parts.get("namespace") != "microsoft.databricks" or parts.get("type") != "workspaces":
        return None
    # Match on the original string: str.lower() can change the length (e.g. "İ"), so an index found in
    # rid.lower() is not an index into rid.
    name = parse_arm_id(rid).get("name") or ""
    found = re.search(r"/providers/microsoft\.databricks/workspaces/" + re.escape(name), rid, re.IGNORECASE)
    return rid[: found.end()] if found else None


MAX_EVENT_ID_CHARS = 1024
"""Event Grid ids are GUIDs for ARM events; a longer id is not a real event (and would bloat markers and logs)."""
MAX_RESOURCE_ID_CHARS = 1024
"""ARM names are short (a Databricks workspace 3-64 characters, a resource group up to 90, NSG rules up to 80:
learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules); a longer id is not one."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _unusable_text(label: str, value: str | None, limit: int, *, controls: bool = True) -> str | None:
    """Why an event string cannot be used as an id (None when it can): too long, not UTF-8, control characters."""
    if value is None:
        return None
    if len(value) > limit:
        return f"{label} is {len(value)} characters, over the {limit} a real event carries"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"{label} is not valid Unicode (lone surrogate at position {exc.start})"
    if controls and _CONTROL.search(value):
        return f"{label} contains control characters (CR/LF or similar)"
    return None


def route_event(ev: ResourceEvent, topology: TopologyLookup) -> RoutingDecision:
    for label, value, limit in (("field 'id' (event id)", ev.id, MAX_EVENT_ID_CHARS),
                                ("resource id", ev.resource_id, MAX_RESOURCE_ID_CHARS),
                                ("resource id (field 'subject')", ev.subject, MAX_RESOURCE_ID_CHARS * 4),
                                ("field 'eventType'", ev.event_type, 256),
                                ("field 'data.operationName'", ev.operation_name, 512),
                                ("field 'data.status'", ev.status, 256)):
        # Only ids become keys and routes: control characters are refused there (logs escape the rest).
        problem = _unusable_text(label, value, limit, controls="resource id" in label)
        if problem:
            def shown(text: str) -> str:  # what the reject decision may carry: short, encodable, one line
                return _CONTROL.sub("?", _excerpt(text.encode("utf-8", "backslashreplace").decode(), 200))
            return RoutingDecision(event_id=shown(ev.id), action="reject", workspaces=[], reason=problem,
                                   resource_id=shown(ev.resource_id))
    etype = ev.event_type.lower()
    if etype == _VALIDATION:
        return _decision(ev, "ignore", [], "subscription validation handshake (answered by the Functions host)")
    if etype not in _EVENT_TYPES:
        return _decision(ev, "ignore", [],
                         f"event type {_excerpt(ev.event_type)} is not a resource change driftwatch handles")
    if ev.status and ev.status.lower() != "succeeded":
        return _decision(ev, "ignore", [], f"operation status is {_excerpt(ev.status)}, not Succeeded")
    rid = ev.resource_id
    try:
        parts = parse_arm_id_lower(rid)
    except Exception:  # the parser raises on some garbage; any failure is a bad id
        return _decision(ev, "reject", [], f"resource id {_excerpt(rid)!r} cannot be parsed")
    if not parts.get("subscription") or not parts.get("namespace") or not parts.get("name"):
        return _decision(ev, "reject", [], f"resource id {rid[:200]!r} is not an ARM resource id")
    op = (ev.operation_name or "").lower()
    if op and op not in _ROUTED:
        return _decision(ev, "ignore", [],
                         f"operation {_excerpt(ev.operation_name)} does not affect monitored settings")
    is_delete = etype.endswith("resourcedeletesuccess")

    ws_id = _workspace_id_of(rid, parts)
    if ws_id is not None and not parts.get("resource_group"):
        return _decision(ev, "reject", [],
                         f"resource id {_excerpt(rid)!r} names a workspace without a /resourceGroups/ segment")
    if ws_id is not None:
        if parts.get("last_child_num") is None:
            if is_delete:
                return _decision(ev, "resolve", [ws_id], "workspace deleted: its open findings resolve")
            return _decision(ev, "scan", [ws_id], "workspace changed", ["WS"])
        child = parts.get(f"child_type_{parts['last_child_num']}") or ""
        if child in ("diagnosticsettings", "privateendpointconnections"):
            return _decision(ev, "scan", [ws_id], f"workspace {child} changed", ["WS"])
        return _decision(ev, "ignore", [], f"workspace child resource {_excerpt(child)} is not monitored")

    if parts.get("namespace") == "microsoft.network" and parts.get("type") in (
            "virtualnetworks", "networksecuritygroups"):
        child = parts.get("child_type_1")
        if parts.get("last_child_num") not in (None, 1) or child not in (None, "subnets", "securityrules"):
            return _decision(ev, "ignore", [], f"network child resource {_excerpt(child)} is not monitored")
        lookup_id = rid if child != "securityrules" else parent_id(rid)
        workspaces = topology.workspaces_for(lookup_id)
        if not workspaces and child == "subnets":
            workspaces = topology.workspaces_for(parent_id(rid))
        kind = {"subnets": "subnet", "securityrules": "NSG rule"}.get(child or "", parts["type"][:-1])
        if not workspaces:
            return _decision(ev, "ignore", [], f"{kind} is not used by any monitored workspace")
        return _decision(ev, "scan", workspaces, f"{kind} used by {len(workspaces)} workspace(s) changed", ["NET"])
    kind = _excerpt(f"{parts.get('namespace')}/{parts.get('type')}")
    return _decision(ev, "ignore", [], f"resource type {kind} is not monitored")


def route_delivery(payload: bytes | str | Any, topology: TopologyLookup) -> list[RoutingDecision]:
    """Route every event of a delivery; a bad event is rejected, the others still route."""
    items = parse_delivery(payload)
    decisions = []
    for i, raw in enumerate(items):
        try:
            ev = parse_event(raw, i)
        except EventParseError as exc:
            event_id = raw.get("id") if isinstance(raw, Mapping) and isinstance(raw.get("id"), str) else None
            decisions.append(RoutingDecision(event_id=event_id, action="reject", workspaces=[], reason=str(exc)))
            continue
        decisions.append(route_event(ev, topology))
    return decisions

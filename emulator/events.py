"""Event Grid events as Azure sends them for a subscription system topic.

driftwatch's event function is driven by these; the emulator emits one per ARM change so
tests exercise the same parsing and routing code as production. `make_event` is public so
other tests can build realistic deliveries without running the emulator.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from azure.mgmt.core.tools import parse_resource_id

WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess"
DELETE_SUCCESS = "Microsoft.Resources.ResourceDeleteSuccess"
DEFAULT_TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
"""Tenant the emulator reports when a seed subscription names none."""


def provider_and_type(resource_id: str) -> tuple[str, str]:
    """Return (provider namespace, full type) of an ARM id, e.g.
    ("Microsoft.Network", "Microsoft.Network/networkSecurityGroups/securityRules").

    For an extension resource (`{scope}/providers/Microsoft.Insights/diagnosticSettings/x`) the
    provider is the extension's namespace, not the scope's.
    """
    parts = parse_resource_id(resource_id)
    if "namespace" not in parts:
        if parts.get("resource_group"):
            return "Microsoft.Resources", "Microsoft.Resources/resourceGroups"
        return "Microsoft.Resources", "Microsoft.Resources/subscriptions"
    namespace = str(parts["namespace"])
    types = [str(parts["type"])]
    for level in range(1, int(parts.get("last_child_num") or 0) + 1):
        child_ns = parts.get(f"child_namespace_{level}")
        if child_ns:  # an extension resource starts a new type path
            namespace, types = str(child_ns), []
        types.append(str(parts[f"child_type_{level}"]))
    return namespace, "/".join([namespace, *types])


def operation_name(resource_id: str, method: str) -> str:
    """`{provider}/{type path}/write|delete` as ARM reports it in the event's data."""
    _, full_type = provider_and_type(resource_id)
    return f"{full_type}/{'delete' if method.upper() == 'DELETE' else 'write'}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _claims(caller: str | None, caller_ip: str | None, tenant_id: str) -> dict[str, str]:
    if not caller:
        return {}
    claims = {"aud": "https://management.core.windows.net/", "iss": f"https://sts.windows.net/{tenant_id}/",
              "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": caller,
              "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": caller, "name": caller,
              "http://schemas.microsoft.com/identity/claims/tenantid": tenant_id}
    if caller_ip:
        claims["ipaddr"] = caller_ip
    return claims


def make_event(
    resource_id: str,
    method: str = "PUT",
    *,
    tenant_id: str = DEFAULT_TENANT_ID,
    url: str | None = None,
    event_time: str | None = None,
    subscription_id: str | None = None,
    caller: str | None = None,
    caller_ip: str | None = None,
) -> dict[str, Any]:
    """Build one Event Grid (schema v1) event for an ARM write or delete of `resource_id`.

    `caller` / `caller_ip` fill `data.claims` the way ARM copies the caller's token claims into the event
    (`.../claims/upn`, `name`, `ipaddr`; Microsoft Learn "Azure Resource Manager as an Event Grid source").
    """
    parts = parse_resource_id(resource_id)
    sub = subscription_id or str(parts.get("subscription") or "")
    provider, _ = provider_and_type(resource_id)
    op = operation_name(resource_id, method)
    deleting = method.upper() == "DELETE"
    return {
        "id": str(uuid.uuid4()),
        "topic": f"/subscriptions/{sub}",
        "subject": resource_id,
        "eventType": DELETE_SUCCESS if deleting else WRITE_SUCCESS,
        "eventTime": event_time or _now(),
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {
            "authorization": {"scope": resource_id, "action": op, "evidence": {"role": "Contributor"}},
            "claims": _claims(caller, caller_ip, tenant_id),
            "correlationId": str(uuid.uuid4()),
            "httpRequest": {
                "clientRequestId": str(uuid.uuid4()),
                "clientIpAddress": caller_ip or "127.0.0.1",
                "method": method.upper(),
                "url": url or f"https://management.azure.com{resource_id}",
            },
            "resourceProvider": provider,
            "resourceUri": resource_id,
            "operationName": op,
            "status": "Succeeded",
            "subscriptionId": sub,
            "tenantId": tenant_id,
        },
    }

"""Databricks audit records as a workspace's diagnostic setting streams them to Event Hubs.

The emulator emits one record per write through its workspace API (as it emits Event Grid events for
ARM writes) and POSTs it, wrapped as an Event Hubs body `{"records": [...]}`, to `--audit-target`.

Shape (what driftwatch must parse in production), from:
- Microsoft Learn, "Diagnostic logging in Azure Databricks": schema (`time`, `operationName`,
  `category`, `identity.email`, `properties.sourceIPAddress/userAgent/sessionId/requestId/
  requestParams/response/logId`) and the sample record;
- Azure Monitor "Common and service-specific schemas for Azure resource logs" (top-level `time`,
  `resourceId` (upper-case), `operationName`, `operationVersion`, `category`, `identity`, `properties`;
  Event Hubs bodies wrap records in `{"records": [...]}`);
- records as Event Hubs delivers them, where `identity`, `requestParams` and `response` are JSON strings
  and `sourceIPAddress` may carry a port (e.g. `"18.193.11.166:0"`);
- Databricks "Audit log reference": service/action names (`accounts.createIpAccessList`,
  `updateIpAccessList`, `deleteIpAccessList`, `revokeDbToken`; `workspace.workspaceConfEdit` with
  request parameters `workspaceConfKeys` and `workspaceConfValues`). Failed requests are logged too,
  with `response.statusCode` >= 400 and an `errorMessage`.

Who acted: the real service knows it from the token. The emulator takes it (for audit records and for
the Event Grid claims of ARM writes) from the emulator-only
request header `X-Emulator-User` (default `admin@emulator.local`) and the client address from
`X-Forwarded-For` (first entry) or the peer address. Never the token, never secret values.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

USER_HEADER = "X-Emulator-User"
DEFAULT_USER = "admin@emulator.local"
OPERATION_VERSION = "1.0.0"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_audit_record(workspace_id: str, service: str, action: str, *, user: str = DEFAULT_USER,
                      source_ip: str | None = "203.0.113.9", request_params: dict[str, Any] | None = None,
                      status_code: int = 200, error_message: str | None = None, time: str | None = None,
                      category: str | None = None, user_agent: str = "databricks-sdk-py/0.x",
                      string_encoded: bool = True) -> dict[str, Any]:
    """One record in the Event Hubs shape (string-encoded nested JSON unless `string_encoded=False`,
    which gives the object form Log Analytics shows)."""
    response: dict[str, Any] = {"statusCode": status_code}
    if error_message:
        response["errorMessage"] = error_message
    identity = {"email": user, "subjectName": None}
    params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (request_params or {}).items()}

    def enc(value: dict[str, Any]) -> Any:
        return json.dumps(value, separators=(",", ":")) if string_encoded else value

    return {
        "time": time or _now(),
        "resourceId": workspace_id.upper(),
        "operationVersion": OPERATION_VERSION,
        "identity": enc(identity),
        "operationName": f"Microsoft.Databricks/{service}/{action}",
        "category": category or service,
        "properties": {
            "sourceIPAddress": source_ip,
            "logId": str(uuid.uuid4()),
            "serviceName": service,
            "userAgent": user_agent,
            "response": enc(response),
            "sessionId": None,
            "actionName": action,
            "requestId": str(uuid.uuid4()),
            "requestParams": enc(params),
        },
    }


def event_body(records: list[dict[str, Any]]) -> bytes:
    """An Event Hubs event body as a diagnostic setting writes it."""
    return json.dumps({"records": records}, separators=(",", ":")).encode("utf-8")


def records_for_write(workspace_id: str, method: str, path: list[str], body: Any, status: int,
                      error: str | None, *, user: str, source_ip: str | None) -> list[dict[str, Any]]:
    """The audit records Databricks writes for one workspace-API write (empty for reads/unknown paths).

    `path` is the lower-cased path below the workspace host (`["api", "2.0", ...]`).
    """
    method = method.upper()
    rec: dict[str, Any] = {"user": user, "source_ip": source_ip, "status_code": status, "error_message": error}
    out: list[dict[str, Any]] = []
    if path[:3] == ["api", "2.0", "ip-access-lists"]:
        action = {"POST": "createIpAccessList", "PUT": "updateIpAccessList", "PATCH": "updateIpAccessList",
                  "DELETE": "deleteIpAccessList"}.get(method)
        if action:
            params: dict[str, Any] = {}
            if len(path) > 3:
                params["ipAccessListId"] = path[3]
            if isinstance(body, dict):
                for key in ("label", "list_type", "enabled"):
                    if key in body:
                        params[key] = body[key] if isinstance(body[key], str) else json.dumps(body[key])
            out.append(make_audit_record(workspace_id, "accounts", action, request_params=params, **rec))
    elif path == ["api", "2.0", "workspace-conf"] and method == "PATCH" and isinstance(body, dict):
        for key, value in body.items():  # one record per key, as Databricks logs workspaceConfEdit
            out.append(make_audit_record(
                workspace_id, "workspace", "workspaceConfEdit",
                request_params={"workspaceConfKeys": str(key), "workspaceConfValues": str(value)}, **rec))
    elif path[:4] == ["api", "2.0", "token-management", "tokens"] and method == "DELETE" and len(path) > 4:
        out.append(make_audit_record(workspace_id, "accounts", "revokeDbToken",
                                     request_params={"tokenId": path[4]}, **rec))
    return out

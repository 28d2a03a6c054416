"""What ARM itself enforces before and around a provider: api-versions, workspace PUT rules, LROs.

Each rule is taken from the published contract, so a test against the emulator fails where Azure
would refuse:

- api-versions: `emulator/api_versions.json`, the versions each provider publishes in
  azure-rest-api-specs (the file names the spec folders). An unknown version of a provider type is
  `400 NoRegisteredProviderFound` ("No registered resource provider found for location ... and API
  version ... for type ..."; the shape Azure CLI users report, e.g. Azure/azure-cli#28496); an
  unknown version of ARM's own endpoints (subscriptions, resource groups) is
  `400 InvalidApiVersionParameter`.
- Databricks workspace PUT (`specification/databricks/resource-manager/Microsoft.Databricks/
  Databricks/stable/2026-01-01/databricks.json`, `WorkspaceProperties`): `computeMode` is required
  (`"required": ["computeMode"]`, "Required on create, cannot be changed"), and the properties the
  spec marks "Not allowed in Serverless ComputeMode workspace" are refused on a Serverless one. The
  spec gives the error body shape (`ErrorResponse`: `{"error": {"code", "message"}}`), not the
  provider's exact code; the emulator uses ARM's `InvalidRequestContent` for these.
- Workspace PUT/DELETE are long-running (`x-ms-long-running-operation: true` in the same spec):
  PUT answers 201 (create) or 200 (update) with `provisioningState` Accepted/Updating and an
  `Azure-AsyncOperation` header; DELETE answers 202 with `Azure-AsyncOperation`, `Location` and
  `Retry-After` (example `examples/WorkspaceDelete.json`), or 204 when there is nothing to delete.
  Read-only fields (`workspaceId`, `workspaceUrl`, `createdDateTime`, parameters as `{type, value}`)
  are filled in as the GET examples show (`examples/WorkspaceGet.json`, `WorkspaceGetParameters.json`).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

API_VERSIONS_FILE = Path(__file__).with_name("api_versions.json")
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-(preview|alpha|beta|privatepreview))?$")

COMPUTE_MODE_REQUIRED_FROM = "2026-01-01"
"""The first stable Microsoft.Databricks api-version whose WorkspaceProperties require computeMode."""
COMPUTE_MODES = ("Serverless", "Hybrid")
SERVERLESS_FORBIDDEN_PROPERTIES = ("managedResourceGroupId", "parameters", "requiredNsgRules", "defaultCatalog",
                                   "accessConnector", "defaultStorageFirewall", "diskEncryptionSetId")
"""WorkspaceProperties the 2026-01-01 spec marks "Not allowed in Serverless ComputeMode workspace"."""
PARAMETER_TYPES = {
    "amlWorkspaceId": "String", "customVirtualNetworkId": "String", "customPublicSubnetName": "String",
    "customPrivateSubnetName": "String", "enableNoPublicIp": "Bool", "loadBalancerBackendPoolName": "String",
    "loadBalancerId": "String", "natGatewayName": "String", "publicIpName": "String", "prepareEncryption": "Bool",
    "encryption": "Object", "requireInfrastructureEncryption": "Bool", "storageAccountName": "String",
    "storageAccountSkuName": "String", "vnetAddressPrefix": "String", "resourceTags": "Object",
}
"""`WorkspaceCustomParameters` of the 2026-01-01 spec and the `type` ARM reports for each."""
WORKSPACE_READ_ONLY = ("provisioningState", "workspaceId", "workspaceUrl", "createdDateTime", "createdBy",
                       "updatedBy", "privateEndpointConnections", "isUcEnabled", "diskEncryptionSetId")


class ArmRuleError(Exception):
    """A request ARM refuses; rendered as `{"error": {"code", "message"}}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _load_versions() -> dict[str, dict[str, Any]]:
    data = json.loads(API_VERSIONS_FILE.read_text(encoding="utf-8"))
    return {k.lower(): v for k, v in data["types"].items()}


API_VERSIONS = _load_versions()


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def resource_type_of(path: str) -> str:
    """The resource type an ARM path addresses, e.g. `Microsoft.Network/networkSecurityGroups/securityRules`.

    Extension resources take the type of their own provider (`.../providers/Microsoft.Insights/...`).
    """
    segs = _segments(path)
    low = [s.lower() for s in segs]
    if "providers" not in low[2:]:
        if len(segs) <= 2:
            return "Microsoft.Resources/subscriptions"
        return "Microsoft.Resources/resourceGroups"
    at = len(low) - 1 - low[::-1].index("providers")
    namespace = segs[at + 1] if len(segs) > at + 1 else ""
    types = segs[at + 2 :: 2]
    if not types:
        return "Microsoft.Resources/providers"
    return "/".join([namespace, *types])


def supported_versions(resource_type: str) -> tuple[str, dict[str, Any] | None]:
    """(the table key that applies, its entry) for a resource type; child types use their parent's."""
    parts = resource_type.split("/")
    for n in range(len(parts), 1, -1):
        key = "/".join(parts[:n]).lower()
        if key in API_VERSIONS:
            return key, API_VERSIONS[key]
    wildcard = f"{parts[0]}/*".lower()
    if wildcard in API_VERSIONS:
        return wildcard, API_VERSIONS[wildcard]
    return "", None


def check_api_version(path: str, version: str, location: str | None) -> None:
    """Raise ArmRuleError unless `version` is one the addressed resource type publishes."""
    rtype = resource_type_of(path)
    _, entry = supported_versions(rtype)
    if entry is None:
        if rtype.lower().startswith("microsoft.resources/"):
            return  # ARM's own endpoints the emulator does not list (e.g. provider registrations)
        namespace = rtype.split("/")[0]
        raise ArmRuleError(400, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.")
    versions: list[str] = entry["versions"]
    if version in versions:
        return
    listed = ", ".join(sorted(versions, reverse=True))
    if entry["error"] == "InvalidApiVersionParameter" or not _API_VERSION.match(version):
        raise ArmRuleError(400, "InvalidApiVersionParameter",
                           f"The api-version '{version}' is invalid. The supported versions are '{listed}'.")
    short_type = "/".join(rtype.split("/")[1:])
    raise ArmRuleError(400, "NoRegisteredProviderFound",
                       f"No registered resource provider found for location '{location or 'global'}' and API "
                       f"version '{version}' for type '{short_type}'. The supported api-versions are '{listed}'.")


# ---- Databricks workspaces -----------------------------------------------------------------

def is_workspace(path: str) -> bool:
    return resource_type_of(path).lower() == "microsoft.databricks/workspaces" and len(_segments(path)) == 8


def _invalid(message: str) -> ArmRuleError:
    return ArmRuleError(400, "InvalidRequestContent", message)


def validate_workspace_put(body: dict[str, Any], api_version: str, existing: dict[str, Any] | None) -> None:
    """Refuse a workspace PUT the way ARM does (see the module docstring for the spec)."""
    if not isinstance(body.get("location"), str) or not body["location"].strip():
        raise ArmRuleError(400, "LocationRequired", "The location property is required for this definition.")
    props = body.get("properties")
    if not isinstance(props, dict):
        raise _invalid("The request content was invalid: required property 'properties' not found.")
    mode = props.get("computeMode")
    old_mode = ((existing or {}).get("properties") or {}).get("computeMode")
    if mode is None and api_version >= COMPUTE_MODE_REQUIRED_FROM:
        raise _invalid("The request content was invalid: required property 'properties.computeMode' not found "
                       f"(one of {', '.join(COMPUTE_MODES)}; required on create and cannot be changed).")
    if mode is not None and mode not in COMPUTE_MODES:
        raise _invalid(f"The value '{mode}' of 'properties.computeMode' is invalid: expected one of "
                       f"{', '.join(COMPUTE_MODES)}.")
    if existing is not None and old_mode and mode and str(mode) != str(old_mode):
        raise _invalid(f"properties.computeMode cannot be changed (it is {old_mode}, the request says {mode}).")
    if mode == "Serverless":
        given = [k for k in SERVERLESS_FORBIDDEN_PROPERTIES if props.get(k) is not None]
        entities = ((props.get("encryption") or {}).get("entities") or {}) if isinstance(
            props.get("encryption"), dict) else {}
        if isinstance(entities, dict) and entities.get("managedDisk") is not None:
            given.append("encryption.entities.managedDisk")
        if given:
            raise _invalid("Not allowed in Serverless ComputeMode workspace: "
                           + ", ".join(f"properties.{k}" for k in given) + ".")


def _wrap_parameters(params: Any) -> Any:
    """`parameters.X` as ARM returns it: `{"type": ..., "value": ...}` (a bare value is wrapped)."""
    if not isinstance(params, dict):
        return params
    out: dict[str, Any] = {}
    for name, value in params.items():
        kind = PARAMETER_TYPES.get(name, "Object" if isinstance(value, dict) else "String")
        if isinstance(value, dict) and "value" in value:
            out[name] = {"type": value.get("type") or kind, **{k: v for k, v in value.items() if k != "type"}}
        else:
            out[name] = {"type": "Bool" if isinstance(value, bool) else kind, "value": value}
    return out


def workspace_document(body: dict[str, Any], existing: dict[str, Any] | None, state: str) -> dict[str, Any]:
    """The stored document of an accepted workspace PUT: body + read-only fields, in `state`."""
    doc = json.loads(json.dumps(body))
    props = doc.setdefault("properties", {})
    for key in WORKSPACE_READ_ONLY:  # read-only in the spec: whatever the caller sent is ignored
        props.pop(key, None)
    old_props = (existing or {}).get("properties") or {}
    for key in WORKSPACE_READ_ONLY:
        if key in old_props:
            props[key] = json.loads(json.dumps(old_props[key]))
    if "parameters" in props:
        props["parameters"] = _wrap_parameters(props["parameters"])
    props["provisioningState"] = state
    return doc


def fill_created_workspace(doc: dict[str, Any], rng: random.Random) -> str:
    """Fill the fields ARM assigns once a workspace exists; returns its workspaceUrl host."""
    props = doc.setdefault("properties", {})
    if not props.get("workspaceId"):
        props["workspaceId"] = str(rng.randrange(10**15, 10**16))
    if not props.get("workspaceUrl"):
        props["workspaceUrl"] = f"adb-{props['workspaceId']}.{rng.randrange(1, 20)}.azuredatabricks.net"
    props.setdefault("createdDateTime", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    if props.get("computeMode") == "Serverless":
        props["isUcEnabled"] = True  # "Set as true in Serverless ComputeMode workspace"
    return str(props["workspaceUrl"])


@dataclass
class Operation:
    """One in-flight long-running operation (ARM's asynchronous operation resource)."""

    op_id: str
    resource_id: str
    kind: str  # "create" | "update" | "delete" (workspaces) | "network" (a network PUT)
    api_version: str
    started_at: datetime
    due_at: float
    status: str = "InProgress"
    ended_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": f"{self.resource_id}/operationStatus/{self.op_id}", "name": self.op_id,
                                "status": self.status, "startTime": _iso(self.started_at)}
        if self.ended_at is not None:
            body["endTime"] = _iso(self.ended_at)
        return body


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---- Microsoft.Authorization role assignments ------------------------------------------------

def check_workspace_patch(body: dict[str, Any]) -> None:
    """`Workspaces_Update` (PATCH) takes a `WorkspaceUpdate`, whose only property is `tags` (same spec,
    `definitions.WorkspaceUpdate`); anything else is refused rather than silently applied. Properties
    change through PUT, which validates them."""
    extra = sorted(k for k in body if k != "tags")
    if extra:
        raise ArmRuleError(400, "InvalidRequestContent",
                           f"The request content was invalid: a workspace PATCH (WorkspaceUpdate) takes only "
                           f"'tags'; got {', '.join(repr(k) for k in extra)}. Use PUT to change properties.")
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, dict) or not all(isinstance(v, str) or v is None
                                                                     for v in tags.values())):
        raise ArmRuleError(400, "InvalidRequestContent", "The request content was invalid: 'tags' must map "
                           "names to strings.")


def is_role_assignment(path: str) -> bool:
    segs = [s.lower() for s in _segments(path)]
    return len(segs) >= 6 and segs[-4:-1] == ["providers", "microsoft.authorization", "roleassignments"]


def role_assignment_document(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A role assignment PUT as ARM stores it: `properties.roleDefinitionId` and `properties.principalId` are
    required and `scope` is read-only, set from the path (azure-rest-api-specs .../Microsoft.Authorization/
    stable/2022-04-01/authorization-RoleAssignmentsCalls.json `RoleAssignmentProperties`, example
    RoleAssignments_CreateForResourceGroup.json)."""
    props = body.get("properties")
    if not isinstance(props, dict):
        raise _invalid("The request content was invalid: required property 'properties' not found.")
    for key in ("roleDefinitionId", "principalId"):
        if not isinstance(props.get(key), str) or not props[key].strip():
            raise _invalid(f"The request content was invalid: required property '{key}' not found.")
    segs = _segments(path)
    scope = "/" + "/".join(segs[:-4])
    return {"properties": {**props, "scope": scope, "principalType": props.get("principalType") or "User"},
            "type": "Microsoft.Authorization/roleAssignments"}

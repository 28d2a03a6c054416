"""The in-memory ARM estate: subscriptions, resource groups and resources.

Plain synchronous data structures, touched only from the server's event loop, so no locks.
Resources are indexed by lower-cased id (ARM ids are case-insensitive), by subscription and
type (the workspace sweep lists 2,000 workspaces over 40 subscriptions), and by collection
path (`.../providers/Microsoft.Insights/diagnosticSettings`). Subnets and NSG rules live only
inside their parent's document, so the parent and the child can never disagree.
"""

from __future__ import annotations

import copy
from typing import Any

from emulator.events import DEFAULT_TENANT_ID, provider_and_type
from emulator.http_common import ApiError

CHILD_COLLECTIONS: dict[str, dict[str, str]] = {
    "microsoft.network/virtualnetworks": {"subnets": "subnets"},
    "microsoft.network/networksecuritygroups": {
        "securityrules": "securityRules",
        "defaultsecurityrules": "defaultSecurityRules",
    },
}
"""Parent type (lower) -> {child type segment (lower): property holding the embedded children}."""


def merge_patch(dst: dict[str, Any], src: dict[str, Any]) -> None:
    """Merge `src` into `dst` recursively: dicts merge, anything else replaces, null removes."""
    for key, value in src.items():
        if value is None:
            dst.pop(key, None)
        elif isinstance(value, dict) and isinstance(dst.get(key), dict):
            merge_patch(dst[key], value)
        else:
            dst[key] = copy.deepcopy(value)


def _segments(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p]


def _is_extension(lower_id: str) -> bool:
    # Role assignments and definitions are extension resources at any scope (subscription, group,
    # resource): ARM's generic `/resources` lists never include them.
    return lower_id.count("/providers/") > 1 or "/providers/microsoft.authorization/" in lower_id


_AUTHZ = "/providers/microsoft.authorization/"


def _authz_scope(lower_id: str) -> str:
    """The scope of a Microsoft.Authorization resource id: what precedes `/providers/Microsoft.Authorization/`."""
    return lower_id[: lower_id.rindex(_AUTHZ)] if _AUTHZ in lower_id else lower_id


def _at_or_above(scope: str, target: str) -> bool:
    """`scope` is `target` or one of its parents (whole segments)."""
    return target == scope or target.startswith(scope.rstrip("/") + "/")


def _group_not_found(resource_id: str) -> ApiError:
    name = _segments(resource_id)[3]
    return ApiError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def _not_found(resource_id: str) -> ApiError:
    segs = _segments(resource_id)
    rg = segs[3] if len(segs) > 3 and segs[2].lower() == "resourcegroups" else ""
    try:
        at = [s.lower() for s in segs].index("providers")
        what = "/".join(segs[at + 1 :])
    except ValueError:
        what = "/".join(segs)
    return ApiError(404, "ResourceNotFound", f"The Resource '{what}' under resource group '{rg}' was not found.")


class ArmStore:
    """Subscriptions, resource groups and ARM resources, as loaded from a validated seed."""

    def __init__(self, subscriptions: list[dict[str, Any]], resources: list[dict[str, Any]]) -> None:
        self.subscriptions: dict[str, dict[str, Any]] = {
            s["subscriptionId"].lower(): dict(s) for s in subscriptions
        }
        self._resources: dict[str, dict[str, Any]] = {}
        self._by_sub_type: dict[tuple[str, str], dict[str, None]] = {}
        self._collections: dict[str, dict[str, None]] = {}
        self._groups: dict[tuple[str, str], dict[str, Any]] = {}
        """(subscription, resource group) lower -> the group; ARM keeps a group when its last resource goes."""
        children = []
        for doc in resources:
            parent = self._child_parent_key(doc["id"])
            if parent is not None:
                children.append(doc)
            else:
                self._store(copy.deepcopy(doc))
        for doc in children:
            if self._child_parent_key(doc["id"]) in self._resources:
                self.put(doc["id"], doc)
            else:  # no parent in the seed: serve it on its own
                self._store(copy.deepcopy(doc))

    def workspace_resource_id(self, host: str) -> str | None:
        """ARM id of the workspace whose `properties.workspaceUrl` is `host` (for its audit records)."""
        wanted = host.lower()
        for doc in self._resources.values():
            if str(doc.get("type", "")).lower() == "microsoft.databricks/workspaces" and \
                    str((doc.get("properties") or {}).get("workspaceUrl", "")).lower() == wanted:
                return str(doc["id"])
        return None

    # ---- subscriptions -------------------------------------------------------------------
    def tenant_of(self, sub: str) -> str:
        doc = self.subscriptions.get(sub.lower()) or {}
        return str(doc.get("tenantId") or DEFAULT_TENANT_ID)

    def subscription_view(self, sub_doc: dict[str, Any]) -> dict[str, Any]:
        """The subscription as SubscriptionClient.subscriptions.list returns it."""
        view = {"id": f"/subscriptions/{sub_doc['subscriptionId']}", **sub_doc}
        view.setdefault("tenantId", DEFAULT_TENANT_ID)
        view.setdefault("state", "Enabled")
        return view

    # ---- indexing ------------------------------------------------------------------------
    def _remember_group(self, resource_id: str, location: Any = "") -> None:
        segs = _segments(resource_id)
        if len(segs) >= 4 and segs[0].lower() == "subscriptions" and segs[2].lower() == "resourcegroups":
            self._groups.setdefault((segs[1].lower(), segs[3].lower()), {
                "id": "/" + "/".join(segs[:4]), "name": segs[3], "type": "Microsoft.Resources/resourceGroups",
                "location": location if isinstance(location, str) else "",
                "properties": {"provisioningState": "Succeeded"}})

    def group_exists(self, resource_id: str) -> bool:
        """Whether the resource group an id lives in exists (ids outside a group: always)."""
        segs = _segments(resource_id)
        if len(segs) < 4 or segs[2].lower() != "resourcegroups":
            return True
        return (segs[1].lower(), segs[3].lower()) in self._groups

    def put_group(self, resource_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """PUT /subscriptions/{id}/resourceGroups/{name}: create or update a group (`location` required)."""
        location = body.get("location")
        if not isinstance(location, str) or not location.strip():
            raise ApiError(400, "LocationRequired", "The location property is required for this definition.")
        segs = _segments(resource_id)
        key = (segs[1].lower(), segs[3].lower())
        created = key not in self._groups
        self._remember_group(resource_id, location)
        group = self._groups[key]
        if isinstance(body.get("tags"), dict):
            group["tags"] = dict(body["tags"])
        return group, created

    def _store(self, doc: dict[str, Any]) -> None:
        key = doc["id"].lower()
        self._remember_group(doc["id"], doc.get("location", ""))
        self._normalize_children(doc)
        self._resources[key] = doc
        self._collections.setdefault(key.rsplit("/", 1)[0], {})[key] = None
        if not _is_extension(key):
            sub = _segments(key)[1]
            self._by_sub_type.setdefault((sub, str(doc.get("type", "")).lower()), {})[key] = None

    def _unstore(self, key: str) -> None:
        doc = self._resources.pop(key, None)
        if doc is None:
            return
        self._collections.get(key.rsplit("/", 1)[0], {}).pop(key, None)
        sub = _segments(key)[1]
        self._by_sub_type.get((sub, str(doc.get("type", "")).lower()), {}).pop(key, None)

    def _child_parent_key(self, resource_id: str) -> str | None:
        """The lower-cased parent id if `resource_id` is an embedded child type (subnet, rule)."""
        segs = _segments(resource_id)
        if len(segs) < 10:
            return None
        parent = "/" + "/".join(segs[:-2])
        _, parent_type = provider_and_type(parent)
        if segs[-2].lower() in CHILD_COLLECTIONS.get(parent_type.lower(), {}):
            return parent.lower()
        return None

    def _normalize_children(self, doc: dict[str, Any]) -> None:
        """Give embedded children full ids and types, as ARM returns them."""
        kinds = CHILD_COLLECTIONS.get(str(doc.get("type", "")).lower())
        props = doc.get("properties")
        if not kinds or not isinstance(props, dict):
            return
        for segment in kinds.values():
            items = props.get(segment)
            if not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                    continue
                want = f"{doc['id']}/{segment}/{item['name']}"
                if not isinstance(item.get("id"), str) or item["id"].lower() != want.lower():
                    item["id"] = want
                item.setdefault("type", f"{doc['type']}/{segment}")

    def _child_slot(self, resource_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], int] | None:
        """(parent doc, embedded list, index or -1) for an embedded child id whose parent exists."""
        parent_key = self._child_parent_key(resource_id)
        parent = self._resources.get(parent_key) if parent_key else None
        if parent is None:
            return None
        segs = _segments(resource_id)
        segment = CHILD_COLLECTIONS[str(parent.get("type", "")).lower()][segs[-2].lower()]
        if not isinstance(parent.get("properties"), dict):
            parent["properties"] = {}
        props = parent["properties"]
        if not isinstance(props.get(segment), list):
            props[segment] = []
        items = props[segment]
        name = segs[-1].lower()
        for i, item in enumerate(items):
            if isinstance(item, dict) and str(item.get("name", "")).lower() == name:
                return parent, items, i
        return parent, items, -1

    # ---- reads ---------------------------------------------------------------------------
    def get(self, resource_id: str) -> dict[str, Any]:
        doc = self._resources.get(resource_id.lower())
        if doc is not None:
            return doc
        slot = self._child_slot(resource_id)
        if slot is not None and slot[2] >= 0:
            return slot[1][slot[2]]
        if not self.group_exists(resource_id):
            raise _group_not_found(resource_id)
        raise _not_found(resource_id)

    def find(self, resource_id: str) -> dict[str, Any] | None:
        """The document, or None where `get` would answer 404."""
        try:
            return self.get(resource_id)
        except ApiError:
            return None

    def list_by_type(self, sub: str, resource_type: str) -> list[dict[str, Any]]:
        keys = self._by_sub_type.get((sub.lower(), resource_type.lower()), {})
        return [self._resources[k] for k in keys]

    def list_subscription(self, sub: str, resource_group: str | None = None) -> list[dict[str, Any]]:
        """Top-level resources of a subscription (or of one resource group in it)."""
        prefix = f"/subscriptions/{sub.lower()}/"
        if resource_group is not None:
            prefix += f"resourcegroups/{resource_group.lower()}/"
        return [d for k, d in self._resources.items() if k.startswith(prefix) and not _is_extension(k)]

    def list_authorization(self, scope: str, kind: str, flt: str | None) -> list[dict[str, Any]]:
        """Role assignments or definitions for `{scope}/providers/Microsoft.Authorization/{kind}`.

        azure-rest-api-specs specification/authorization/resource-manager/Microsoft.Authorization/stable/
        2022-04-01/authorization-RoleAssignmentsCalls.json (RoleAssignments_ListForScope): without a filter,
        assignments at, above and below the scope; `$filter=atScope()` at or above it only. Role
        definitions (authorization-RoleDefinitionsCalls.json, RoleDefinitions_List): those applicable at
        the scope and above. The scope itself must exist (a workspace scope is looked up like a GET).
        """
        target = scope.rstrip("/").lower()
        if len(_segments(target)) > 4 or (len(_segments(target)) == 4 and _segments(target)[2] == "resourcegroups"):
            self.get(scope)  # 404 ResourceNotFound / ResourceGroupNotFound like ARM
        wanted = f"microsoft.authorization/{kind.lower()}"
        out = []
        for key, doc in self._resources.items():
            if str(doc.get("type", "")).lower() != wanted:
                continue
            at = _authz_scope(key)
            above = _at_or_above(at, target)
            if kind.lower() == "roledefinitions" or (flt or "").replace(" ", "").lower() == "atscope()":
                keep = above
            else:
                keep = above or _at_or_above(target, at)
            if keep:
                out.append(doc)
        return out

    def list_collection(self, path: str) -> list[dict[str, Any]] | None:
        """Documents under a collection path, [] for a valid empty one, None if the scope is unknown."""
        key = path.rstrip("/").lower()
        ids = self._collections.get(key)
        if ids:
            return [self._resources[k] for k in ids]
        segs = _segments(key)
        parent = "/" + "/".join(segs[:-1])
        doc = self._resources.get(parent)
        if doc is not None:
            kinds = CHILD_COLLECTIONS.get(str(doc.get("type", "")).lower(), {})
            if segs[-1] in kinds:
                items = (doc.get("properties") or {}).get(kinds[segs[-1]]) or []
                return [i for i in items if isinstance(i, dict)]
        scope = segs[:-1]
        if len(scope) >= 2 and scope[-2] == "providers":
            scope = scope[:-2]
        if len(scope) <= 4 or ("/" + "/".join(scope)) in self._resources:
            return []
        return None

    def resource_groups(self, sub: str) -> list[dict[str, Any]]:
        """The subscription's resource groups: every group a resource was seeded or created in, or PUT."""
        return [copy.deepcopy(g) for (s, _), g in self._groups.items() if s == sub.lower()]

    # ---- writes --------------------------------------------------------------------------
    def put(self, resource_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create or replace; returns (stored doc, created)."""
        if not self.group_exists(resource_id):
            raise _group_not_found(resource_id)
        slot = self._child_slot(resource_id)
        if (
            slot is None
            and self._child_parent_key(resource_id) is not None
            and (resource_id.lower() not in self._resources)
        ):
            name = _segments(resource_id)[-3]
            raise ApiError(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource '{name}' not found.",
            )
        if slot is not None:
            parent, items, index = slot
            old = items[index] if index >= 0 else None
            segment = CHILD_COLLECTIONS[str(parent["type"]).lower()][_segments(resource_id)[-2].lower()]
            doc = copy.deepcopy(body)
            doc["name"] = old["name"] if old else _segments(resource_id)[-1]
            doc["id"] = f"{parent['id']}/{segment}/{doc['name']}"
            doc["type"] = f"{parent['type']}/{segment}"
            if old is not None:
                items[index] = doc
            else:
                items.append(doc)
            return doc, old is None
        key = resource_id.lower()
        old = self._resources.get(key)
        doc = copy.deepcopy(body)
        doc["id"] = old["id"] if old else resource_id
        doc["name"] = old["name"] if old else _segments(resource_id)[-1]
        if old:
            doc["type"] = old["type"]
        elif not isinstance(doc.get("type"), str):
            doc["type"] = provider_and_type(resource_id)[1]
        if old:  # same key, same type: the indexes stay valid and the seed order is kept
            self._normalize_children(doc)
            self._resources[key] = doc
        else:
            self._store(doc)
        return doc, old is None

    def patch(self, resource_id: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = self.get(resource_id)
        patch = {k: v for k, v in body.items() if k not in ("id", "name", "type")}
        merge_patch(doc, patch)
        key = resource_id.lower()
        if key in self._resources:
            self._normalize_children(doc)
        return doc

    def delete(self, resource_id: str) -> bool:
        """Delete a resource, its embedded children and any extension resources scoped to it."""
        key = resource_id.lower()
        if key in self._resources:
            self._unstore(key)
            for other in [k for k in self._resources if k.startswith(key + "/")]:
                self._unstore(other)
            return True
        slot = self._child_slot(resource_id)
        if slot is not None and slot[2] >= 0:
            del slot[1][slot[2]]
            return True
        return False

    # ---- snapshot ------------------------------------------------------------------------
    def snapshot_subscriptions(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(s) for s in self.subscriptions.values()]

    def snapshot_resources(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(d) for d in self._resources.values()]

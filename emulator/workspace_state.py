"""One Databricks workspace's API state: workspace-conf, IP access lists, tokens and the other families.

Plain synchronous data, touched only from the server's event loop. IP access lists are validated as
the workspace API validates them (label, list_type, addresses); the other families are kept as seeded
and served by emulator/workspace_families.py and emulator/compute_uc.py.
"""

from __future__ import annotations

import copy
import ipaddress
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from emulator.http_common import ApiError

EMULATOR_USER_ID = 4242424242
"""`created_by`/`updated_by` for IP access lists written through the emulator."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def validate_cidrs(addresses: Any) -> list[str]:
    """The workspace API rejects anything that is not an IPv4/IPv6 address or CIDR."""
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "ip_addresses must be a list of strings")
    for a in addresses:
        try:
            ipaddress.ip_network(a, strict=False)
        except ValueError:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid IP address or CIDR: {a}") from None
    return list(addresses)


COMPUTE_UC_KEYS = ("global_init_scripts", "clusters", "spark_versions", "cluster_policies", "policy_compliance",
                   "policy_permissions", "metastore_assignment", "metastore_summary", "default_namespace",
                   "storage_credentials", "current_user", "system_schemas")
"""`databricks.<host>` seed keys of the compute and Unity Catalog families (core/contracts/estate_v1.py)."""


@dataclass
class WorkspaceApi:
    """One workspace's API state (workspace-conf, IP access lists, token infos)."""

    host: str
    conf: dict[str, str] = field(default_factory=dict)
    ip_lists: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    token_permissions: dict[str, Any] | None = None
    """The GET /api/2.0/permissions/authorization/tokens object; None = the default (admins CAN_MANAGE)."""
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Settings-v2 type -> payload (e.g. {"status": "ALLOW_ALL"}); unset types answer their default."""
    secret_scopes: list[dict[str, Any]] = field(default_factory=list)
    secret_acls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    scim: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """SCIM resource type (Users, ServicePrincipals, Groups) -> its resources as SCIM returns them."""
    compute_uc: dict[str, Any] = field(default_factory=dict)
    """Seed keys of the compute and Unity Catalog families (COMPUTE_UC_KEYS), served by emulator/compute_uc.py."""

    def add_list(self, body: dict[str, Any], *, from_seed: bool = False) -> dict[str, Any]:
        label, list_type = body.get("label"), body.get("list_type")
        if not isinstance(label, str) or not label:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "label is required")
        if list_type not in ("ALLOW", "BLOCK"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "list_type must be ALLOW or BLOCK")
        addresses = validate_cidrs(body.get("ip_addresses", []))
        now = _now_ms()
        item: dict[str, Any] = dict(body) if from_seed else {}
        item.update(
            {
                "list_id": str(body.get("list_id") or uuid.uuid4()) if from_seed else str(uuid.uuid4()),
                "label": label,
                "list_type": list_type,
                "ip_addresses": addresses,
                "address_count": len(addresses),
                "enabled": bool(body.get("enabled", True)),
            }
        )
        for key, value in (("created_at", now), ("created_by", EMULATOR_USER_ID)):
            item.setdefault(key, value)
        item.setdefault("updated_at", item["created_at"])
        item.setdefault("updated_by", item["created_by"])
        self.ip_lists[item["list_id"]] = item
        return item

    def get_list(self, list_id: str) -> dict[str, Any]:
        item = self.ip_lists.get(list_id)
        if item is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"IP access list {list_id} does not exist.")
        return item

    def update_list(self, list_id: str, body: dict[str, Any], *, replace: bool) -> dict[str, Any]:
        item = self.get_list(list_id)
        if replace:
            for key in ("label", "list_type", "enabled"):
                if key not in body:
                    raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{key} is required")
        new = dict(item)
        for key in ("label", "list_type", "enabled"):
            if key in body:
                new[key] = body[key]
        if "ip_addresses" in body or replace:
            new["ip_addresses"] = validate_cidrs(body.get("ip_addresses", []))
        if new["list_type"] not in ("ALLOW", "BLOCK"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "list_type must be ALLOW or BLOCK")
        if not isinstance(new["label"], str) or not new["label"]:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "label must be a non-empty string")
        new["enabled"] = bool(new["enabled"])
        new["address_count"] = len(new["ip_addresses"])
        new["updated_at"] = _now_ms()
        new["updated_by"] = EMULATOR_USER_ID
        self.ip_lists[list_id] = new
        return new

    def snapshot(self) -> dict[str, Any]:
        return {
            "workspace_conf": dict(self.conf),
            "ip_access_lists": [copy.deepcopy(v) for v in self.ip_lists.values()],
            "tokens": [copy.deepcopy(t) for t in self.tokens],
            **({"token_permissions": copy.deepcopy(self.token_permissions)}
               if self.token_permissions is not None else {}),
            **({"settings": copy.deepcopy(self.settings)} if self.settings else {}),
            **({"secret_scopes": copy.deepcopy(self.secret_scopes)} if self.secret_scopes else {}),
            **({"secret_acls": copy.deepcopy(self.secret_acls)} if self.secret_acls else {}),
            **({"scim": copy.deepcopy(self.scim)} if self.scim else {}),
            **copy.deepcopy(self.compute_uc),
        }

    @classmethod
    def from_seed(cls, host: str, ws: dict[str, Any]) -> WorkspaceApi:
        """The state a seed's `databricks.<host>` entry describes (IP access lists keep their seeded ids)."""
        api = cls(host=host, conf=dict(ws.get("workspace_conf", {})))
        for item in ws.get("ip_access_lists", []):
            api.add_list(item, from_seed=True)
        api.tokens = [dict(t) for t in ws.get("tokens", [])]
        if ws.get("token_permissions") is not None:
            api.token_permissions = copy.deepcopy(ws["token_permissions"])
        api.settings = copy.deepcopy(ws.get("settings") or {})
        api.secret_scopes = copy.deepcopy(ws.get("secret_scopes") or [])
        api.secret_acls = copy.deepcopy(ws.get("secret_acls") or {})
        api.scim = copy.deepcopy(ws.get("scim") or {})
        api.compute_uc = {k: copy.deepcopy(ws[k]) for k in COMPUTE_UC_KEYS if ws.get(k) is not None}
        return api

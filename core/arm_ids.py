"""ARM resource-id helpers on top of azure-mgmt-core's parser (pure functions, no I/O).

ARM ids are case-insensitive; everything here compares lower-cased keys.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.core.tools import is_valid_resource_id, parse_resource_id

__all__ = ["is_valid_resource_id", "parent_id", "parse_arm_id", "parse_arm_id_lower"]


def parse_arm_id(resource_id: str) -> dict[str, Any]:
    return dict(parse_resource_id(resource_id))


def parse_arm_id_lower(resource_id: str) -> dict[str, Any]:
    """parse_resource_id with every value lower-cased."""
    return {k: (v.lower() if isinstance(v, str) else v) for k, v in parse_resource_id(resource_id).items()}


def parent_id(resource_id: str) -> str:
    """The id one level up: `.../virtualNetworks/v/subnets/s` -> `.../virtualNetworks/v`."""
    return resource_id.rstrip("/").rsplit("/", 2)[0]

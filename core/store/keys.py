"""Table keys and the safe encoding of large values.

Table Storage keys may not contain `/ \\ # ?` and ARM ids are case-insensitive, so partition keys
are a hash of the lower-cased id. Properties are limited to 64 KB (32k UTF-16 chars) and an
entity to 1 MB, so large JSON is compressed and split across numbered columns.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Mapping
from typing import Any

from core.arm_ids import arm_fold
from core.findings.transition import iso_z, utc

__all__ = ["get_json", "iso_z", "put_json", "resource_key", "utc"]

INLINE_LIMIT = 30_000
"""Characters stored as one plain string property (well under the 64 KB property limit)."""
CHUNK = 30_000
MAX_JSON_PARTS = 30
"""At most this many compressed parts (~900 KB: about what one entity can hold)."""


def resource_key(resource_id: str) -> str:
    """A stable, Table-legal key for an ARM id (case-insensitive, as in Azure)."""
    return hashlib.sha256(arm_fold(resource_id).encode("utf-8", "surrogatepass")).hexdigest()[:40]


def put_json(entity: dict[str, Any], name: str, value: Any) -> None:
    """Store `value` as JSON in `entity[name]`, or compressed in `name_z0..n` when large."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if len(text) <= INLINE_LIMIT:
        entity[name] = text
        return
    packed = base64.b64encode(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")
    parts = [packed[i:i + CHUNK] for i in range(0, len(packed), CHUNK)]
    if len(parts) > MAX_JSON_PARTS:  # beyond what one entity can hold
        raise ValueError(f"{name} is too large to store ({len(text)} characters)")
    entity[f"{name}_parts"] = len(parts)
    for i, part in enumerate(parts):
        entity[f"{name}_z{i}"] = part


def get_json(entity: Mapping[str, Any], name: str) -> Any:
    """Read back what `put_json` stored."""
    if name in entity and entity[name] is not None:
        return json.loads(entity[name])
    parts = int(entity.get(f"{name}_parts") or 0)
    if not parts:
        raise KeyError(name)
    packed = "".join(entity[f"{name}_z{i}"] for i in range(parts))
    return json.loads(zlib.decompress(base64.b64decode(packed)).decode("utf-8"))




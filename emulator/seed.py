"""Load and validate an estate seed (`driftwatch.estate/v1`, ARCHITECTURE 4.3).

A typo in a seed should fail loudly at start-up with the file, the field and the value,
not later as a puzzling 404 in the middle of a test. The schema is `core/contracts/estate_v1.py`,
the same one `driftwatch evaluate` reads snapshots with, so a seed and a snapshot are one format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.contracts.estate_v1 import SCHEMA, EstateError, validate_estate
from emulator.workspace_state import COMPUTE_UC_KEYS

TOKEN_SECRET_KEYS = frozenset({"token_value", "token", "value", "secret", "token_secret"})
"""Keys that would hold a token's secret; they are dropped on load so they can never be served."""


class SeedError(ValueError):
    """A seed that cannot be used; the message names the file, the field path and the value."""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_seed(seed: dict[str, Any] | str | Path) -> dict[str, Any]:
    """Return the validated seed as a plain dict (token secrets removed).

    `seed` is a parsed document or a path to a JSON file.
    """
    if isinstance(seed, dict):
        source, raw = "<seed>", seed
    else:
        source = str(seed)
        try:
            text = Path(seed).read_text(encoding="utf-8")
        except OSError as exc:
            raise SeedError(f"{source}: cannot read file: {exc.strerror or exc}") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise SeedError(f"{source}: invalid JSON at {where}: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise SeedError(f"{source}: (top level): expected a JSON object (value {_short(raw)})")
    try:
        validate_estate(raw, source)
    except EstateError as exc:
        raise SeedError(str(exc)) from None
    # Work from the original dicts so free-form documents keep their exact shape.
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "subscriptions": [dict(s) for s in raw.get("subscriptions", [])],
        "resources": [json.loads(json.dumps(r)) for r in raw.get("resources", [])],
        "databricks": {},
    }
    for res in out["resources"]:
        res.setdefault("name", res["id"].rstrip("/").rsplit("/", 1)[1])  # ARM always returns it
    for host, ws in (raw.get("databricks") or {}).items():
        ws = ws or {}
        out["databricks"][host] = {
            # a null value is a key never set, as GET /workspace-conf says: the emulator stores it as absent
            "workspace_conf": {k: v for k, v in (ws.get("workspace_conf") or {}).items() if v is not None},
            "ip_access_lists": [dict(a) for a in ws.get("ip_access_lists") or []],
            "tokens": [{k: v for k, v in t.items() if k not in TOKEN_SECRET_KEYS} for t in ws.get("tokens") or []],
            "settings": json.loads(json.dumps(ws.get("settings") or {})),
            "secret_scopes": json.loads(json.dumps(ws.get("secret_scopes") or [])),
            "secret_acls": json.loads(json.dumps(ws.get("secret_acls") or {})),
            "scim": json.loads(json.dumps(ws.get("scim") or {})),
        }
        if ws.get("token_permissions") is not None:
            out["databricks"][host]["token_permissions"] = json.loads(json.dumps(ws["token_permissions"]))
        for key in COMPUTE_UC_KEYS:  # compute and Unity Catalog families (emulator/compute_uc.py)
            if ws.get(key) is not None:
                out["databricks"][host][key] = json.loads(json.dumps(ws[key]))
    return out

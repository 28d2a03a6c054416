"""Who may call the auditors' HTTP API: function keys (machines), or Entra ID sign-in restricted to a group.

Two modes, chosen once per process from the app settings (the Functions host reads a route's auth level
when the app is indexed, so it cannot change per request):

- **keys** (default): the API routes are authLevel FUNCTION; the Functions host checks the key, and
  nothing in a request header is trusted.
- **entra**: `DRIFTWATCH_AUDITORS_GROUP_ID` names an Entra group *and* the platform says App Service
  authentication is on (`WEBSITE_AUTH_ENABLED`, injected read-only by App Service, reference-app-settings).
  Easy Auth validates the token before the request reaches the host and injects the caller's claims in
  `X-MS-CLIENT-PRINCIPAL`; external requests cannot set that header ("External requests aren't allowed to
  set these headers, so they're present only if App Service sets them", learn.microsoft.com/azure/
  app-service/configure-authentication-user-identities). Only then are the API routes ANONYMOUS at the
  host, the pattern azure-functions-host#11394 describes (the host has no "Easy Auth identity satisfies
  FUNCTION" level yet), and every request must still carry a principal whose `groups` claim holds the
  group: Easy Auth's own group policy is the first check, this is the second.

Fail closed: a group without Easy Auth stays in keys mode (the principal header could be forged there, so
it is never read), and in entra mode a request is refused unless Easy Auth is still on and the principal
decodes and names the group. Pure logic: no SDK, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.settings import AUDITORS_GROUP_ID, Settings

PRINCIPAL_HEADER = "x-ms-client-principal"
"""Base64 JSON `{"auth_typ", "claims": [{"typ", "val"}], "name_typ", "role_typ"}` set by Easy Auth."""
GROUP_CLAIM_TYPES = frozenset({"groups", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"})
"""Easy Auth passes claims through a default claims mapping, so the group claim may use its long name."""
ENTRA_AUTH_TYPES = frozenset({"aad"})
MAX_PRINCIPAL_CHARS = 64 * 1024
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

Mode = Literal["keys", "entra"]


class ApiAccessError(ValueError):
    """The access settings are unusable (names the setting)."""


@dataclass(frozen=True)
class Denied:
    """Why a request was refused: `status` 401 (no usable principal) or 403 (signed in, not allowed)."""

    status: int
    code: str
    message: str


@dataclass(frozen=True)
class ApiAccess:
    """The access mode of this process and, in entra mode, the group every caller must be in."""

    mode: Mode
    group_id: str | None = None
    group_without_easy_auth: bool = False
    """A group is configured but App Service authentication is off: keys mode, and a warning at start."""

    @property
    def anonymous_routes(self) -> bool:
        """Whether the API routes are ANONYMOUS at the host (entra mode); otherwise FUNCTION."""
        return self.mode == "entra"

    def authorize(self, headers: Mapping[str, str], easy_auth_on: bool) -> Denied | None:
        """None when the request may proceed. In keys mode the host has already checked the key; in entra
        mode the principal must come from Easy Auth (`easy_auth_on`: still on now) and name the group."""
        if self.mode == "keys":
            return None
        if not easy_auth_on:
            return Denied(401, "Unauthorized", "App Service authentication is not on; sign-in cannot be verified")
        raw = _header(headers, PRINCIPAL_HEADER)
        if not raw:
            return Denied(401, "Unauthorized", "sign in with Entra ID (no client principal on the request)")
        claims = decode_principal(raw)
        if claims is None:
            return Denied(401, "Unauthorized", "the client principal could not be read")
        auth_type, values = claims
        if auth_type not in ENTRA_AUTH_TYPES:
            return Denied(401, "Unauthorized", "sign in with Entra ID")
        groups = {v.casefold() for t, v in values if t in GROUP_CLAIM_TYPES}
        assert self.group_id is not None
        if self.group_id.casefold() in groups:
            return None
        if _group_overage(values):
            return Denied(403, "Forbidden", "the token lists no groups (group overage): assign the auditors group "
                                            "to the app registration and emit only groups assigned to it")
        return Denied(403, "Forbidden", "the signed-in principal is not a member of the auditors group")


def api_access(settings: Settings) -> ApiAccess:
    """The access mode from the settings; raises ApiAccessError for a group id that is not an object id."""
    group = settings.auditors_group_id
    if not group:
        return ApiAccess("keys")
    if not _GUID.match(group):
        raise ApiAccessError(f"{AUDITORS_GROUP_ID} must be the object id (a GUID) of an Entra ID group")
    if not settings.easy_auth_enabled:
        return ApiAccess("keys", group_without_easy_auth=True)
    return ApiAccess("entra", group_id=group)


def decode_principal(raw: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(auth_typ, [(typ, val)]) from an `X-MS-CLIENT-PRINCIPAL` value; None if it is not that shape."""
    if len(raw) > MAX_PRINCIPAL_CHARS:
        return None
    try:
        doc: Any = json.loads(base64.b64decode(raw.strip(), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        return None
    pairs = [(c["typ"], c["val"]) for c in doc["claims"]
             if isinstance(c, dict) and isinstance(c.get("typ"), str) and isinstance(c.get("val"), str)]
    auth_type = doc.get("auth_typ")
    return (auth_type.casefold() if isinstance(auth_type, str) else "", pairs)


def _group_overage(claims: list[tuple[str, str]]) -> bool:
    """Entra replaces `groups` by `_claim_names` (JWT, over 200 groups) or `hasgroups` (implicit flow)."""
    for typ, val in claims:
        if typ == "hasgroups" and val.casefold() == "true":
            return True
        if typ == "_claim_names":
            try:
                names = json.loads(val)
            except ValueError:
                continue
            if isinstance(names, dict) and "groups" in names:
                return True
    return False


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.casefold() == name), None)
    return value or ""

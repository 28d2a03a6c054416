"""`X-MS-CLIENT-PRINCIPAL` values as App Service authentication builds them, for the API access tests.

Shape from Microsoft Learn, "Work with user identities in Azure App Service authentication" (Decode the client
principal header): base64 of `{"auth_typ", "claims": [{"typ", "val"}], "name_typ", "role_typ"}`, one claim
entry per group of the `groups` claim.
"""

from __future__ import annotations

import base64
import json

AUDITORS = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
OTHER_GROUP = "6f5e4d3c-2b1a-4098-8776-655443322110"
NAME_TYP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def principal(*groups: str, auth_typ: str = "aad", extra: list[dict[str, str]] | None = None) -> str:
    claims = [{"typ": "name", "val": "Alex Auditor"},
              {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier",
               "val": "11111111-2222-4333-8444-555555555555"},
              *({"typ": "groups", "val": g} for g in groups), *(extra or [])]
    doc = {"auth_typ": auth_typ, "claims": claims, "name_typ": NAME_TYP, "role_typ": ROLE_TYP}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def signed_in_headers(*groups: str, **kw: object) -> dict[str, str]:
    """The headers Easy Auth adds for a caller with these groups (the principal id is informational)."""
    return {"X-MS-CLIENT-PRINCIPAL": principal(*groups, **kw),  # type: ignore[arg-type]
            "X-MS-CLIENT-PRINCIPAL-ID": "11111111-2222-4333-8444-555555555555",
            "X-MS-CLIENT-PRINCIPAL-NAME": "alex@contoso.example", "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}

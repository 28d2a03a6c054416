"""Who may call the API (core/api_access.py): the mode from the settings and the per-request principal check."""

from __future__ import annotations

import base64
import json

import pytest

from core.api_access import ApiAccess, ApiAccessError, api_access, decode_principal
from core.settings import load_settings
from tests.support.principal import AUDITORS, OTHER_GROUP, principal

ENTRA = {"DRIFTWATCH_AUDITORS_GROUP_ID": AUDITORS, "WEBSITE_AUTH_ENABLED": "True"}


def test_mode_needs_both_the_group_and_the_platforms_easy_auth() -> None:
    assert api_access(load_settings({})) == ApiAccess("keys")
    keys = api_access(load_settings({"DRIFTWATCH_AUDITORS_GROUP_ID": AUDITORS}))
    assert keys.mode == "keys" and keys.group_without_easy_auth and not keys.anonymous_routes
    for off in ("False", "", "1", "yes"):  # only App Service's own `True` counts
        assert api_access(load_settings({**ENTRA, "WEBSITE_AUTH_ENABLED": off})).mode == "keys"
    entra = api_access(load_settings({**ENTRA, "DRIFTWATCH_AUDITORS_GROUP_ID": f" {AUDITORS} "}))
    assert entra == ApiAccess("entra", group_id=AUDITORS) and entra.anonymous_routes
    assert api_access(load_settings({**ENTRA, "WEBSITE_AUTH_ENABLED": "true"})).mode == "entra"


def test_a_group_that_is_not_an_object_id_is_refused_naming_the_setting() -> None:
    with pytest.raises(ApiAccessError, match="DRIFTWATCH_AUDITORS_GROUP_ID"):
        api_access(load_settings({**ENTRA, "DRIFTWATCH_AUDITORS_GROUP_ID": "driftwatch-auditors"}))


def test_keys_mode_never_reads_the_principal() -> None:
    """The host checked the key; a principal header (forgeable without Easy Auth) neither helps nor hurts."""
    keys = api_access(load_settings({"DRIFTWATCH_AUDITORS_GROUP_ID": AUDITORS}))
    assert keys.authorize({}, easy_auth_on=False) is None
    assert keys.authorize({"x-ms-client-principal": "garbage"}, easy_auth_on=True) is None


@pytest.mark.parametrize(("headers", "easy_auth_on", "status"), [
    ({"X-MS-CLIENT-PRINCIPAL": principal(OTHER_GROUP, AUDITORS)}, True, None),
    ({"x-ms-client-principal": principal(AUDITORS.upper())}, True, None),  # header and GUID case-insensitive
    ({"X-MS-CLIENT-PRINCIPAL": principal(AUDITORS)}, False, 401),  # Easy Auth no longer on: header untrusted
    ({}, True, 401),
    ({"X-MS-CLIENT-PRINCIPAL": ""}, True, 401),
    ({"X-MS-CLIENT-PRINCIPAL": "not base64!"}, True, 401),
    ({"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b"[1, 2]").decode()}, True, 401),
    ({"X-MS-CLIENT-PRINCIPAL": principal(AUDITORS, auth_typ="github")}, True, 401),
    ({"X-MS-CLIENT-PRINCIPAL": principal(OTHER_GROUP)}, True, 403),
    ({"X-MS-CLIENT-PRINCIPAL": principal()}, True, 403),
    ({"X-MS-CLIENT-PRINCIPAL-ID": "11111111-2222-4333-8444-555555555555"}, True, 401),  # the id alone is no proof
])
def test_entra_mode_checks_the_principal(headers: dict[str, str], easy_auth_on: bool, status: int | None) -> None:
    denied = ApiAccess("entra", group_id=AUDITORS).authorize(headers, easy_auth_on=easy_auth_on)
    assert (denied.status if denied else None) == status


def test_the_long_group_claim_name_counts_and_an_overage_is_named() -> None:
    access = ApiAccess("entra", group_id=AUDITORS)
    long_name = principal(extra=[{"typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                                  "val": AUDITORS}])
    assert access.authorize({"X-MS-CLIENT-PRINCIPAL": long_name}, easy_auth_on=True) is None
    overage = principal(extra=[{"typ": "_claim_names", "val": json.dumps({"groups": "src1"})}])
    denied = access.authorize({"X-MS-CLIENT-PRINCIPAL": overage}, easy_auth_on=True)
    assert denied is not None and denied.status == 403 and "overage" in denied.message
    implicit = principal(extra=[{"typ": "hasgroups", "val": "true"}])
    denied = access.authorize({"X-MS-CLIENT-PRINCIPAL": implicit}, easy_auth_on=True)
    assert denied is not None and "overage" in denied.message


def test_decode_principal_ignores_malformed_claims_and_oversized_values() -> None:
    doc = {"auth_typ": "AAD", "claims": [{"typ": "groups", "val": AUDITORS}, {"typ": 1, "val": "x"}, "junk"]}
    raw = base64.b64encode(json.dumps(doc).encode()).decode()
    assert decode_principal(raw) == ("aad", [("groups", AUDITORS)])
    assert decode_principal("A" * (64 * 1024 + 4)) is None

"""The served OpenAPI document says how to call in the mode the app runs in (core/http_api.py).

Function keys (the default, docs/openapi.json): the `functionKey` schemes and the host's bare 401. Entra ID
sign-in (core/api_access.py entra mode): an HTTP bearer scheme, and the 401/403 bodies driftwatch answers,
so a client generated from the document knows to sign in and what a non-member gets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from core.api_access import ApiAccess
from core.http_api import openapi_document
from functions import findings_api
from tests.support.principal import AUDITORS, OTHER_GROUP, signed_in_headers

_app = func.FunctionApp()
_app.register_functions(findings_api.bp)
OPENAPI = next(f for f in _app.get_functions() if f.get_function_name() == "openapi").get_user_function()


def _served(headers: dict[str, str]) -> func.HttpResponse:
    return OPENAPI(func.HttpRequest(method="GET", url="https://func-dw.azurewebsites.net/api/openapi.json",
                                    headers=headers, params={}, route_params={}, body=b""))


@pytest.fixture
def entra(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    findings_api.set_api_access(ApiAccess("entra", group_id=AUDITORS))
    yield
    findings_api.set_api_access(None)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref" and isinstance(v, str)] + [
            r for v in node.values() for r in _refs(v)]
    return [r for v in node for r in _refs(v)] if isinstance(node, list) else []


@pytest.mark.parametrize("sign_in", [False, True])
def test_every_security_requirement_and_reference_resolves(sign_in: bool) -> None:
    doc = openapi_document(sign_in)
    schemes = doc["components"]["securitySchemes"]
    required = [name for req in doc["security"] for name in req]
    for path in doc["paths"].values():
        for req in path["get"].get("security", []):
            required += list(req)
    assert required and set(required) <= set(schemes)
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in doc["components"]["schemas"]


@pytest.mark.usefixtures("entra")
def test_with_sign_in_on_the_served_document_names_the_bearer_scheme_and_the_403() -> None:
    resp = _served(signed_in_headers(AUDITORS))
    assert resp.status_code == 200
    doc = json.loads(resp.get_body())
    assert doc["security"] == [{"entraId": []}]
    assert doc["components"]["securitySchemes"] == {"entraId": {**doc["components"]["securitySchemes"]["entraId"],
                                                                "type": "http", "scheme": "bearer"}}
    summary = doc["paths"]["/summary"]["get"]
    assert {"401", "403"} <= set(summary["responses"]) and "content" in summary["responses"]["403"]
    assert doc["paths"]["/health"]["get"]["security"] == []  # health stays anonymous
    # What the document promises is what a non-member gets.
    refused = _served(signed_in_headers(OTHER_GROUP))
    assert refused.status_code == 403 and json.loads(refused.get_body())["error"]["code"] == "Forbidden"


def test_in_key_mode_the_served_document_names_only_the_function_key_schemes() -> None:
    doc = json.loads(_served({}).get_body())
    assert set(doc["components"]["securitySchemes"]) == {"functionKey", "functionKeyQuery"}
    assert "403" not in doc["paths"]["/summary"]["get"]["responses"]

"""Issue 16 §6: auditors signed in with Entra ID reach the API and the report without a function key.

Two layers, both exercised here: the auth level the registered routes get at import (FUNCTION unless
`DRIFTWATCH_AUDITORS_GROUP_ID` is set *and* App Service says its authentication is on), served over real
HTTP by the local host (`samples.functions_host.FunctionsHttpServer` checks keys per auth level as the
Functions host does) in a fresh interpreter per setting; and the group check every API handler runs,
called through the registered functions with real `azure.functions.HttpRequest` objects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from core.api_access import ApiAccess
from core.http_api import openapi_document
from core.store import StorageConnection, TableFindingsStore
from functions import findings_api
from tests.azurite import AzuriteProcess
from tests.support.principal import AUDITORS, OTHER_GROUP, signed_in_headers
from tests.support.store import T0, make_finding, reset_storage, ws_id

ROOT = Path(__file__).resolve().parents[2]
_app = func.FunctionApp()
_app.register_functions(findings_api.bp)
FUNCTIONS = {f.get_function_name(): f for f in _app.get_functions()}
API_FUNCTIONS = ("findings_list", "findings_get", "findings_summary", "evidence_report", "openapi")


def call(name: str, path: str, headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
         route_params: dict[str, str] | None = None) -> func.HttpResponse:
    req = func.HttpRequest(method="GET", url=f"https://func-dw.azurewebsites.net/api/{path}", headers=headers or {},
                           params=params or {}, route_params=route_params or {}, body=b"")
    return FUNCTIONS[name].get_user_function()(req)


@pytest.fixture
def entra(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The handlers in entra mode, with App Service authentication on in this process's environment."""
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    findings_api.set_api_access(ApiAccess("entra", group_id=AUDITORS))
    yield
    findings_api.set_api_access(None)


@pytest.fixture
def signin_store(azurite: AzuriteProcess) -> Iterator[TableFindingsStore]:
    conn = StorageConnection.from_connection_string(azurite.connection_string)
    reset_storage(conn)
    store = TableFindingsStore(conn)
    a = ws_id("ws-signin")
    store.reconcile([make_finding(a, "DBX-WS-001")], resource_id=a, evaluated_rules=frozenset({"DBX-WS-001"}),
                    now=T0, source="sweep")
    findings_api.set_store(store)
    yield store
    findings_api.set_store(None)


@pytest.mark.integration
@pytest.mark.usefixtures("entra")
def test_a_signed_in_auditor_reaches_findings_and_the_report(signin_store: TableFindingsStore) -> None:
    member = signed_in_headers(OTHER_GROUP, AUDITORS)
    r = call("findings_list", "findings", member)
    assert r.status_code == 200
    found = json.loads(r.get_body())["findings"]
    assert [f["rule_id"] for f in found] == ["DBX-WS-001"]
    assert call("findings_get", f"findings/{found[0]['id']}", member, route_params={"id": found[0]["id"]}
                ).status_code == 200
    assert call("findings_summary", "summary", member).status_code == 200
    report = call("evidence_report", "report", member, params={"framework": "cis"})
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert b"<html" in report.get_body().lower()


@pytest.mark.usefixtures("entra")
@pytest.mark.parametrize("name", API_FUNCTIONS)
def test_every_api_function_refuses_other_groups_and_missing_principals(name: str) -> None:
    path, route = ("findings/x", {"id": "x"}) if name == "findings_get" else (name, None)
    other = call(name, path, signed_in_headers(OTHER_GROUP), route_params=route)
    assert other.status_code == 403 and json.loads(other.get_body())["error"]["code"] == "Forbidden"
    anonymous = call(name, path, route_params=route)
    assert anonymous.status_code == 401 and json.loads(anonymous.get_body())["error"]["code"] == "Unauthorized"


@pytest.mark.usefixtures("entra")
def test_with_easy_auth_gone_a_principal_header_is_refused_and_health_stays_anonymous(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert call("openapi", "openapi.json", signed_in_headers(AUDITORS)).status_code == 200
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED")  # nothing strips X-MS-* headers any more
    forged = call("openapi", "openapi.json", signed_in_headers(AUDITORS))
    assert forged.status_code == 401
    health = call("health", "health")
    assert health.status_code == 200 and json.loads(health.get_body()) == {"status": "ok"}



def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref" and isinstance(v, str)] + [
            r for v in node.values() for r in _refs(v)]
    return [r for v in node for r in _refs(v)] if isinstance(node, list) else []


@pytest.mark.parametrize("sign_in", [False, True])
def test_every_openapi_security_requirement_and_reference_resolves(sign_in: bool) -> None:
    """The served OpenAPI document says how to call in the mode the app runs in (core/http_api.py): the
    function-key schemes (docs/openapi.json), or with sign-in an HTTP bearer scheme and driftwatch's 401/403."""
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
def test_with_sign_in_on_the_served_openapi_names_the_bearer_scheme_and_the_403() -> None:
    resp = call("openapi", "openapi.json", signed_in_headers(AUDITORS))
    assert resp.status_code == 200
    doc = json.loads(resp.get_body())
    assert doc["security"] == [{"entraId": []}]
    scheme = doc["components"]["securitySchemes"]
    assert set(scheme) == {"entraId"} and (scheme["entraId"]["type"], scheme["entraId"]["scheme"]) == ("http", "bearer")
    summary = doc["paths"]["/summary"]["get"]
    assert {"401", "403"} <= set(summary["responses"]) and "content" in summary["responses"]["403"]
    assert doc["paths"]["/health"]["get"]["security"] == []  # health stays anonymous
    refused = call("openapi", "openapi.json", signed_in_headers(OTHER_GROUP))  # what it promises a non-member
    assert refused.status_code == 403 and json.loads(refused.get_body())["error"]["code"] == "Forbidden"


def test_in_key_mode_the_served_openapi_names_only_the_function_key_schemes() -> None:
    doc = json.loads(call("openapi", "openapi.json").get_body())
    assert set(doc["components"]["securitySchemes"]) == {"functionKey", "functionKeyQuery"}
    assert "403" not in doc["paths"]["/summary"]["get"]["responses"]

_SERVE = r"""
import importlib, json, os, sys, urllib.error, urllib.request
from samples.functions_host import FunctionsHttpServer, registered_functions
from tests.support.principal import AUDITORS, OTHER_GROUP, signed_in_headers

def get(server, path, headers):
    req = urllib.request.Request(server.url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code

cases = {"member": signed_in_headers(AUDITORS), "other": signed_in_headers(OTHER_GROUP), "none": {},
         "member+key": {**signed_in_headers(AUDITORS), "x-functions-key": "k"}, "key": {"x-functions-key": "k"}}
results, apps = {}, []  # apps kept alive: registered_functions caches by id(app)
for label, env in json.loads(sys.argv[1]).items():
    os.environ.update(env)
    for gone in {"DRIFTWATCH_AUDITORS_GROUP_ID", "WEBSITE_AUTH_ENABLED"} - set(env):
        os.environ.pop(gone, None)
    # a fresh index of the app under these settings, as a restarted Functions host would do
    import functions.findings_api, function_app
    importlib.reload(functions.findings_api)
    importlib.reload(function_app)
    apps.append(function_app.app)
    levels = {}
    for name, f in registered_functions(function_app.app).items():
        b = json.loads(f.get_function_json())["bindings"][0]
        if b["type"] == "httpTrigger":
            levels[name] = b["authLevel"].upper()
    with FunctionsHttpServer(function_app.app, function_key="k") as server:
        status = {c: get(server, "/api/openapi.json", h) for c, h in cases.items()}
        status["health"] = get(server, "/api/health", {})
    results[label] = {"levels": levels, "status": status}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    """The app indexed under each setting in a fresh interpreter (one, to keep the cost of imports once), its
    routes served over real HTTP."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DRIFTWATCH_AUDITORS_GROUP_ID", "WEBSITE_AUTH_ENABLED")}
    settings = {"entra": {"DRIFTWATCH_AUDITORS_GROUP_ID": AUDITORS, "WEBSITE_AUTH_ENABLED": "True"},
                "group_only": {"DRIFTWATCH_AUDITORS_GROUP_ID": AUDITORS}}
    out = subprocess.run([sys.executable, "-c", _SERVE, json.dumps(settings)], cwd=ROOT, env=clean,
                         capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_with_easy_auth_on_the_api_routes_need_a_group_member_not_a_key(served: dict[str, Any]) -> None:
    got = served["entra"]
    assert got["levels"] == {name: "ANONYMOUS" for name in (*API_FUNCTIONS, "health")}
    assert got["status"] == {"member": 200, "other": 403, "none": 401, "member+key": 200, "key": 401,
                             "health": 200}


def test_a_group_without_easy_auth_keeps_function_keys_and_a_forged_principal_gets_nothing(
        served: dict[str, Any]) -> None:
    got = served["group_only"]
    assert got["levels"] == {**{name: "FUNCTION" for name in API_FUNCTIONS}, "health": "ANONYMOUS"}
    # the forged member principal without a key is stopped by the host's key check; the key alone decides
    assert got["status"] == {"member": 401, "other": 401, "none": 401, "member+key": 200, "key": 200,
                             "health": 200}

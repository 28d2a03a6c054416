"""The auditors' HTTP API through real azure.functions request objects, backed by Azurite."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import azure.functions as func
import pytest

from core.store import StorageConnection, TableFindingsStore
from functions import findings_api
from tests.azurite import ACCOUNT_KEY, AzuriteProcess, free_port
from tests.support.store import T0, make_finding, reset_storage, ws_id

pytestmark = pytest.mark.integration

A = ws_id("ws-api")
EVAL = frozenset({"DBX-WS-001", "DBX-WS-002", "DBX-NET-005"})

_app = func.FunctionApp()
_app.register_functions(findings_api.bp)
FUNCTIONS = {f.get_function_name(): f for f in _app.get_functions()}  # get_functions() may run once per app


def call(name: str, url: str, params: dict[str, str] | None = None,
         route_params: dict[str, str] | None = None) -> func.HttpResponse:
    req = func.HttpRequest(method="GET", url=url, params=params or {}, route_params=route_params or {}, body=b"")
    return FUNCTIONS[name].get_user_function()(req)


def body(resp: func.HttpResponse) -> Any:
    return json.loads(resp.get_body())


@pytest.fixture(scope="module")
def api_connection(azurite: AzuriteProcess) -> StorageConnection:
    return StorageConnection.from_connection_string(azurite.connection_string)


@pytest.fixture
def api_store(api_connection: StorageConnection) -> Iterator[TableFindingsStore]:
    reset_storage(api_connection)
    store = TableFindingsStore(api_connection)
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-WS-002", severity="critical"),
                     make_finding(A, "DBX-NET-005", "=cmd|calc", status="exempted", severity="critical")],
                    resource_id=A, evaluated_rules=EVAL, now=T0, source="sweep")
    store.reconcile([make_finding(A, "DBX-WS-001"), make_finding(A, "DBX-NET-005", "=cmd|calc", status="exempted",
                                                                 severity="critical")],
                    resource_id=A, evaluated_rules=EVAL, now=T0 + timedelta(hours=1), source="sweep")
    findings_api.set_store(store)
    yield store
    findings_api.set_store(None)


def test_bindings_in_function_json() -> None:
    assert set(FUNCTIONS) == {"findings_list", "findings_get", "findings_summary", "health", "evidence_report",
                              "openapi"}
    expected = {"findings_list": ("findings", "FUNCTION"), "findings_get": ("findings/{id}", "FUNCTION"),
                "findings_summary": ("summary", "FUNCTION"), "health": ("health", "ANONYMOUS"),
                "evidence_report": ("report", "FUNCTION"), "openapi": ("openapi.json", "FUNCTION")}
    for name, (route, level) in expected.items():
        bindings = json.loads(FUNCTIONS[name].get_function_json())["bindings"]
        trigger = next(b for b in bindings if b["type"] == "httpTrigger")
        assert trigger["route"] == route and trigger["authLevel"] == level and trigger["methods"] == ["GET"]
        assert any(b["type"] == "http" and b["direction"] == "OUT" for b in bindings)


def test_health_needs_no_store() -> None:
    findings_api.set_store(None)
    resp = call("health", "/api/health")
    assert resp.status_code == 200 and body(resp) == {"status": "ok"}


def test_list_filters_and_page_shape(api_store: TableFindingsStore) -> None:
    resp = call("findings_list", "/api/findings", {"status": "open", "code": "function-key"})
    doc = body(resp)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert doc["schema"] == "driftwatch.findings-page/v1" and doc["continuation"] is None
    assert [f["rule_id"] for f in doc["findings"]] == ["DBX-WS-001"]
    assert doc["findings"][0]["schema"] == "driftwatch.finding/v1"
    assert len(body(call("findings_list", "/api/findings", {"severity": "critical"}))["findings"]) == 2
    assert len(body(call("findings_list", "/api/findings", {"workspace": A.upper()}))["findings"]) == 3
    # since= selects what changed in the period (issue 16): only DBX-WS-002 (resolved at 09:00) did
    changed = body(call("findings_list", "/api/findings", {"since": "2026-03-01T08:30:00Z"}))["findings"]
    assert [(f["rule_id"], f["status"]) for f in changed] == [("DBX-WS-002", "resolved")]
    assert len(body(call("findings_list", "/api/findings", {"rule": "DBX-WS-002", "status": "resolved"}))[
        "findings"]) == 1


def test_paging_through_http(api_store: TableFindingsStore) -> None:
    got: list[str] = []
    token = None
    for _ in range(5):
        params = {"top": "1"} | ({"continuation": token} if token else {})
        doc = body(call("findings_list", "/api/findings", params))
        got += [f["id"] for f in doc["findings"]]
        token = doc["continuation"]
        if token is None:
            break
    assert len(got) == 3 and len(set(got)) == 3


def test_csv(api_store: TableFindingsStore) -> None:
    resp = call("findings_list", "/api/findings", {"format": "csv", "top": "2"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_body().decode())))
    assert len(rows) == 2 and resp.headers.get(findings_api.CONTINUATION_HEADER)
    full = list(csv.DictReader(io.StringIO(call("findings_list", "/api/findings", {"format": "csv"}).get_body()
                                           .decode())))
    assert any(r["subject"] == "'=cmd|calc" for r in full)  # spreadsheet formula neutralised


@pytest.mark.parametrize(("params", "parameter"), [
    ({"status": "closed"}, "status"),
    ({"severity": "urgent"}, "severity"),
    ({"rule": "dbx-ws-001"}, "rule"),
    ({"rule": "DBX-WS-1"}, "rule"),
    ({"since": "yesterday"}, "since"),
    ({"top": "0"}, "top"),
    ({"top": "1001"}, "top"),
    ({"top": "ten"}, "top"),
    ({"format": "xml"}, "format"),
    ({"$filter": "PartitionKey ne ''"}, "$filter"),
    ({"statuss": "open"}, "statuss"),
    ({"status": "open' or '1' eq '1"}, "status"),
    ({"rule": "DBX-WS-001' or RowKey ne '"}, "rule"),
    ({"continuation": "not-a-token"}, "continuation"),
])
def test_bad_parameters_are_400_naming_them(api_store: TableFindingsStore, params: dict[str, str],
                                            parameter: str) -> None:
    resp = call("findings_list", "/api/findings", params)
    err = body(resp)["error"]
    assert resp.status_code == 400 and err["code"] == "BadRequest" and err["parameter"] == parameter
    assert parameter in err["message"]


@pytest.mark.parametrize("value", ["x' or '1' eq '1", "' or PartitionKey ne '", "''", "/subscriptions/' or 1 eq 1"])
def test_injection_in_free_text_matches_nothing(api_store: TableFindingsStore, value: str) -> None:
    for param in ("workspace", "subscription"):
        resp = call("findings_list", "/api/findings", {param: value})
        assert resp.status_code == 200 and body(resp)["findings"] == []


def test_tampered_continuation_is_400(api_store: TableFindingsStore) -> None:
    token = body(call("findings_list", "/api/findings", {"top": "1"}))["continuation"]
    resp = call("findings_list", "/api/findings", {"top": "1", "continuation": token[:-3] + "AAA"})
    assert resp.status_code == 400 and body(resp)["error"]["parameter"] == "continuation"
    other = call("findings_list", "/api/findings", {"top": "1", "status": "open", "continuation": token})
    assert other.status_code == 400


def test_show_with_history_and_404(api_store: TableFindingsStore) -> None:
    fid = body(call("findings_list", "/api/findings", {"rule": "DBX-WS-002"}))["findings"][0]["id"]
    resp = call("findings_get", f"/api/findings/{fid}", route_params={"id": fid})
    doc = body(resp)
    assert resp.status_code == 200 and doc["id"] == fid and doc["status"] == "resolved"
    assert [h["transition"] for h in doc["history"]] == ["opened", "resolved"]
    assert doc["history"][0]["schema"] == "driftwatch.transition/v1"
    for bad in ("0" * 32, "x' or '1' eq '1"):
        r = call("findings_get", "/api/findings/x", route_params={"id": bad})
        assert r.status_code == 404 and body(r)["error"]["code"] == "NotFound"
    r = call("findings_get", f"/api/findings/{fid}", {"expand": "all"}, route_params={"id": fid})
    assert r.status_code == 400 and body(r)["error"]["parameter"] == "expand"


def test_summary(api_store: TableFindingsStore) -> None:
    doc = body(call("findings_summary", "/api/summary"))
    assert doc["total"] == 3 and doc["by_status"] == {"open": 1, "resolved": 1, "exempted": 1}
    assert doc["by_rule"] == {"DBX-NET-005": 1, "DBX-WS-001": 1, "DBX-WS-002": 1}
    assert doc["by_workspace"] == {A.lower(): 3}


def test_storage_down_is_503_without_secrets() -> None:
    port = free_port()
    cs = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
          f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;")
    findings_api.set_store(TableFindingsStore.from_connection_string(cs, retry_total=0))
    try:
        checks: list[tuple[str, Callable[[], func.HttpResponse]]] = [
            ("list", lambda: call("findings_list", "/api/findings", {"status": "open"})),
            ("get", lambda: call("findings_get", "/api/findings/x", route_params={"id": "a" * 32})),
            ("summary", lambda: call("findings_summary", "/api/summary")),
        ]
        for _, run in checks:
            resp = run()
            text = resp.get_body().decode()
            assert resp.status_code == 503
            assert ACCOUNT_KEY not in text and "AccountKey" not in text and str(port) not in text
            assert "127.0.0.1" not in text and "devstoreaccount1" not in text
    finally:
        findings_api.set_store(None)


def test_store_not_configured_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AzureWebJobsStorage", "AzureWebJobsStorage__accountName"):
        monkeypatch.delenv(name, raising=False)
    findings_api.set_store(None)
    resp = call("findings_list", "/api/findings")
    assert resp.status_code == 503 and body(resp)["error"]["code"] == "ServiceUnavailable"

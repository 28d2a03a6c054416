"""as_of / since / until / framework / control on the API, the report endpoint and the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from core.http_api import openapi_json
from core.store import StorageConnection, TableFindingsStore
from functions import findings_api
from tests.azurite import AzuriteProcess
from tests.contract.store.test_history_asof import EVAL, T0, A, H, _timeline
from tests.support.store import reset_storage

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

_app = func.FunctionApp()
_app.register_functions(findings_api.bp)
FUNCTIONS = {f.get_function_name(): f for f in _app.get_functions()}


def call(name: str, params: dict[str, str] | None = None, route_params: dict[str, str] | None = None) -> Any:
    req = func.HttpRequest(method="GET", url=f"/api/{name}", params=params or {}, route_params=route_params or {},
                           body=b"")
    return FUNCTIONS[name].get_user_function()(req)


def body(resp: func.HttpResponse) -> Any:
    return json.loads(resp.get_body())


def iso(dt: Any) -> str:
    return dt.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def timeline_store(azurite: AzuriteProcess) -> Iterator[TableFindingsStore]:
    conn = StorageConnection.from_connection_string(azurite.connection_string)
    reset_storage(conn)
    store = TableFindingsStore(conn)
    _timeline(store)
    findings_api.set_store(store)
    yield store
    findings_api.set_store(None)


def test_findings_as_of_and_changes(timeline_store: TableFindingsStore) -> None:
    resp = call("findings_list", {"as_of": iso(T0 + 2 * H), "status": "resolved"})
    doc = body(resp)
    assert resp.status_code == 200 and doc["as_of"] == "2026-03-01T10:00:00Z"
    assert [f["rule_id"] for f in doc["findings"]] == ["DBX-WS-001"]
    changed = body(call("findings_list", {"since": iso(T0 + H), "until": iso(T0 + H)}))["findings"]
    assert sorted(f["rule_id"] for f in changed) == ["DBX-NET-005", "DBX-WS-003"]
    # paging over a reconstruction: one at a time, the token carries on and is bound to the query
    first = body(call("findings_list", {"as_of": iso(T0 + 3 * H), "top": "1"}))
    second = body(call("findings_list", {"as_of": iso(T0 + 3 * H), "top": "1", "continuation": first["continuation"]}))
    assert first["findings"][0]["id"] != second["findings"][0]["id"]
    other = call("findings_list", {"as_of": iso(T0), "top": "1", "continuation": first["continuation"]})
    assert other.status_code == 400 and body(other)["error"]["parameter"] == "continuation"


def test_framework_and_control_filters(timeline_store: TableFindingsStore) -> None:
    cis = body(call("findings_list", {"framework": "cis"}))["findings"]
    assert sorted(f["rule_id"] for f in cis) == ["DBX-NET-005", "DBX-WS-003"]  # WS-001 maps to no CIS control
    ns2 = body(call("findings_list", {"framework": "mcsb", "control": "NS-2"}))["findings"]
    assert [f["rule_id"] for f in ns2] == ["DBX-WS-003"]
    assert {"framework": "cis", "control": "2.1.10", "version": "6.0"}.items() <= ns2[0]["controls"][0].items()
    # a control id alone matches it in any framework
    assert [f["rule_id"] for f in body(call("findings_list", {"control": "NS-2"}))["findings"]] == ["DBX-WS-003"]
    for params, parameter in [({"framework": "cis", "control": "9.9.9"}, "control"),
                              ({"framework": "nist"}, "framework"), ({"as_of": "last tuesday"}, "as_of"),
                              ({"as_of": "1700000000"}, "as_of"), ({"since": "2026-03-01T08:00:00"}, "since")]:
        resp = call("findings_list", params)
        assert resp.status_code == 400 and body(resp)["error"]["parameter"] == parameter, params
    # an empty period (until before since) is not an error: nothing changed in it
    assert body(call("findings_list", {"since": iso(T0 + H), "until": iso(T0)}))["findings"] == []


def test_finding_as_of_and_summary(timeline_store: TableFindingsStore) -> None:
    fid = next(f.id for f in timeline_store.findings_as_of(T0) if f.rule_id == "DBX-WS-001")
    d = body(call("findings_get", {"as_of": iso(T0 + 2 * H)}, {"id": fid}))
    assert d["status"] == "resolved" and [t["transition"] for t in d["history"]] == ["opened", "resolved"]
    assert call("findings_get", {"as_of": iso(T0 - H)}, {"id": fid}).status_code == 404
    s = body(call("findings_summary", {"as_of": iso(T0 + H), "since": iso(T0), "until": iso(T0 + H),
                                       "framework": "cis"}))
    # framework=cis counts only CIS-mapped rules: DBX-WS-001 (no CIS control) is left out
    assert s["by_status"] == {"open": 1, "resolved": 0, "exempted": 1} and s["as_of"] == "2026-03-01T09:00:00Z"
    assert s["transitions"] == {"opened": 2, "resolved": 0, "reopened": 0, "exempted": 1}
    assert s["by_control"]["2.1.2"] == {"open": 0, "resolved": 0, "exempted": 1}
    assert s["by_control"]["2.1.10"] == {"open": 1, "resolved": 0, "exempted": 0}


def test_report_endpoint_json_and_html(timeline_store: TableFindingsStore) -> None:
    doc = body(call("evidence_report", {"format": "json", "as_of": iso(T0 + 2 * H), "since": iso(T0),
                                        "framework": "cis"}))
    assert doc["schema"] == "driftwatch.evidence-report/v1" and doc["reconstructed"] is True
    ws = {w["name"]: w["controls"] for w in doc["workspaces"]}
    # 2.1.2 maps NET-003/004/005: only NET-005 was checked on ws-a, so not evaluated (never a pass)
    assert ws["ws-a"]["2.1.2"] == "not_evaluated"
    assert ws["ws-a"]["2.1.10"] == "pass" and ws["ws-b"]["2.1.10"] == "fail"  # WS-003 checked on both, open on B
    assert ws["ws-b"]["2.1.2"] == "not_evaluated"
    assert [x["reason"] for x in doc["exemptions"]] == ["vendor <b>ssh</b>"] and doc["exemptions"][0]["expired"] is False
    assert doc["baseline_sha256"] == ["0" * 64, "a" * 64, "b" * 64]  # the findings' and the coverage records'
    assert [t["transition"] for t in doc["transitions"]].count("resolved") == 1
    resp = call("evidence_report", {"subscription": A.split("/")[2]})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "ws-b" not in resp.get_body().decode() and "ws-a" in resp.get_body().decode()


def test_openapi_is_served_and_docs_are_current() -> None:
    resp = call("openapi")
    assert resp.status_code == 200 and resp.get_body().decode() == openapi_json()
    assert (ROOT / "docs" / "openapi.json").read_text() == openapi_json(), "run: make docs"
    doc = body(resp)
    assert doc["openapi"].startswith("3.1") and set(doc["paths"]) == {
        "/findings", "/findings/{id}", "/summary", "/report", "/openapi.json", "/health"}
    names = {p["name"] for p in doc["paths"]["/findings"]["get"]["parameters"]}
    assert {"as_of", "since", "until", "framework", "control", "status", "top", "continuation"} <= names
    assert EVAL  # the timeline's rule set is what coverage records

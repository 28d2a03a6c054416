"""The HTTP API: only health is anonymous, and query parameters cannot widen a query (OData injection)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.app import App

API = "http://localhost:7071/api"


def _http_bindings() -> dict[str, dict[str, Any]]:
    import function_app
    from samples.functions_host import registered_functions

    out = {}
    for name, fn in registered_functions(function_app.app).items():
        for b in json.loads(fn.get_function_json())["bindings"]:
            if b["type"] == "httpTrigger":
                out[name] = b
    return out


def test_every_http_function_needs_a_function_key_except_health() -> None:
    bindings = _http_bindings()
    assert set(bindings) == {"findings_list", "findings_get", "findings_summary", "health", "evidence_report",
                             "openapi"}, "a new HTTP function must be added here with the auth level it needs"
    levels = {name: b["authLevel"].upper() for name, b in bindings.items()}
    assert levels == {"findings_list": "FUNCTION", "findings_get": "FUNCTION", "findings_summary": "FUNCTION",
                      "health": "ANONYMOUS", "evidence_report": "FUNCTION", "openapi": "FUNCTION"}
    assert all(b["methods"] == ["GET"] for b in bindings.values()), "the API is read-only"


def test_the_app_default_auth_level_is_function_and_events_arrive_only_through_event_grid() -> None:
    import azure.functions as func

    import function_app

    assert function_app.app.auth_level == func.AuthLevel.FUNCTION
    from samples.functions_host import registered_functions

    kinds = {name: json.loads(fn.get_function_json())["bindings"][0]["type"]
             for name, fn in registered_functions(function_app.app).items()}
    # Events reach the app only through the Event Grid extension endpoint (system key), never an HTTP route.
    assert kinds["on_resource_change"] == "eventGridTrigger"
    assert [n for n, k in kinds.items() if k == "httpTrigger"] == ["findings_list", "findings_get",
                                                                    "findings_summary", "evidence_report", "openapi",
                                                                    "health"]


def _ids(a: App, params: dict[str, str]) -> tuple[int, set[str]]:
    r = a.host.http("findings_list", "GET", f"{API}/findings", params={**params, "top": "1000"})
    if r.status_code != 200:
        return r.status_code, set()
    return 200, {x["id"] for x in json.loads(r.get_body())["findings"]}


INJECTIONS = ["' or '1' eq '1", "' or PartitionKey ne '", "') or (RowKey ne '", "x' or true or '", "%27 or 1 eq 1",
              "' or status eq 'resolved", "\u2019 or '1' eq '1"]


def test_odata_injection_through_the_api_never_widens_results(app: App) -> None:
    app.host.fire_timer()
    app.run_queues()
    status, open_ids = _ids(app, {"status": "open"})
    assert status == 200 and len(open_ids) > 10
    _, every = _ids(app, {})
    some = app.open_findings()[0]
    ws, sub = some.resource_id, some.subscription_id
    _, in_ws = _ids(app, {"workspace": ws})
    assert 0 < len(in_ws) < len(every)
    for payload in INJECTIONS:
        for param, base, base_ids in (("status", "open", open_ids), ("severity", "high", None),
                                      ("rule", "DBX-NET-005", None), ("workspace", ws, in_ws),
                                      ("subscription", sub, None)):
            code, ids = _ids(app, {param: base + payload})
            assert code in (200, 400), (param, payload, code)
            if code == 200:
                if base_ids is None:
                    base_ids = _ids(app, {param: base})[1]
                assert ids <= base_ids, f"{param}={base + payload!r} widened the result"
                assert len(ids) < len(every)
        code, _ = _ids(app, {"continuation": payload})
        assert code == 400, payload  # tampered continuation tokens are refused
    for param in ("status", "severity", "rule"):
        r = app.host.http("findings_list", "GET", f"{API}/findings", params={param: "open' or '1' eq '1"})
        assert r.status_code == 400 and json.loads(r.get_body())["error"]["parameter"] == param


@pytest.mark.parametrize("fid", ["' or '1' eq '1", "x') or (PartitionKey ne 'y", "../../summary"])
def test_injection_through_the_finding_id_is_a_404(app: App, fid: str) -> None:
    r = app.host.http("findings_get", "GET", f"{API}/findings/{fid}", route_params={"id": fid})
    assert r.status_code in (400, 404)

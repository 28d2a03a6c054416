"""The registered functions under garbage: queue messages end in `{queue}-poison` with a reason and the
function returns normally; `/api/findings` answers 400 (never 500) and echoes only a short excerpt.

The HTTP host hands Python one string per query parameter; repeated parameters are modelled as the
comma-joined value (`host_params`).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.findings_api import FindingsQuery, parse_findings_query
from tests.fuzz import strategies as s
from tests.support.app import App

FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
MAX_ECHO = 60


def _error(resp: func.HttpResponse) -> dict[str, Any]:
    body = resp.get_body()
    body.decode("ascii")  # JSON with every non-ASCII character escaped: nothing raw reaches a browser
    return dict(json.loads(body)["error"])


def assert_no_long_echo(resp: func.HttpResponse, pairs: list[tuple[str, str]]) -> None:
    text = json.loads(resp.get_body())
    flat = json.dumps(text, ensure_ascii=False)
    for k, v in pairs:
        for given_text in (k, v):
            if len(given_text) > MAX_ECHO:
                assert given_text[: MAX_ECHO + 1] not in flat, "a long input was echoed"
    assert "<script" not in flat.lower()


# -- query validation (pure) -------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(s.bad_query_strings())
def test_bad_query_strings_are_400_naming_the_parameter(case: tuple[list[tuple[str, str]], str | None]) -> None:
    pairs, culprit = case
    resp = parse_findings_query(s.host_params(pairs))
    if culprit == "continuation" and isinstance(resp, FindingsQuery):
        return  # a well-formed but foreign token: the store refuses it (400), see test_findings_api_never_500
    assert isinstance(resp, func.HttpResponse) and resp.status_code == 400
    err = _error(resp)
    assert err["code"] == "BadRequest" and err["parameter"] and err["message"]
    if culprit is not None:
        assert err["parameter"] == culprit and culprit in err["message"]
    else:
        assert len(err["parameter"]) <= 43
    assert_no_long_echo(resp, pairs)


@settings(max_examples=200, deadline=None)
@given(s.random_query_strings)
def test_random_query_strings_validate_or_400(pairs: list[tuple[str, str]]) -> None:
    out = parse_findings_query(s.host_params(pairs))
    if isinstance(out, func.HttpResponse):
        assert out.status_code == 400 and _error(out)["parameter"]
        assert_no_long_echo(out, pairs)
    else:
        assert isinstance(out, FindingsQuery)


def test_regression_since_beyond_the_datetime_range_is_400_not_500() -> None:
    for since in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00"):
        resp = parse_findings_query({"since": since})
        assert isinstance(resp, func.HttpResponse) and resp.status_code == 400
        assert _error(resp)["parameter"] == "since"


def test_regression_unknown_parameter_names_are_not_echoed_in_full() -> None:
    names = ["<img src=x onerror=alert(1)>" + "z" * 5000] + [f"p{i}" for i in range(50)]
    resp = parse_findings_query(dict.fromkeys(names, "1"))
    assert isinstance(resp, func.HttpResponse) and resp.status_code == 400
    err = _error(resp)
    assert len(resp.get_body()) < 600 and "<img" not in err["parameter"] and "and 46 more" in err["message"]


# -- HTTP through the registered function, backed by Azurite --------------------------------------------------

@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURE_OK)
@given(st.one_of(s.bad_query_strings().map(lambda c: c[0]), s.random_query_strings))
def test_findings_api_never_500(app: App, pairs: list[tuple[str, str]]) -> None:
    resp = app.host.http("findings_list", "GET", "http://localhost/api/findings", params=s.host_params(pairs))
    assert resp.status_code in (200, 400), (resp.status_code, resp.get_body()[:300])
    if resp.status_code == 400:
        assert _error(resp)["parameter"]
        assert_no_long_echo(resp, pairs)


# -- queue messages ------------------------------------------------------------------------------------------

def _poison(host_app: App, queue: str) -> list[dict[str, Any]]:
    from azure.core.exceptions import ResourceExistsError

    client = host_app.rt.connection.queue(f"{queue}-poison")
    with contextlib.suppress(ResourceExistsError):
        client.create_queue()
    out = [json.loads(m.content) for m in client.peek_messages(max_messages=32)]
    client.clear_messages()
    return out


def _deliver(host_app: App, function: str, queue: str, body: bytes) -> dict[str, Any]:
    _poison(host_app, queue)
    msg = QueueMessage(id="m1", body=body, dequeue_count=1, pop_receipt="r")
    assert host_app.host.call(function, msg) is None  # returns normally: no host retry loop
    [envelope] = _poison(host_app, queue)
    assert envelope["schema"] == "driftwatch.rejected-message/v1" and envelope["queue"] == queue
    assert envelope["reason"] and len(envelope["reason"]) <= 2000
    return envelope


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURE_OK)
@given(s.garbage_messages("driftwatch.scan-request/v1"))
def test_garbage_scan_requests_go_to_poison_with_a_reason(app: App, body: bytes) -> None:
    env = _deliver(app, "scan_workspace", "scan-requests", body)
    assert "UTF-8" in env["reason"] or "scan-request" in env["reason"]


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURE_OK)
@given(s.garbage_messages("driftwatch.transition/v1", kinds=(0, 1, 2, 4)))
def test_garbage_transitions_go_to_poison_with_a_reason(app: App, body: bytes) -> None:
    env = _deliver(app, "notify_drift", "drift-findings", body)
    assert "UTF-8" in env["reason"] or "transition" in env["reason"]


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURE_OK)
@given(s.garbage_messages("driftwatch.transition/v1", kinds=(3,)))
def test_transition_shaped_garbage_goes_to_poison_with_a_reason(app: App, body: bytes) -> None:
    _deliver(app, "notify_drift", "drift-findings", body)


DEEP = {"array": "[" * 100_000 + "]" * 100_000, "object": '{"a":' * 100_000 + "1" + "}" * 100_000}


@pytest.mark.parametrize(("function", "queue", "shape"), [
    ("scan_workspace", "scan-requests", "array"),
    ("scan_workspace", "scan-requests", "object"),
    ("notify_drift", "drift-findings", "array"),
    ("notify_drift", "drift-findings", "object"),
])
def test_deeply_nested_queue_messages_go_to_poison(app: App, function: str, queue: str,
                                                   shape: str) -> None:
    t0 = time.perf_counter()
    _deliver(app, function, queue, DEEP[shape].encode())
    print(f"100,000-level {shape} on {queue}: {time.perf_counter() - t0:.3f}s")


def test_large_invalid_utf8_scan_request_goes_to_poison(app: App) -> None:
    # 48 KB is what fits in a 64 KB base64 queue message; each bad byte becomes U+FFFD, escaped to 6 characters.
    _deliver(app, "scan_workspace", "scan-requests", b"\xff" * 48_000)

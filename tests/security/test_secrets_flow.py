"""A real flow with a recognisable webhook secret: it must surface nowhere an operator or auditor reads.

Azurite + the estate emulator + the registered functions (tests/support/app.py). TEAMS_WEBHOOK_URL
carries a `sig=` value; the sweep, a drift event, Teams failures (500, 404, 403) and a storage outage
run; then every stored row (all tables), every queue message the host handled or left in a poison
queue, every API response body and every exception text is searched for the secrets. Log records
are checked by the suite-wide scanner (tests/conftest.py), which is also told the `sig` value here.
"""

from __future__ import annotations

import dataclasses
import json
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from core.collect.auth import EMULATOR_TOKEN
from samples import factory as f
from samples.azurite import ACCOUNT_KEY
from tests.azurite import AzuriteProcess
from tests.support.app import App, make_app

SIG = "DwSeCrEtSiG-4f1c9a7e2b6d8035"
NSG_ANALYTICS = next(r["id"] for r in f.sample_estate()["resources"] if r.get("name") == "nsg-analytics")
API = "http://localhost:7071/api"


def webhook(app: App, path: str = "/teams/webhook") -> str:
    return f"{app.emulator.url}{path}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"


def forbidden(app: App) -> list[str]:
    """Strings that must never appear in stored data, messages, responses or errors."""
    url = webhook(app)
    return [SIG, "sig=", url.split("?", 1)[1], ACCOUNT_KEY, "AccountKey=", "SharedAccessSignature",
            app.connection_string, f"Bearer {EMULATOR_TOKEN}", "Bearer "]


def assert_clean(app: App, text: str, where: str) -> None:
    for secret in forbidden(app):
        assert secret not in text, f"{where} carries {secret[:12]!r}…: {text[:300]}"


@dataclasses.dataclass
class Seen:
    messages: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)


@pytest.fixture
def secret_app(azurite: AzuriteProcess, log_secrets: Callable[[str], None]) -> Iterator[tuple[App, Seen]]:
    """The app with a webhook URL holding SIG; every queue message and exception the host sees is kept."""
    log_secrets(SIG)
    with make_app(azurite.connection_string) as app:
        app.rt.settings = dataclasses.replace(app.rt.settings, teams_webhook_url=webhook(app))
        seen = Seen()
        host_call = app.host.call

        def call(name: str, *args: Any) -> Any:
            for a in args:
                if hasattr(a, "get_body"):
                    seen.messages.append(a.get_body().decode("utf-8", "replace"))
            try:
                return host_call(name, *args)
            except Exception as exc:
                seen.errors.append("".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.args))
                raise

        app.host.call = call  # type: ignore[method-assign]
        yield app, seen


def _open_ssh(app: App) -> None:
    rule = f.nsg_rule(NSG_ANALYTICS, "temp-debug", "Inbound", 150, "Tcp", "Internet", "*", "22")
    r = requests.put(f"{app.emulator.url}{rule['id']}?api-version=2025-07-01", json=rule,
                     headers={"Authorization": "Bearer x"}, timeout=5)
    assert r.status_code in (200, 201)


def _peek(app: App, queue: str) -> list[str]:
    return [m.content for m in app.rt.connection.queue(queue).peek_messages(max_messages=32)]


def _receive_all(app: App, queue: str) -> list[str]:
    from azure.core.exceptions import ResourceNotFoundError

    client = app.rt.connection.queue(queue)
    try:
        return [m.content for m in client.receive_messages(max_messages=32, visibility_timeout=60)]
    except ResourceNotFoundError:
        return []


def _all_rows(app: App) -> list[str]:
    service = app.rt.connection.table_service
    return [json.dumps(entity, default=str) for t in service.list_tables()
            for entity in service.get_table_client(t.name).list_entities()]


def _api_bodies(app: App) -> list[tuple[str, str]]:
    h = app.host
    out = []
    for name, url, params in (("findings_list", f"{API}/findings", {}),
                              ("findings_list", f"{API}/findings", {"status": "open", "format": "csv"}),
                              ("findings_list", f"{API}/findings", {"top": "2"}),
                              ("findings_list", f"{API}/findings", {"status": "bogus"}),
                              ("findings_summary", f"{API}/summary", {}),
                              ("health", f"{API}/health", {})):
        r = h.http(name, "GET", url, params=params)
        out.append((f"{name} {params} -> {r.status_code}", r.get_body().decode() + json.dumps(dict(r.headers))))
    findings, _ = app.store().query(top=1000)
    for x in findings:
        r = h.http("findings_get", "GET", f"{API}/findings/{x.id}", route_params={"id": x.id})
        assert r.status_code == 200
        out.append((f"findings_get {x.id}", r.get_body().decode()))
    r = h.http("findings_get", "GET", f"{API}/findings/nope", route_params={"id": "nope"})
    out.append(("findings_get nope", r.get_body().decode()))
    return out


def _pending_workspace(app: App) -> str:
    """A second drift, scanned but not yet notified: its transitions are pending."""
    rule = f.nsg_rule(NSG_ANALYTICS, "temp-debug-2", "Inbound", 160, "Tcp", "Internet", "*", "3389")
    requests.put(f"{app.emulator.url}{rule['id']}?api-version=2025-07-01", json=rule,
                 headers={"Authorization": "Bearer x"}, timeout=5).raise_for_status()
    app.host.deliver_event_grid(app.emulator.events()[-1:])
    app.host.drain("scan-requests", "scan_workspace")
    (finding,) = [x for x in app.store().query(status="open", top=1000)[0] if x.subject == "temp-debug-2"]
    assert app.store().pending_notifications(finding.resource_id)
    return str(finding.resource_id)


def test_webhook_secret_never_reaches_findings_messages_responses_or_errors(secret_app: tuple[App, Seen]) -> None:
    from core import service
    from core.notify import NotifyError

    app, seen = secret_app
    # 1. the sweep: scan requests and transitions are peeked before the host drains them
    app.host.fire_timer()
    peeked = _peek(app, "scan-requests")
    assert peeked
    app.host.drain("scan-requests", "scan_workspace")
    peeked += _peek(app, "drift-findings")
    _, notes = app.run_queues()
    posts = app.emulator.teams_posts()
    assert notes.succeeded >= 1 and posts, "digests went to the webhook whose URL holds the secret"
    # 2. a drift event while Teams answers 500: retried by the host, then the poison queue
    app.emulator.clear_events()
    app.emulator.set_faults([{"match": "/teams/", "action": "500"}])
    _open_ssh(app)
    app.host.deliver_event_grid(app.emulator.events())
    _, failed = app.run_queues()
    assert failed.poisoned == 1
    app.emulator.clear_faults()
    # 3. another drift, notified by hand: the webhook is gone (404), then Teams refuses it (403)
    workspace = _pending_workspace(app)
    peeked += _peek(app, "drift-findings")
    app.rt.settings = dataclasses.replace(app.rt.settings, teams_webhook_url=webhook(app, "/gone/webhook"))
    with pytest.raises(NotifyError) as gone:
        service.notify_workspace(app.rt, workspace, final_attempt=False)
    app.rt.settings = dataclasses.replace(app.rt.settings, teams_webhook_url=webhook(app))
    app.emulator.set_faults([{"match": "/teams/", "action": "403"}])
    with pytest.raises(NotifyError) as refused:
        service.notify_workspace(app.rt, workspace, final_attempt=True)  # records notify_error in the store
    app.emulator.clear_faults()
    for exc in (gone.value, refused.value):
        assert exc.__cause__ is None and exc.__context__ is None
        seen.errors.append("".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.args))
    assert "404" in str(gone.value) and "403" in str(refused.value)

    stored, _ = app.store().query(top=1000)
    assert any(x.subject == "temp-debug-2" for x in stored)
    texts: list[tuple[str, str]] = [(f"finding {x.id}", json.dumps(x.to_json_dict())) for x in stored]
    texts += [("export", json.dumps([x.to_json_dict() for x in app.store().export()]))]
    texts += [("table row", row) for row in _all_rows(app)]
    assert any("rejected (HTTP 403)" in row for _, row in texts), "the failure was recorded in the store"
    texts += [("peeked message", m) for m in peeked]
    texts += [("handled message", m) for m in seen.messages]
    poison = _receive_all(app, "drift-findings-poison")
    assert poison
    texts += [("drift-findings-poison message", m) for m in poison]
    texts += [("scan-requests-poison message", m) for m in _receive_all(app, "scan-requests-poison")]
    texts += [("exception", e) for e in seen.errors]
    texts += [("teams card", json.dumps(p["body"])) for p in app.emulator.teams_posts()]
    texts += _api_bodies(app)
    for where, text in texts:
        assert_clean(app, text, where)


def test_storage_failures_do_not_echo_connection_strings_or_keys(secret_app: tuple[App, Seen]) -> None:
    from core.store import StorageConnection, StoreError, TableFindingsStore
    from functions import findings_api
    from samples.azurite import free_port

    app, _ = secret_app
    dead = app.connection_string
    for port in {p.split(":")[-1].split("/")[0] for p in dead.split(";") if p.startswith(("Table", "Queue"))}:
        dead = dead.replace(f":{port}/", f":{free_port()}/")
    errors: list[str] = []
    dead_store = TableFindingsStore(StorageConnection.from_connection_string(dead, retry_total=0))
    with pytest.raises(StoreError) as down:
        dead_store.query(status="open")
    errors.append("".join(traceback.format_exception(down.value)) + repr(down.value))
    for malformed in (f"DefaultEndpointsProtocol=https;AccountKey={ACCOUNT_KEY}", f"garbage;AccountKey={ACCOUNT_KEY};"):
        with pytest.raises(StoreError, match="malformed storage connection string") as bad:
            TableFindingsStore(StorageConnection.from_connection_string(malformed)).query()
        errors.append("".join(traceback.format_exception(bad.value)) + repr(bad.value))
    # An endpoint the SDK cannot parse fails inside azure-data-tables with a TypeError, which the
    # store does not wrap (yet); whatever its type, its text must not carry the key either.
    unparseable = f"AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};TableEndpoint=::not a url::"
    with pytest.raises(Exception) as odd:
        TableFindingsStore(StorageConnection.from_connection_string(unparseable)).query()
    errors.append("".join(traceback.format_exception(odd.value)) + repr(odd.value))
    assert repr(StorageConnection.from_connection_string(dead)) == "StorageConnection(connection-string)"
    findings_api.set_store(dead_store)
    try:
        responses = [app.host.http(name, "GET", f"{API}/{path}", route_params=rp)
                     for name, path, rp in (("findings_list", "findings", {}), ("findings_summary", "summary", {}),
                                            ("findings_get", "findings/x", {"id": "x"}))]
    finally:
        findings_api.set_store(app.rt.store())
    assert [r.status_code for r in responses] == [503, 503, 503]
    for where, text in [("error", e) for e in errors] + [("503 body", r.get_body().decode()) for r in responses]:
        assert_clean(app, text, where)

"""The Teams webhook client over real HTTP against the emulator's Teams sink."""

from __future__ import annotations

import json
import logging
import time
import traceback
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from core.notify import (
    MAX_CARD_BYTES,
    NotifyPermanentError,
    NotifyRetryableError,
    TeamsNotifier,
    WebhookConfigError,
    build_digest,
    send_digests,
    validate_webhook_url,
)
from core.notify.teams import parse_retry_after
from core.settings import load_settings
from emulator.server import EmulatorServer
from tests.support.cards import QUERY, SIG, WS_A, WS_B, finding, transition

LOGIC = "https://prod-23.westeurope.logic.azure.com:443/workflows/0c1d2e3f4a5b/triggers/manual/paths/invoke"
POWERPLATFORM = ("https://default72f988bf00004000800000.00.environment.api.powerplatform.com:443"
                 "/powerautomate/automations/direct/workflows/0c1d2e3f4a5b/triggers/manual/paths/invoke")
OFFICE = "https://contoso.webhook.office.com/webhookb2/aaaa@bbbb/IncomingWebhook/cccc/dddd"


class Sleeps:
    """Records requested waits instead of sleeping (tests of real timing use time.sleep)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def card() -> dict[str, Any]:
    return build_digest(WS_A, "dbx-prod-a", [transition("opened", finding())])


def teams_requests(server: EmulatorServer) -> int:
    return int(server.request_counts()["by_endpoint"].get("POST teams", 0))


# ---- allow-list ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        f"{LOGIC}?{QUERY}",
        f"{LOGIC.replace(':443', '')}?{QUERY}",
        f"{POWERPLATFORM}?{QUERY}",
        OFFICE,
        f"{LOGIC.upper().replace('HTTPS', 'https')}?{QUERY}",
    ],
)
def test_allow_list_accepts_teams_workflow_hosts(url: str) -> None:
    assert validate_webhook_url(url, emulator_mode=False) == url
    assert validate_webhook_url(f"  {url}\n", emulator_mode=False) == url


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:7071/teams/alerts?sig=x", "http://localhost:1/teams/a", "http://[::1]:9/teams/a",
     "http://127.0.0.2:80/teams/a"],
)
def test_emulator_mode_accepts_plain_http_to_loopback(url: str) -> None:
    assert validate_webhook_url(url, emulator_mode=True) == url
    with pytest.raises(WebhookConfigError):
        validate_webhook_url(url, emulator_mode=False)


@pytest.mark.parametrize(
    ("url", "emulator_mode", "reason"),
    [
        (f"{LOGIC.replace('https', 'http')}?{QUERY}", False, "https"),
        (f"{LOGIC.replace('https', 'http')}?{QUERY}", True, "https"),
        (f"https://webhook.office.com.evil.com/webhookb2/x?{QUERY}", False, "not an allowed"),
        (f"https://evil-webhook.office.com/webhookb2/x?{QUERY}", False, "not an allowed"),
        (f"https://webhook.office.com@evil.com/?{QUERY}", False, "user info"),
        (f"https://user:{SIG}@contoso.webhook.office.com/x", False, "user info"),
        ("https://webhook.office.com/webhookb2/x", False, "not an allowed"),
        ("https://logic.azure.com/workflows/x", False, "not an allowed"),
        (f"https://prod-23.westeurope.logic.azure.com.evil.com/workflows/x?{QUERY}", False, "not an allowed"),
        (f"https://prod-23.westeurope.logic.azure.comm/workflows/x?{QUERY}", False, "not an allowed"),
        (f"https://evilenvironment.api.powerplatform.com/x?{QUERY}", False, "not an allowed"),
        (f"https://contoso.webhook.office.com:8443/x?{QUERY}", False, "port"),
        (f"https://example.com/workflows/x?{QUERY}", False, "not an allowed"),
        (f"https://evil.com\\@contoso.webhook.office.com/x?{QUERY}", False, "backslash"),
        (f"https://contoso.webhook.office.com%2eevil.com/x?{QUERY}", False, "ambiguous|not an allowed"),
        (f"ftp://contoso.webhook.office.com/x?{QUERY}", False, "https"),
        (f"https://contoso.webhook.office.com/x y?{QUERY}", False, "whitespace"),
        ("http://10.0.0.5:7071/teams/x", True, "https"),
        ("http://localhost.evil.com/teams/x", True, "https"),
        ("", False, "empty"),
        ("not a url", False, "whitespace"),
        ("https:///x", False, "no host"),
        ("https://contoso.webhook.office.com:99999/x", False, "parsed"),
    ],
)
def test_allow_list_rejects_without_leaking_path_or_query(url: str, emulator_mode: bool, reason: str) -> None:
    with pytest.raises(WebhookConfigError, match=reason) as info:
        validate_webhook_url(url, emulator_mode=emulator_mode)
    message = str(info.value)
    assert SIG not in message and "sig=" not in message
    assert "/workflows/" not in message and "webhookb2" not in message and "/teams/" not in message


def test_rejection_names_the_host() -> None:
    with pytest.raises(WebhookConfigError, match=r"host example\.com is not an allowed"):
        validate_webhook_url(f"https://example.com/hook?{QUERY}", emulator_mode=False)


def test_from_settings_uses_emulator_mode(webhook_url: str) -> None:
    assert TeamsNotifier.from_settings(load_settings({})) is None
    with pytest.raises(WebhookConfigError):
        TeamsNotifier.from_settings(load_settings({"TEAMS_WEBHOOK_URL": webhook_url}))
    notifier = TeamsNotifier.from_settings(
        load_settings({"TEAMS_WEBHOOK_URL": webhook_url, "DRIFTWATCH_AUTH": "emulator"})
    )
    assert notifier is not None and SIG not in repr(notifier)


# ---- posting ------------------------------------------------------------------------------
def test_post_delivers_the_card_to_the_sink(sink: EmulatorServer, webhook_url: str) -> None:
    body = card()
    with TeamsNotifier(webhook_url, emulator_mode=True) as notifier:
        result = notifier.post(body)
    assert result.status_code == 202 and result.attempts == 1 and result.waited_s == 0
    posts = sink.teams_posts()
    assert len(posts) == 1 and posts[0]["name"] == "alerts"
    assert posts[0]["body"] == body
    assert posts[0]["headers"]["Content-Type"].startswith("application/json")


def test_send_digests_posts_one_card_per_workspace_over_the_threshold(
    sink: EmulatorServer, webhook_url: str
) -> None:
    ts = [
        transition("opened", finding(WS_A, "DBX-WS-001", "high")),
        transition("opened", finding(WS_A, "DBX-WS-009", "low")),
        transition("resolved", finding(WS_B, "DBX-WS-002", "critical", status="resolved")),
        transition("opened", finding(WS_B.replace("prod-b", "prod-c"), "DBX-WS-009", "low")),
    ]
    with TeamsNotifier(webhook_url, emulator_mode=True) as notifier:
        results = send_digests(notifier, ts, min_severity="high")
    assert [r.attempts for r in results] == [1, 1]
    names = ["".join(i["text"] for i in p["body"]["attachments"][0]["content"]["body"][0]["inlines"])
             for p in sink.teams_posts()]
    assert names == ["driftwatch · dbx-prod-a", "driftwatch · dbx-prod-b"]


def test_300_findings_post_fits_and_is_accepted(sink: EmulatorServer, webhook_url: str) -> None:
    ts = [transition("opened", finding(subject=f"r{i}", message="m" * 2000, remediation="r" * 3000))
          for i in range(300)]
    body = build_digest(WS_A, "dbx-prod-a", ts)
    with TeamsNotifier(webhook_url, emulator_mode=True) as notifier:
        assert notifier.post(body).attempts == 1
    assert sink.teams_posts()[0]["body"] == body


def test_oversized_body_is_refused_before_sending(sink: EmulatorServer, webhook_url: str) -> None:
    body = {"type": "message", "text": "x" * (MAX_CARD_BYTES + 1)}
    with TeamsNotifier(webhook_url, emulator_mode=True) as notifier, pytest.raises(ValueError, match="limit"):
        notifier.post(body)
    assert teams_requests(sink) == 0


def test_429_retry_after_is_honoured_in_real_time(sink: EmulatorServer, webhook_url: str) -> None:
    sink.set_faults([{"match": "/teams/", "action": "429", "count": 1, "retry_after": 1}])
    with TeamsNotifier(webhook_url, emulator_mode=True, backoff_s=0.01) as notifier:
        started = time.monotonic()
        result = notifier.post(card())
        elapsed = time.monotonic() - started
    assert result.attempts == 2 and result.waited_s == pytest.approx(1.0)
    assert 1.0 <= elapsed < 3.0
    assert len(sink.teams_posts()) == 1 and teams_requests(sink) == 2


def test_retry_after_is_capped(sink: EmulatorServer, webhook_url: str) -> None:
    sink.set_faults([{"match": "/teams/", "action": "429", "count": 2, "retry_after": 120}])
    sleeps = Sleeps()
    with TeamsNotifier(webhook_url, emulator_mode=True, max_retry_after_s=5, sleep=sleeps) as notifier:
        assert notifier.post(card()).attempts == 3
    assert sleeps.calls == [5, 5]


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=7), usegmt=True), now=now) == 7.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=7), usegmt=True), now=now) == 0.0
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_500_then_success_backs_off_exponentially(sink: EmulatorServer, webhook_url: str) -> None:
    sink.set_faults([{"match": "/teams/", "action": "500", "count": 2}])
    sleeps = Sleeps()
    with TeamsNotifier(webhook_url, emulator_mode=True, backoff_s=0.2, sleep=sleeps) as notifier:
        result = notifier.post(card())
    assert result.attempts == 3 and len(sink.teams_posts()) == 1
    first, second = sleeps.calls
    assert 0.1 <= first <= 0.2 and 0.2 <= second <= 0.4  # equal jitter around 0.2 * 2**n
    assert result.waited_s == pytest.approx(first + second)


def test_hang_times_out_and_is_retried(sink: EmulatorServer, webhook_url: str) -> None:
    sink.set_faults([{"match": "/teams/", "action": "hang", "count": 1, "hang_seconds": 5}])
    sleeps = Sleeps()
    with TeamsNotifier(webhook_url, emulator_mode=True, timeout_s=0.3, sleep=sleeps) as notifier:
        started = time.monotonic()
        result = notifier.post(card())
    assert result.attempts == 2 and len(sleeps.calls) == 1
    assert 0.3 <= time.monotonic() - started < 3
    assert len(sink.teams_posts()) == 1


def test_connection_reset_is_retried(sink: EmulatorServer, webhook_url: str) -> None:
    sink.set_faults([{"match": "/teams/", "action": "reset", "count": 1}])
    with TeamsNotifier(webhook_url, emulator_mode=True, sleep=Sleeps()) as notifier:
        assert notifier.post(card()).attempts == 2
    assert len(sink.teams_posts()) == 1


def test_404_is_permanent_and_not_retried(sink: EmulatorServer) -> None:
    url = f"{sink.url}/no-such-flow/invoke?{QUERY}"
    sleeps = Sleeps()
    with TeamsNotifier(url, emulator_mode=True, sleep=sleeps) as notifier, pytest.raises(NotifyPermanentError) as info:
        notifier.post(card())
    assert info.value.status_code == 404 and info.value.attempts == 1
    assert sleeps.calls == []
    assert sink.request_counts()["total"] == 1


@pytest.mark.parametrize("action", ["401", "403"])
def test_auth_failures_are_permanent(sink: EmulatorServer, webhook_url: str, action: str) -> None:
    sink.set_faults([{"match": "/teams/", "action": action}])
    with TeamsNotifier(webhook_url, emulator_mode=True, sleep=Sleeps()) as notifier, \
            pytest.raises(NotifyPermanentError) as info:
        notifier.post(card())
    assert info.value.status_code == int(action) and teams_requests(sink) == 1


def test_retries_exhausted_raise_retryable(sink: EmulatorServer, webhook_url: str) -> None:
    sink.set_faults([{"match": "/teams/", "action": "500"}])
    sleeps = Sleeps()
    with TeamsNotifier(webhook_url, emulator_mode=True, max_attempts=3, sleep=sleeps) as notifier, \
            pytest.raises(NotifyRetryableError) as info:
        notifier.post(card())
    assert info.value.attempts == 3 and info.value.status_code == 500
    assert len(sleeps.calls) == 2 and teams_requests(sink) == 3
    assert sink.teams_posts() == []


def test_connection_refused_exhausts_as_retryable() -> None:
    with EmulatorServer({"schema": "driftwatch.estate/v1", "subscriptions": [], "resources": [],
                         "databricks": {}}) as server:
        url = f"{server.url}/teams/gone?{QUERY}"
    with TeamsNotifier(url, emulator_mode=True, max_attempts=2, sleep=Sleeps()) as notifier, \
            pytest.raises(NotifyRetryableError, match="connection failed"):
        notifier.post(card())


# ---- secrets never leak -------------------------------------------------------------------
def _leaks(text: str, url: str) -> bool:
    path_and_query = url.split("/", 3)[3]
    return SIG in text or url in text or path_and_query in text or "sig=" in text


def test_no_webhook_url_or_sig_in_cards_logs_or_exceptions(
    sink: EmulatorServer, webhook_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Production sets urllib3 to WARNING (core/logsafe.py); an operator who turns it up must still see no secret.
    caplog.set_level(logging.DEBUG, logger="urllib3")
    errors: list[BaseException] = []
    bodies: list[dict[str, Any]] = []
    with TeamsNotifier(webhook_url, emulator_mode=True, timeout_s=0.3, max_attempts=2, sleep=Sleeps()) as notifier:
        assert _leaks(repr(notifier), webhook_url) is False
        body = card()
        bodies.append(body)
        notifier.post(body)
        for fault in ({"action": "429", "retry_after": 0}, {"action": "500"}, {"action": "reset"},
                      {"action": "hang", "hang_seconds": 2}, {"action": "403"}):
            sink.set_faults([{"match": "/teams/", **fault}])
            try:
                notifier.post(body)
            except (NotifyRetryableError, NotifyPermanentError) as exc:
                errors.append(exc)
        try:
            notifier.post({"text": "x" * 30_000})
        except ValueError as exc:
            errors.append(exc)
    with TeamsNotifier(webhook_url.replace("/teams/", "/nope/"), emulator_mode=True, sleep=Sleeps()) as gone:
        try:
            gone.post(body)
        except NotifyPermanentError as exc:
            errors.append(exc)
    for bad in (webhook_url, webhook_url.replace("127.0.0.1", "example.com")):
        try:
            TeamsNotifier(bad, emulator_mode=False)
        except WebhookConfigError as exc:
            errors.append(exc)
    assert len(errors) == 9
    for exc in errors:
        assert exc.__cause__ is None and exc.__context__ is None  # no chained requests error quoting the URL
        rendered = "".join(traceback.format_exception(exc)) + repr(exc) + repr(getattr(exc, "args", ()))
        assert not _leaks(rendered, webhook_url), rendered
    for b in bodies:
        assert not _leaks(json.dumps(b), webhook_url)
    assert caplog.records, "expected log records to scan"
    for record in caplog.records:
        line = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        if record.name.startswith(("emulator", "aiohttp", "asyncio")):
            continue
        assert not _leaks(line, webhook_url), f"{record.name}: {line}"
    # urllib3's request line was logged, with the path and query redacted
    assert any(r.name.startswith("urllib3") and "[redacted]" in r.getMessage() for r in caplog.records)
    assert any("teams-webhook(127.0.0.1)" in r.getMessage() for r in caplog.records)

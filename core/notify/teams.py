"""The one module that talks to Teams: a Workflows webhook client with retries.

A Workflows webhook URL is a bearer secret (its `sig` query parameter authorises the post), so it
is validated against the allow-list of `core/notify/webhook_policy.py` before anything is sent,
never appears in an exception, log record or repr (only `teams-webhook(host)` does), and is
registered with `core/notify/redaction.py` so urllib3's own debug lines that would echo the
request path are redacted. Failures are the classes of `core/notify/errors.py`, split the way the
queue trigger needs them. The URL policy and its errors stay importable from here.

Retries are at-least-once: after a timeout Teams may have accepted the post, so a card can be
posted twice; re-posting on 429 without Retry-After is deliberate.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests

from core.notify.cards import MAX_CARD_BYTES, Standing, build_digests, serialize_card, severity_filter
from core.notify.errors import NotifyError, NotifyPermanentError, NotifyRetryableError, WebhookConfigError
from core.notify.redaction import register_secrets
from core.notify.webhook_policy import ALLOWED_HOST_SUFFIXES, validate_public_api_url, validate_webhook_url
from core.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "ALLOWED_HOST_SUFFIXES",
    "NotifyError",
    "NotifyPermanentError",
    "NotifyRetryableError",
    "PostResult",
    "TeamsNotifier",
    "WebhookConfigError",
    "parse_retry_after",
    "send_digests",
    "validate_public_api_url",
    "validate_webhook_url",
]


@dataclass(frozen=True)
class PostResult:
    """What one successful `post` took: tests and benchmarks read attempts and waits."""

    status_code: int
    attempts: int
    waited_s: float
    elapsed_s: float


# ---- retry helpers ------------------------------------------------------------------------
def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)


@dataclass(frozen=True)
class _Attempt:
    outcome: str  # ok | retry | permanent
    status_code: int | None
    reason: str
    retry_after: float | None = None


class TeamsNotifier:
    """Posts Adaptive Card messages to one Teams Workflows webhook."""

    def __init__(
        self,
        url: str,
        *,
        emulator_mode: bool = False,
        timeout_s: float = 10.0,
        max_attempts: int = 4,
        backoff_s: float = 1.0,
        max_retry_after_s: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_bytes: int = MAX_CARD_BYTES,
        route: str | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if timeout_s <= 0 or backoff_s < 0 or max_retry_after_s < 0:
            raise ValueError("timeout_s must be positive; backoff_s and max_retry_after_s not negative")
        self._url = validate_webhook_url(url, emulator_mode=emulator_mode)
        register_secrets(self._url)
        host = (urlsplit(self._url).hostname or "").lower()
        # `route` names the routing entry and app setting (e.g. "notifications.routes[0] (TEAMS_WEBHOOK_URL_OPS)").
        self.label = f"teams-webhook({host})" + (f" via {route}" if route else "")
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.max_bytes = max_bytes
        self._sleep = sleep
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()

    @classmethod
    def from_settings(cls, settings: Settings, setting: str = "TEAMS_WEBHOOK_URL",
                      **kwargs: Any) -> TeamsNotifier | None:
        """The notifier for the webhook held by app setting `setting`, or None when it is unset."""
        url = settings.webhook_url(setting)
        if not url:
            return None
        return cls(url, emulator_mode=settings.emulator_mode, **kwargs)

    def __repr__(self) -> str:
        return f"TeamsNotifier({self.label})"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> TeamsNotifier:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- posting ---------------------------------------------------------------------------
    def post(self, body: dict[str, Any]) -> PostResult:
        """Send one message; retry 429/5xx/timeouts/connection errors, fail fast on other 4xx."""
        data = serialize_card(body)
        if len(data) > self.max_bytes:
            raise ValueError(
                f"{self.label}: message is {len(data)} bytes, above the {self.max_bytes}-byte Teams limit; not sent"
            )
        started = time.monotonic()
        waited = 0.0
        last: _Attempt | None = None
        for attempt in range(1, self.max_attempts + 1):
            last = self._attempt(data)
            if last.outcome == "ok":
                log.info("%s: posted %d bytes (HTTP %s, attempt %d)", self.label, len(data), last.status_code, attempt)
                return PostResult(last.status_code or 0, attempt, waited, time.monotonic() - started)
            if last.outcome == "permanent":
                log.error("%s: %s; not retrying", self.label, last.reason)
                raise NotifyPermanentError(
                    f"{self.label}: {last.reason}; not retried", status_code=last.status_code, attempts=attempt
                )
            if attempt == self.max_attempts:
                break
            delay = self._delay(attempt, last.retry_after)
            log.warning("%s: %s (attempt %d/%d); retrying in %.2fs",
                        self.label, last.reason, attempt, self.max_attempts, delay)
            self._sleep(delay)
            waited += delay
        assert last is not None
        log.error("%s: giving up after %d attempts: %s", self.label, self.max_attempts, last.reason)
        raise NotifyRetryableError(
            f"{self.label}: {last.reason}; gave up after {self.max_attempts} attempts",
            status_code=last.status_code,
            attempts=self.max_attempts,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Retry-After when Teams gave one, else exponential backoff with equal jitter; capped."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        base = self.backoff_s * (2 ** (attempt - 1))
        return min(base / 2 + random.uniform(0, base / 2), self.max_retry_after_s)

    def _attempt(self, data: bytes) -> _Attempt:
        """One HTTP request, classified. Library exceptions (which quote the URL) stay in here."""
        try:
            response = self._session.post(
                self._url,
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=(self.timeout_s, self.timeout_s),
                allow_redirects=False,
            )
        except requests.Timeout:
            return _Attempt("retry", None, f"timed out after {self.timeout_s:g}s")
        except requests.ConnectionError:
            return _Attempt("retry", None, "connection failed")
        except requests.RequestException as exc:
            return _Attempt("permanent", None, f"request could not be sent ({type(exc).__name__})")
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        response.close()
        if 200 <= status < 300:
            return _Attempt("ok", status, "accepted")
        if status == 429:
            return _Attempt("retry", status, "throttled (HTTP 429)", retry_after)
        if status >= 500 or status == 408:
            return _Attempt("retry", status, f"server error (HTTP {status})", retry_after)
        if 300 <= status < 400:
            return _Attempt("permanent", status, f"unexpected redirect (HTTP {status}); redirects are not followed")
        return _Attempt("permanent", status, f"rejected (HTTP {status})")


def send_digests(
    notifier: TeamsNotifier, transitions: list[dict[str, Any]], *, min_severity: str = "info",
    standings: Mapping[str, Standing] | None = None, api_url: str | None = None,
) -> list[PostResult]:
    """Post one digest per workspace for the transitions at or above `min_severity`."""
    kept = severity_filter(transitions, min_severity)
    cards = build_digests(kept, standings=standings, api_url=api_url, max_bytes=notifier.max_bytes)
    return [notifier.post(card) for card in cards]


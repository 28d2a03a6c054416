"""Suite-wide secret scanner: every log record emitted while the tests run is checked for secrets.

A handler on the root logger (level DEBUG, installed for the whole session, independent of
`caplog`) sees every record of every logger, driftwatch's and the SDKs' (azure-core, the
storage SDKs, urllib3, databricks-sdk), from every thread, at every level. A record whose
formatted message, exception text or stack text carries a secret fails the test phase during
which it was emitted (setup, call or teardown), naming the logger, the level and what kind of
secret it was. The secret itself is masked in the report: CI logs must not leak it either.

What counts as a secret (see `find_secrets`):
- a `sig=` query value (Teams Workflows webhook URLs, SAS tokens), unless already redacted;
- `Bearer <token>`: a value that looks like a token (8+ chars with a digit or `-._~+/=`), and
  the emulator's static token `driftwatch-emulator`; prose such as "Bearer token" is not one;
- an `Authorization:`/`Authorization=` header value that is not a redaction placeholder;
- `AccountKey=<value>` and `SharedAccessSignature=<value>` (storage connection strings);
- literal values: the (public) Azurite development key, which only a logged connection string
  or key would show, and whatever a test registers with the `log_secrets` fixture.

Redaction placeholders (`*****`, `REDACTED`, `[redacted]`) are not secrets: the SDKs and
`core.notify.teams` log URLs and headers in that form on purpose.

Cost: the root logger goes to DEBUG, so libraries emit their debug records; each record costs one
`getMessage()` and one case-insensitive regex pre-check. pytest's own capture handlers are kept at
WARNING (unless `--log-level` is given), as before, so they do not format every DEBUG record.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

from samples.azurite import ACCOUNT_KEY as AZURITE_DEV_KEY

EMULATOR_TOKEN = "driftwatch-emulator"  # core.collect.auth.EMULATOR_TOKEN, kept literal on purpose

_PRECHECK = re.compile(r"sig=|bearer|authorization|accountkey|sharedaccesssignature", re.IGNORECASE)
_REDACTED = re.compile(r"^(?:sig=)?(?:\*+|redacted|\[redacted\]|<redacted>|\(redacted\)|x{3,}|\.{3,})$",
                       re.IGNORECASE)
_SIG = re.compile(r"(?<![a-z0-9_])sig=([^&\s'\"<>;,)\]}]*)", re.IGNORECASE)
_BEARER = re.compile(r"\bbearer[ \t]+([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)
_AUTH_HEADER = re.compile(r"\bauthorization\b['\"]?[ \t]*[:=][ \t]*['\"]?([^'\"\s,}\]]+)(?:[ \t]+([^'\"\s,}\]]+))?",
                          re.IGNORECASE)
_AUTH_SCHEMES = frozenset({"bearer", "basic", "sharedkey", "sharedkeylite", "token", "digest", "pop"})
_ACCOUNT_KEY = re.compile(r"\baccountkey=([^;\s'\"]+)", re.IGNORECASE)
_SAS = re.compile(r"\bsharedaccesssignature=([^;\s'\"]+)", re.IGNORECASE)
_TOKEN_PUNCT = frozenset("0123456789-._~+/=")


def _redacted(value: str) -> bool:
    return not value or bool(_REDACTED.match(value))


def _looks_like_token(value: str) -> bool:
    return value == EMULATOR_TOKEN or (len(value) >= 8 and any(c in _TOKEN_PUNCT for c in value))


_literal_secrets: tuple[str, ...] = (AZURITE_DEV_KEY,)
_literal_lock = threading.Lock()


def add_literal_secret(value: str) -> None:
    """Scan for `value` too (a test's own fake secret, e.g. a webhook `sig`)."""
    global _literal_secrets
    if len(value) < 6:
        raise ValueError("a secret to scan for must be at least 6 characters (avoids false positives)")
    with _literal_lock:
        _literal_secrets = (*_literal_secrets, value)


def remove_literal_secrets(values: list[str]) -> None:
    global _literal_secrets
    with _literal_lock:
        _literal_secrets = tuple(s for s in _literal_secrets if s not in values)


def find_secrets(text: str) -> list[tuple[str, str]]:
    """(kind, secret value) for every secret in `text`; empty when there is none."""
    found: list[tuple[str, str]] = []
    for literal in _literal_secrets:
        if literal in text:
            found.append(("known secret value", literal))
    if not _PRECHECK.search(text):
        return found
    for m in _SIG.finditer(text):
        if len(m.group(1)) >= 3 and not _redacted(m.group(1)):
            found.append(("sig= query value (webhook URL / SAS)", m.group(1)))
    for m in _BEARER.finditer(text):
        if _looks_like_token(m.group(1)):
            found.append(("Bearer token", m.group(1)))
    for m in _AUTH_HEADER.finditer(text):
        first, second = m.group(1), m.group(2)
        if _redacted(first) or first.lower() in ("none", "null"):
            continue
        if first.lower() in _AUTH_SCHEMES:
            if second and not _redacted(second):
                found.append(("Authorization header", second))
        else:
            found.append(("Authorization header", first))
    for m in _ACCOUNT_KEY.finditer(text):
        if not _redacted(m.group(1)):
            found.append(("storage AccountKey", m.group(1)))
    for m in _SAS.finditer(text):
        if not _redacted(m.group(1)):
            found.append(("SharedAccessSignature", m.group(1)))
    return found


def mask(text: str, secrets: list[tuple[str, str]], limit: int = 300) -> str:
    """`text` with every secret value replaced, cut around the first one (for reports)."""
    for _, value in secrets:
        text = text.replace(value, f"<{len(value)}-char secret>")
    start = max(text.find("-char secret>") - limit // 2, 0)
    return ("…" if start else "") + text[start:start + limit] + ("…" if len(text) > start + limit else "")


@dataclass(frozen=True)
class Leak:
    logger: str
    level: str
    thread: str
    kinds: tuple[str, ...]
    excerpt: str
    values: frozenset[str]

    def describe(self) -> str:
        return f"logger {self.logger!r} at {self.level} (thread {self.thread}): {', '.join(self.kinds)}\n    {self.excerpt}"


class SecretScanHandler(logging.Handler):
    """Records leaks; never formats a record with a formatter, never raises."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[Leak] = []
        self.records_seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records_seen += 1
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg!s} {record.args!r}"
        if record.exc_info and record.exc_info[1] is not None:
            if not record.exc_text:
                record.exc_text = FORMATTER.formatException(record.exc_info)
            text = f"{text}\n{record.exc_text}"
        elif record.exc_text:
            text = f"{text}\n{record.exc_text}"
        if record.stack_info:
            text = f"{text}\n{record.stack_info}"
        secrets = find_secrets(text)
        if secrets:
            self.leaks.append(Leak(record.name, record.levelname, record.threadName or "?",
                                   tuple(dict.fromkeys(k for k, _ in secrets)), mask(text, secrets),
                                   frozenset(v for _, v in secrets)))

    def take(self) -> list[Leak]:
        self.acquire()
        try:
            leaks, self.leaks = self.leaks, []
        finally:
            self.release()
        return leaks


TEST_OWN_SECRETS: dict[str, tuple[frozenset[str], str]] = {
    "tests/contract/emulator/test_emulator_workspace.py::test_teams_sink_records_posts_without_authorization": (
        frozenset({"SECRET-SIG"}),
        "the test itself posts to the emulator's Teams sink with a bare `requests.post` (no driftwatch code "
        "involved), so urllib3 logs the test's own request line; only that fake value is accepted",
    ),
}
"""Tests whose *own* HTTP calls carry a fake secret: node id -> (accepted values, why). Only those
exact values are accepted in that one test; any other secret there still fails it."""

FORMATTER = logging.Formatter()
HANDLER = SecretScanHandler()


def attach_everywhere() -> None:
    """Root at DEBUG with the scanner on it, and on loggers that do not propagate to root."""
    root = logging.getLogger()
    if HANDLER not in root.handlers:
        root.addHandler(HANDLER)
    if root.level > logging.DEBUG or root.level == logging.NOTSET:
        root.setLevel(logging.DEBUG)
    for logger in list(root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate and HANDLER not in logger.handlers:
            logger.addHandler(HANDLER)

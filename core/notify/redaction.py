"""Log redaction for webhook secrets: urllib3 and requests echo the request path and query.

urllib3 logs `"POST /path?query HTTP/1.1"` at DEBUG, and for a Workflows webhook that line carries the
`sig` that authorises posts. `register_secrets(url)` remembers a URL's path and query; a filter on the
HTTP libraries' loggers replaces them with `[redacted]` in any record. The filter is installed when this
module is first imported (core/notify/teams.py imports it, so before any post can be made).
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_REDACTED_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry", "requests")


class _RedactWebhookSecrets(logging.Filter):
    """urllib3 logs `"POST /path?query HTTP/1.1"` at DEBUG; that line carries the `sig`."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _SECRETS_LOCK:
            secrets = sorted(_SECRETS, key=len, reverse=True)
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True
        if any(s in message for s in secrets):
            for s in secrets:
                message = message.replace(s, "[redacted]")
            record.msg, record.args = message, None
        return True


_REDACTOR = _RedactWebhookSecrets()
for _name in _REDACTED_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACTOR)


def register_secrets(url: str) -> None:
    """Redact `url`'s path and query (each at least 8 characters) from HTTP library log records."""
    parts = urlsplit(url)
    candidates = [parts.path, parts.query, f"{parts.path}?{parts.query}" if parts.query else ""]
    with _SECRETS_LOCK:
        _SECRETS.update(c for c in candidates if len(c) >= 8)

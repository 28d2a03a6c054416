"""Teams delivery errors, shared by the webhook URL policy and the client; messages name the host only.

Split the way the queue trigger needs them: `NotifyRetryableError` lets the Functions host retry the
message (and finally move it to the poison queue); `NotifyPermanentError` means retrying cannot help.
"""

from __future__ import annotations


class NotifyError(Exception):
    """Base for Teams delivery errors; messages name the webhook host only."""


class WebhookConfigError(NotifyError, ValueError):
    """TEAMS_WEBHOOK_URL is not an acceptable webhook URL (the message omits path and query)."""


class NotifyPermanentError(NotifyError):
    """Teams refused the post in a way retrying cannot fix (bad request, auth, gone, too big)."""

    def __init__(self, message: str, *, status_code: int | None, attempts: int) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.attempts = attempts


class NotifyRetryableError(NotifyError):
    """Every attempt failed transiently; re-raise so the queue message is retried later."""

    def __init__(self, message: str, *, status_code: int | None, attempts: int) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.attempts = attempts

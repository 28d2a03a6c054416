"""Teams notifications: Adaptive Card digests (`cards`, pure), estate-text handling (`text`), alert
routing (`routing`, pure), the webhook URL policy (`webhook_policy`, pure), log redaction of webhook secrets
(`redaction`), delivery errors (`errors`) and the webhook client (`teams`)."""

from core.notify.cards import (
    MAX_CARD_BYTES,
    Standing,
    build_digest,
    build_digests,
    serialize_card,
    severity_filter,
)
from core.notify.teams import (
    ALLOWED_HOST_SUFFIXES,
    NotifyError,
    NotifyPermanentError,
    NotifyRetryableError,
    PostResult,
    TeamsNotifier,
    WebhookConfigError,
    send_digests,
    validate_webhook_url,
)

__all__ = [
    "ALLOWED_HOST_SUFFIXES",
    "MAX_CARD_BYTES",
    "NotifyError",
    "NotifyPermanentError",
    "NotifyRetryableError",
    "PostResult",
    "Standing",
    "TeamsNotifier",
    "WebhookConfigError",
    "build_digest",
    "build_digests",
    "send_digests",
    "serialize_card",
    "severity_filter",
    "validate_webhook_url",
]

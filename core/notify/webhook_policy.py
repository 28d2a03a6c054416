"""Where driftwatch may send a webhook post or point a card link: pure URL policy, no I/O.

A Workflows webhook URL is a bearer secret (its `sig` query parameter authorises the post), so it is
checked against an allow-list of Teams/Power Automate hosts before anything is sent, and no message
here quotes its path or query. `validate_public_api_url` checks DRIFTWATCH_PUBLIC_API_URL, the base
the cards' links are built on. Plain http is accepted only to a loopback host in emulator mode.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from urllib3.util import parse_url

from core.notify.errors import WebhookConfigError

ALLOWED_HOST_SUFFIXES: tuple[str, ...] = (
    "environment.api.powerplatform.com",
    "logic.azure.com",
    "webhook.office.com",
)
"""Hosts Teams webhooks are served from; a URL's host must be a *subdomain* of one of them.

- `<env>.<nn>.environment.api.powerplatform.com`: Teams "Workflows" (Power Automate) trigger
  URLs today (`/powerautomate/automations/direct/workflows/.../invoke?...&sig=...`).
- `prod-NN.<region>.logic.azure.com`: Workflows trigger URLs issued before the move to
  Power Platform hosts; existing flows still carry them.
- `<tenant>.webhook.office.com`: legacy Office 365 connector incoming webhooks (being
  retired by Microsoft; kept so existing channels keep working until they are migrated).
"""

_LOOPBACK_NAMES = frozenset({"localhost"})
_HOST_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_BAD_URL_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown(host: str) -> str:
    """The host as it may appear in messages: only when it looks like a host name."""
    return host if _HOST_RE.match(host) else "(unparseable host)"


def _on_allow_list(host: str) -> bool:
    return any(host.endswith("." + suffix) for suffix in ALLOWED_HOST_SUFFIXES)


def validate_webhook_url(url: str, *, emulator_mode: bool) -> str:
    """Return `url` (trimmed) when it is a Teams/Power Automate webhook we may post to.

    https only, host a subdomain of `ALLOWED_HOST_SUFFIXES` (dot-boundary suffix match, so
    `webhook.office.com.evil.com` and `evil-webhook.office.com` fail), no user info, default
    port. In emulator mode plain http to a loopback host is accepted too.
    """
    if not isinstance(url, str) or not url.strip():
        raise WebhookConfigError("Teams webhook URL is empty")
    url = url.strip()
    if _BAD_URL_CHARS.search(url):
        raise WebhookConfigError("Teams webhook URL contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookConfigError("Teams webhook URL cannot be parsed (bad host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise WebhookConfigError("Teams webhook URL must be an https URL")
    if "@" in parts.netloc:
        raise WebhookConfigError("Teams webhook URL must not contain user info (user@host)")
    host = (parts.hostname or "").lower()
    if not host:
        raise WebhookConfigError("Teams webhook URL has no host")
    # requests connects to whatever urllib3 parses; both parsers must agree on the host.
    try:
        other = (parse_url(url).host or "").lower().strip("[]")
    except Exception:
        other = ""
    if other != host:
        raise WebhookConfigError("Teams webhook URL is ambiguous (parsers disagree on its host)")
    if emulator_mode and _is_loopback(host):
        return url
    if scheme != "https":
        raise WebhookConfigError(f"Teams webhook URL for host {_shown(host)} must use https")
    if port not in (None, 443):
        raise WebhookConfigError(f"Teams webhook URL for host {_shown(host)} must use the default https port")
    if not _HOST_RE.match(host) or not _on_allow_list(host):
        raise WebhookConfigError(
            f"host {_shown(host)} is not an allowed Teams/Power Automate webhook host "
            f"(allowed: subdomains of {', '.join(ALLOWED_HOST_SUFFIXES)})"
        )
    return url


def validate_public_api_url(url: str, *, emulator_mode: bool) -> str:
    """DRIFTWATCH_PUBLIC_API_URL: an https base URL (plain http to loopback in emulator mode), no
    user info, query or fragment, because cards append `/findings/{id}` to it."""
    setting = "DRIFTWATCH_PUBLIC_API_URL"
    text = url.strip()
    if _BAD_URL_CHARS.search(text):
        raise ValueError(f"{setting}: contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"{setting}: cannot be parsed as a URL") from None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("https", "http") or not host:
        raise ValueError(f"{setting}: must be an https URL such as https://<app>.azurewebsites.net/api")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{setting}: must not contain user info, a query or a fragment")
    if parts.scheme.lower() == "http" and not (emulator_mode and _is_loopback(host)):
        raise ValueError(f"{setting}: must use https (plain http only to 127.0.0.1 in emulator mode)")
    return text.rstrip("/")

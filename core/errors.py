"""Error types shared across driftwatch. Messages never carry secrets."""

import re as _re


class InputError(Exception):
    """Bad user input (flags, baseline, snapshot, event file): the CLI exits 2 with this message."""


_SECRETS = [
    _re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    _re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(\.[A-Za-z0-9_-]*)?"),  # JWT
    _re.compile(r"\bdapi[0-9a-f]{16,}(-\d+)?\b"),  # Databricks personal access token
    _re.compile(r"(?i)\b(sig|signature|token|access_token|key|secret|password|code|client_secret)=[^&\s\"']+"),
    _re.compile(r"[A-Za-z0-9+/_=-]{32,}"),  # any long opaque run (keys, SAS, session ids)
]
_CONTROL = _re.compile(r"[\x00-\x1f\x7f]")
_CODE = _re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def scrub_api_text(text: object, limit: int = 200) -> str:
    """An API's error message made safe to store, show or log: credentials and long opaque strings
    replaced by `[redacted]`, control characters removed, length bounded. APIs echo what they were sent
    (a 401 may quote the bearer token), so their text is never copied verbatim."""
    out = str(text)[: limit * 4]
    for pattern in _SECRETS:
        out = pattern.sub("[redacted]", out)
    out = _CONTROL.sub(" ", out)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def scrub_error_code(code: object) -> str:
    """An error code (`ResourceNotFound`, `PERMISSION_DENIED`) if it looks like one, else empty."""
    text = str(code or "")
    return text if _CODE.match(text) else ""

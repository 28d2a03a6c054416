"""Every answer driftwatch reads is bounded in time and size (issue 10 §3).

Both SDKs driftwatch reads through (azure-core's `RequestsTransport` for ARM, databricks-sdk for the
workspace API) send over a `requests.Session`; requests' extension point for that is the transport
adapter (`Session.mount`). `BoundedAdapter` reads the body itself before handing the response back:

- a total deadline per request, from sending it to the last body byte. The socket read timeout alone
  restarts with every byte, so a server trickling 1 byte/s would hold a 30 s budget for minutes;
- a size cap on the decoded body (checked against `Content-Length` first, then while reading, so a
  gzip bomb counts what it inflates to): a 50 MB answer is refused after at most `max_bytes`, never
  buffered whole.

Exceeding either raises `ResponseBoundExceeded`, which is not a requests error on purpose: the SDKs do
not retry it (a bound that was hit once will be hit again) and the collectors report it as the read
failure of that stage (DBX-EVAL-001/002), which resolves nothing.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

DEFAULT_DEADLINE_S = 30.0
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
"""Far above any document driftwatch reads (a workspace list page of 100 workspaces is ~0.5 MB)."""
_CHUNK = 64 * 1024


class ResponseBoundExceeded(Exception):
    """An answer broke the per-request deadline or the size cap (`problem` says which)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.problem = problem


class BoundedAdapter(HTTPAdapter):
    """An HTTPAdapter that reads each body within `deadline_s` (from sending) and `max_bytes`."""

    def __init__(self, *, deadline_s: float = DEFAULT_DEADLINE_S, max_bytes: int = DEFAULT_MAX_BYTES,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline_s = deadline_s
        self.max_bytes = max_bytes

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        deadline = time.monotonic() + self.deadline_s
        response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        try:
            body = self._read(response, deadline)
        except BaseException:
            response.close()
            raise
        # What requests does after reading a non-streamed body itself: the content is now in memory.
        response._content = body
        setattr(response, "_content_consumed", True)  # noqa: B010  (not in requests' type stubs)
        response.close()
        return response

    def _read(self, response: requests.Response, deadline: float) -> bytes:
        where = f"{response.request.method} {str(response.url).split('?')[0][:200]}"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ResponseBoundExceeded(where, f"answer of {int(declared)} bytes is over the {self.max_bytes}-byte cap")
        parts: list[bytes] = []
        size = 0
        raw = response.raw
        while True:
            if time.monotonic() > deadline:
                raise ResponseBoundExceeded(where, f"answer not complete within the {self.deadline_s:g} s deadline")
            chunk = raw.read1(_CHUNK, decode_content=True)
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            if size > self.max_bytes:
                raise ResponseBoundExceeded(where, f"answer is over the {self.max_bytes}-byte cap")
            parts.append(chunk)


def mount_bounded(session: requests.Session, *, deadline_s: float, max_bytes: int, **adapter_kwargs: Any) -> None:
    """Send every http(s) request of `session` through a BoundedAdapter."""
    adapter = BoundedAdapter(deadline_s=deadline_s, max_bytes=max_bytes, **adapter_kwargs)
    session.mount("https://", adapter)
    session.mount("http://", adapter)

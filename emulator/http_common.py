"""What every surface's handlers share: path segments, the two error shapes, bearer and JSON body checks.

ARM answers `{"error": {"code", "message"}}`, the Databricks workspace API `{"error_code", "message"}`;
`ApiError` carries status, code and message from the estate to whichever surface renders it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """A request the estate refuses; the app renders it in ARM or Databricks shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def segments(path: str) -> list[str]:
    """The non-empty `/`-separated parts of a path."""
    return [p for p in path.split("/") if p]


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def dbx_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error_code": code, "message": message}, status=status, headers=headers)


def has_bearer(request: web.Request) -> bool:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


async def json_body(request: web.Request) -> Any:
    """The parsed body, None when it is empty; ValueError when it is not JSON."""
    text = await request.text()
    if not text.strip():
        return None
    return json.loads(text)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

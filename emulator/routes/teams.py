"""The Teams Workflows webhook sink: `POST /teams/{name}` records the card a notifier sent.

A Workflows webhook accepts a JSON object and answers 202; the emulator keeps the last
MAX_TEAMS_POSTS posts (with their headers, minus credentials) for `GET /_emulator/teams`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulator.http_common import json_body, now_iso, segments

MAX_TEAMS_POSTS = 10_000
DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class TeamsSink:
    """The posts received so far, oldest first."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    async def serve(self, request: web.Request) -> web.Response:
        segs = segments(request.path)
        if request.method.upper() != "POST" or len(segs) != 2:
            return web.json_response({"error": {"code": "MethodNotAllowed"}}, status=405)
        try:
            body = await json_body(request)
        except ValueError:
            return web.json_response({"error": {"code": "InvalidRequestContent"}}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": {"code": "InvalidRequestContent"}}, status=400)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED_HEADERS}
        if len(self.posts) >= MAX_TEAMS_POSTS:
            del self.posts[0]
        post = {"name": segs[1], "body": body, "received_at": now_iso(), "headers": headers}
        self.posts.append(post)
        return web.Response(status=202)

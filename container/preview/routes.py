"""`/preview/start` and `/preview/stop` on the tracking host: the preview link sets (or
clears) the first-party preview cookie for this browser, then sends it to the site.

The link carries a signed token (config.preview_tokens); opening it on any device, a
phone included, puts that browser in the session until the session expires or is
revoked. The redirect goes only to an origin the container allows or this host's own
(never an open redirect); otherwise a short page says the preview is on.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from config.preview_tokens import TokenRejected
from container.delivery.clock import SYSTEM_CLOCK
from container.preview.sessions import COOKIE, PREVIEW_COOKIES, PreviewSessions

__all__ = ["PreviewLinks"]

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>tagwire preview</title>
</head><body><h1>{title}</h1><p>{message}</p></body></html>"""


def _page(status: int, title: str, message: str) -> HTMLResponse:
    body = _PAGE.format(title=html.escape(title), message=html.escape(message))
    return HTMLResponse(body, status, headers={"cache-control": "no-store",
                                               "content-security-policy": "default-src 'none'",
                                               "referrer-policy": "no-referrer"})  # fmt: skip


class PreviewLinks:
    def __init__(
        self, sessions: PreviewSessions, clock: Callable[[], int] = SYSTEM_CLOCK.now_ms
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/preview/start", self.start, methods=["GET"]),
            Route("/preview/stop", self.stop, methods=["GET"]),
        ]

    async def start(self, request: Request) -> Response:
        token = request.query_params.get("t", "")
        now_ms = self._clock()
        try:
            active = await self._sessions.check(token, now_ms)
        except TokenRejected as rejected:
            PREVIEW_COOKIES.labels(rejected.reason).inc()
            return _page(400, "Preview link refused",
                         f"This preview link is {rejected.reason}: start a new preview in "
                         "the admin UI and open its new link.")  # fmt: skip
        session = active.session
        target = request.query_params.get("to", "")
        allowed = active.document.get("container", {}).get("allowed_origins", [])
        own = f"{request.url.scheme}://{request.url.netloc}"
        response: Response
        if target and _origin(target) in (*allowed, own):
            response = RedirectResponse(target, 303)
        else:
            response = _page(200, "Preview on",
                             f"This browser now runs the preview of {session.container_id} "
                             f"({session.source}, {session.mode.replace('_', ' ')}). Open the "
                             "site in this browser; /preview/stop ends it here.")  # fmt: skip
        response.set_cookie(
            COOKIE, token, max_age=max(1, (session.expires_at_ms - now_ms) // 1000), path="/",
            httponly=True, samesite="lax", secure=request.url.scheme == "https",
        )  # fmt: skip
        response.headers["cache-control"] = "no-store"
        return response

    async def stop(self, request: Request) -> Response:
        response = _page(200, "Preview off", "This browser runs the live version again.")
        response.delete_cookie(COOKIE, path="/")
        return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""

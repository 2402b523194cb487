"""The fake's own API under `/_fake`: what arrived, reset, queued failures, a test-events page.

Everything answers JSON except `/_fake/`, a small HTML page like the platforms' "test
events" screens. Every value on it comes from requests, so all of it is escaped, and the
page has no script and loads nothing else.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fake_platforms.checks import as_int, is_number
from fake_platforms.recorder import PLATFORMS, VIEWS, EventRecord

if TYPE_CHECKING:
    from fake_platforms.app import FakePlatforms

__all__ = ["MAX_FAIL_COUNT", "MAX_HOLD_S", "routes"]

MAX_FAIL_COUNT = 1000
MAX_HOLD_S = 600.0
PAGE_ROWS = 100
TITLES = {
    "meta": "Meta",
    "tiktok": "TikTok",
    "linkedin": "LinkedIn",
    "google_ads": "Google Ads",
    "ga4": "GA4",
}
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
    "th{background:#f4f4f4}.none{color:#777}"
)


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, 400)


def routes(platforms: FakePlatforms) -> list[BaseRoute]:
    """The `/_fake` routes over one FakePlatforms."""

    async def events(request: Request) -> Response:
        query = request.query_params
        try:
            found = platforms.events(
                query.get("platform"), query.get("view", "live"), query.get("test_code")
            )
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse({"events": found})

    async def requests(request: Request) -> Response:
        try:
            found = platforms.requests(request.query_params.get("platform"))
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse({"requests": found})

    async def reset(request: Request) -> Response:
        platforms.reset()
        return JSONResponse({"reset": True})

    async def fail(request: Request) -> Response:
        try:
            order = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return _bad(f"body is not valid JSON: {exc.msg}")
        if not isinstance(order, dict):
            return _bad('body must be an object: {"platform", "mode", "count", "hold_seconds"}')
        count = as_int(order.get("count", 1))
        hold = order.get("hold_seconds", 30.0)
        if count is None or not 1 <= count <= MAX_FAIL_COUNT:
            return _bad(f"count must be a whole number from 1 to {MAX_FAIL_COUNT}")
        if not is_number(hold) or not 0 <= hold <= MAX_HOLD_S:
            return _bad(f"hold_seconds must be a number from 0 to {MAX_HOLD_S:g}")
        platform, mode = order.get("platform"), order.get("mode")
        if not isinstance(platform, str) or not isinstance(mode, str):
            return _bad("platform and mode must be strings")
        try:
            pending = platforms.fail_next(platform, mode, count, hold_seconds=float(hold))
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse(
            {"platform": platform, "mode": mode, "count": count, "pending": pending}
        )

    async def page(request: Request) -> Response:
        now_ms = platforms.context.now_ms()
        body = "".join(_section(name, platforms, now_ms) for name in PLATFORMS)
        api = _text(_mounted(request, "/_fake"))
        document = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="5">'
            f"<title>Fake platforms: test events</title><style>{STYLE}</style></head><body>"
            "<h1>Fake platforms: events received</h1>"
            f"<p>Refreshes every 5 seconds. JSON: <code>{api}/events</code>, "
            f"<code>{api}/requests</code>.</p>"
            f"{body}</body></html>"
        )
        headers = {
            "content-security-policy": CSP,
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
            "referrer-policy": "no-referrer",
        }
        return HTMLResponse(document, headers=headers)

    async def home(request: Request) -> Response:
        return RedirectResponse(_mounted(request, "/_fake/"), 303)

    return [
        Route("/_fake/events", events, methods=["GET"]),
        Route("/_fake/requests", requests, methods=["GET"]),
        Route("/_fake/reset", reset, methods=["POST"]),
        Route("/_fake/fail", fail, methods=["POST"]),
        Route("/_fake/", page, methods=["GET"]),
        Route("/_fake", home, methods=["GET"]),
        Route("/", home, methods=["GET"]),
    ]


def _mounted(request: Request, path: str) -> str:
    """`path` as the browser reaches it: behind the prefix the fakes are mounted at (the
    demo serves them under `/fake`) or that a proxy strips (uvicorn's `--root-path`)."""
    root_path: str = request.scope.get("root_path", "")  # a str in ASGI; the scope is untyped
    return root_path.rstrip("/") + path


def _section(platform: str, platforms: FakePlatforms, now_ms: int) -> str:
    parts = [f"<section><h2>{TITLES[platform]}</h2>"]
    for view in VIEWS:
        records = platforms.recorder.events(platform, view)
        parts.append(f"<h3>{view.capitalize()} events ({len(records)})</h3>")
        parts.append(_table(records[-PAGE_ROWS:][::-1], now_ms))
    parts.append("</section>")
    return "".join(parts)


def _table(records: list[EventRecord], now_ms: int) -> str:
    if not records:
        return '<p class="none">None yet.</p>'
    head = "<tr><th>Event</th><th>Event id</th><th>Age</th><th>Test code</th><th>Account</th></tr>"
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{_text(cell)}</td>"
            for cell in (
                r.event_name,
                r.event_id,
                _age(now_ms - r.received_ms),
                r.test_code,
                r.account,
            )
        )
        + "</tr>"
        for r in records
    )
    return f"<table>{head}{rows}</table>"


def _text(value: Any) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def _age(ms: int) -> str:
    seconds = max(0, ms // 1000)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"

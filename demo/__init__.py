"""`tagwire serve --demo`: a demo site, its container, a local receiver for its webhook tag,
and the fake platform servers its Meta, TikTok, LinkedIn, Google Ads and GA4 tags send to.

The receiver and the fakes stand in for real destinations so a new user can watch each
delivered event: the receiver prints one log line per event, and `/demo/events` lists what
the receiver and each fake platform accepted.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from fake_platforms import FakeAccounts, FakePlatforms

__all__ = ["DemoReceiver", "demo_document", "demo_routes", "demo_secrets"]

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; "
    "trusted-types tagwire"
)
PAGES = {
    "/demo/": "index.html",
    "/demo/lead": "lead.html",
    "/demo/thanks": "thanks.html",
    "/demo/events": "events.html",
}

log = logging.getLogger("tagwire.demo")


def demo_document(receiver_url: str) -> dict[str, Any]:
    """The bundled demo container with its webhook pointed at this node's receiver.

    LinkedIn retires an API version about a year after its release, so the demo asks for
    last month's version instead of pinning one that would stop working.
    """
    doc: dict[str, Any] = orjson.loads((HERE / "container.json").read_bytes())
    today = dt.datetime.now(dt.UTC)
    last_month = today.year * 12 + today.month - 2
    for tag in doc["tags"]:
        if tag["template"] == "webhook":
            tag["params"]["url"] = receiver_url
        elif tag["template"] == "linkedin":
            tag["params"]["api_version"] = f"{last_month // 12:04d}{last_month % 12 + 1:02d}"
    return doc


def demo_secrets() -> dict[str, str]:
    """The secrets the demo container's tags name: the fake platforms' default credentials."""
    accounts = FakeAccounts()
    return {
        "demo_meta_token": accounts.meta_access_token,
        "demo_tiktok_token": accounts.tiktok_access_token,
        "demo_linkedin_token": accounts.linkedin_access_token,
        "demo_ads_developer_token": accounts.google_ads_developer_token,
        "demo_ads_token": accounts.google_ads_access_token,
        "demo_ga4_secret": accounts.ga4_streams["G-DEMO12345"],
    }


class DemoReceiver:
    """Keeps the last events the demo tag delivered, in memory."""

    def __init__(self, keep: int = 500) -> None:
        self.events: deque[dict[str, Any]] = deque(maxlen=keep)

    async def receive(self, request: Request) -> Response:
        try:
            event = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return JSONResponse({"error": f"malformed JSON: {exc.msg}"}, 400)
        if not isinstance(event, dict):
            return JSONResponse({"error": "body must be a JSON object"}, 400)
        event["received_at_ms"] = int(time.time() * 1000)
        self.events.append(event)
        log.info(
            "demo receiver got an event",
            extra={
                "fields": {
                    "event": event.get("event"),
                    "event_id": event.get("event_id"),
                    "value": event.get("data", {}).get("value"),
                    "currency": event.get("data", {}).get("currency"),
                }
            },
        )
        return Response(status_code=204)

    async def list(self, request: Request) -> Response:
        return JSONResponse(list(self.events), headers={"cache-control": "no-store"})


def demo_routes(receiver: DemoReceiver, platforms: FakePlatforms) -> list[BaseRoute]:
    """The demo pages, the receiver, and the fake platforms under `/fake`."""
    pages = {
        path: (HERE / "pages" / name).read_text(encoding="utf-8") for path, name in PAGES.items()
    }

    async def page(request: Request) -> Response:
        nonce = secrets.token_urlsafe(16)
        html = pages[request.url.path].replace("{{nonce}}", nonce)
        return HTMLResponse(
            html,
            headers={
                "content-security-policy": CSP.format(nonce=nonce),
                "cache-control": "no-store",
                "referrer-policy": "strict-origin-when-cross-origin",
                "x-content-type-options": "nosniff",
            },
        )

    async def home(request: Request) -> Response:
        return Response(status_code=307, headers={"location": "/demo/"})

    return [
        Route("/", home),
        *(Route(path, page) for path in PAGES),
        Route("/demo/receiver", receiver.receive, methods=["POST"]),
        Route("/demo/receiver/events", receiver.list),
        Mount("/demo/static", StaticFiles(directory=HERE / "static"), name="demo-static"),
        Mount("/fake", app=platforms.app),
    ]

"""Fake browser pixel libraries and the beacons they send.

Four small scripts stand in for Meta's fbevents.js, TikTok's events.js, LinkedIn's
insight.min.js and gtag.js. Each drains the stub queue its vendor's official base code
builds, takes later commands the same way, and posts every event as JSON to a beacon route
on the origin and path prefix it was loaded from, so real-browser tests can check that the
pixel and the server API carry the same event id without reaching the internet. They are
test stand-ins: they set no cookies, hash nothing and load nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fake_platforms import google_ads
from fake_platforms.beacon import as_platform
from fake_platforms.exchange import ALL_METHODS, Context, endpoint
from fake_platforms.pixel_beacons import GA4, GOOGLE_ADS, LINKEDIN, META, TIKTOK

__all__ = ["BEACON_PATHS", "SCRIPT_FILES", "SCRIPT_PATHS", "routes", "script"]

# Each tagwire script-URL setting and where that library lives on the fake.
SCRIPT_PATHS = {
    "meta_pixel_script_url": "/meta/fbevents.js",
    "tiktok_pixel_script_url": "/tiktok/events.js",
    "linkedin_pixel_script_url": "/linkedin/insight.min.js",
    "gtag_script_url": "/gtag/js",
}
SCRIPT_FILES = {
    "/meta/fbevents.js": "fbevents.js",
    "/tiktok/events.js": "tiktok-events.js",
    "/linkedin/insight.min.js": "insight.min.js",
    "/gtag/js": "gtag.js",
}
BEACON_PATHS = {
    "/meta/tr": META,
    "/tiktok/pixel": TIKTOK,
    "/linkedin/collect": LINKEDIN,
    "/gtag/pagead/conversion": GOOGLE_ADS,
    "/gtag/g/collect": GA4,
}
SCRIPT_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}


def script(name: str) -> str:
    """The source of one library file in `static/`."""
    return (resources.files("fake_platforms") / "static" / name).read_text("utf-8")


def _library(source: str) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        return Response(source, media_type="application/javascript", headers=SCRIPT_HEADERS)

    return serve


def routes(ctx: Context) -> list[BaseRoute]:
    """The library and beacon routes; they go before the platforms' catch-all paths.

    Beacons never take failures queued with `fail_next`: those are for the server APIs.
    """
    return [
        *(
            Route(path, _library(script(name)), methods=["GET"])
            for path, name in SCRIPT_FILES.items()
        ),
        *(
            Route(path, endpoint(as_platform(beacon), ctx, failures=False), methods=ALL_METHODS)
            for path, beacon in BEACON_PATHS.items()
        ),
        Route(
            "/gtag/{rest:path}", endpoint(google_ads.PLATFORM, ctx, api=False), methods=ALL_METHODS
        ),
    ]

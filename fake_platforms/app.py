"""One app for all fake platforms: a path prefix per platform plus the `/_fake` API.

`FakePlatforms` holds the state (accounts, clock, records, queued failures) and offers the
same queries in-process that `/_fake` offers over HTTP, so a test that runs the app in a
thread can assert without a round trip.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from fake_platforms import ga4, google_ads, linkedin, meta, oauth, pixels, tiktok, views
from fake_platforms.accounts import FakeAccounts
from fake_platforms.exchange import Clock, Context, wall_clock_ms
from fake_platforms.recorder import PLATFORMS, VIEWS, Recorder

__all__ = ["BASE_PATHS", "FakePlatforms", "base_urls", "create_app", "pixel_script_urls"]

# Each tagwire base-URL setting and where that platform lives on the fake.
BASE_PATHS = {
    "meta_base_url": "/meta",
    "tiktok_base_url": "/tiktok",
    "linkedin_base_url": "/linkedin",
    "google_ads_base_url": "/google-ads",
    "ga4_base_url": "/ga4",
    "google_oauth_base_url": "/google-oauth",
    "linkedin_oauth_base_url": "/linkedin-oauth",
}


def base_urls(url: str) -> dict[str, str]:
    """The base-URL settings that send tagwire's platform requests to a fake at `url`."""
    return {name: url.rstrip("/") + path for name, path in BASE_PATHS.items()}


def pixel_script_urls(url: str) -> dict[str, str]:
    """The script-URL settings that make the loader insert the fake pixel libraries of a
    fake at `url` (same origin as the page, or `connect-src 'self'` blocks their beacons)."""
    return {name: url.rstrip("/") + path for name, path in pixels.SCRIPT_PATHS.items()}


class FakePlatforms:
    """The fake platforms' state and their ASGI app."""

    def __init__(self, accounts: FakeAccounts | None = None, clock: Clock | None = None) -> None:
        self.accounts = accounts or FakeAccounts()
        self.recorder = Recorder()
        self.context = Context(self.accounts, clock or wall_clock_ms, self.recorder)
        routes = [
            *pixels.routes(self.context),
            *meta.routes(self.context),
            *tiktok.routes(self.context),
            *linkedin.routes(self.context),
            *google_ads.routes(self.context),
            *ga4.routes(self.context),
            *oauth.routes(self.context),
            *views.routes(self),
        ]
        self.app = Starlette(routes=routes)
        # No trailing-slash redirects: Starlette builds their Location from the Host header.
        self.app.router.redirect_slashes = False
        self.app.state.platforms = self

    def events(
        self, platform: str | None = None, view: str = "live", test_code: str | None = None
    ) -> list[dict[str, Any]]:
        """Accepted events of one view, oldest first; `test_code` narrows the test view."""
        _check_platform(platform)
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
        if test_code is not None and view != "test":
            raise ValueError("test_code applies to view=test only")
        return [e.to_json() for e in self.recorder.events(platform, view, test_code)]

    def requests(self, platform: str | None = None) -> list[dict[str, Any]]:
        """Every request received, rejected ones included, with secrets redacted."""
        _check_platform(platform)
        return [r.to_json() for r in self.recorder.requests(platform)]

    def reset(self) -> None:
        """Forgets events, requests and queued failures; releases held requests."""
        self.recorder.reset()

    def fail_next(
        self, platform: str, mode: str, count: int = 1, *, hold_seconds: float = 30.0
    ) -> int:
        """Makes the platform's next `count` requests fail; returns how many are queued.

        `mode` is `server_error`, `rate_limit`, `auth` or `timeout`; a `timeout` holds the
        request `hold_seconds` (or until `release`/`reset`) and then answers a server error.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        self.recorder.fail_next(platform, mode, count, hold_seconds)
        return self.recorder.pending_failures(platform)

    def release(self) -> None:
        """Lets held `timeout` requests answer now."""
        self.recorder.release()


def _check_platform(platform: str | None) -> None:
    if platform is not None and platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; one of {', '.join(PLATFORMS)}")


def create_app(accounts: FakeAccounts | None = None, clock: Clock | None = None) -> Starlette:
    """A fresh fake-platforms app; its FakePlatforms is `app.state.platforms`."""
    return FakePlatforms(accounts, clock).app

"""Fake Meta, TikTok, LinkedIn, Google Ads and GA4 servers for tests and the demo.

They validate requests as strictly as the real APIs, answer with each platform's own
success and error shapes, and record what they received; stand-ins for the vendors' browser
pixel libraries report to them too. See docs/fake-platforms.md.
"""

from fake_platforms.accounts import FakeAccounts
from fake_platforms.app import (
    BASE_PATHS,
    FakePlatforms,
    base_urls,
    create_app,
    pixel_script_urls,
)
from fake_platforms.recorder import FAIL_MODES, PLATFORMS
from fake_platforms.server import FakeServer, serve

__all__ = [
    "BASE_PATHS",
    "FAIL_MODES",
    "PLATFORMS",
    "FakeAccounts",
    "FakePlatforms",
    "FakeServer",
    "base_urls",
    "create_app",
    "pixel_script_urls",
    "serve",
]

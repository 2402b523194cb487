"""Platform requests are rewritten to the configured base URLs only when a setting moves them."""

from __future__ import annotations

import dataclasses

import pytest

from config.settings import Settings
from container.delivery.routes import PLATFORM_ORIGINS, PlatformRoutes

FAKE = "http://127.0.0.1:9100"


def test_default_settings_leave_every_url_alone() -> None:
    routes = PlatformRoutes.from_settings(Settings())
    for origins in PLATFORM_ORIGINS.values():
        for origin in origins:
            assert routes(origin + "/v1/x?a=1") == origin + "/v1/x?a=1"


@pytest.mark.parametrize(
    ("setting", "url", "expected"),
    [
        ("meta_base_url", "https://graph.facebook.com/v25.0/123/events",
         f"{FAKE}/meta/v25.0/123/events"),
        ("tiktok_base_url", "https://business-api.tiktok.com/open_api/v1.3/event/track/",
         f"{FAKE}/tiktok/open_api/v1.3/event/track/"),
        ("linkedin_base_url", "https://api.linkedin.com/rest/conversionEvents",
         f"{FAKE}/linkedin/rest/conversionEvents"),
        ("google_ads_base_url",
         "https://googleads.googleapis.com/v26/customers/1234567890:uploadClickConversions",
         f"{FAKE}/google-ads/v26/customers/1234567890:uploadClickConversions"),
        ("ga4_base_url", "https://www.google-analytics.com/mp/collect?measurement_id=G-1&api_secret=s",
         f"{FAKE}/ga4/mp/collect?measurement_id=G-1&api_secret=s"),
        ("ga4_base_url", "https://region1.google-analytics.com/debug/mp/collect?measurement_id=G-1",
         f"{FAKE}/ga4/debug/mp/collect?measurement_id=G-1"),
    ],
)  # fmt: skip
def test_a_moved_platform_is_rewritten(setting: str, url: str, expected: str) -> None:
    prefix = expected.split("/")[3]
    settings = dataclasses.replace(Settings(), **{setting: f"{FAKE}/{prefix}"})
    routes = PlatformRoutes.from_settings(settings)
    assert routes(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://graph.facebook.com.evil.example/v25.0/1/events",  # only the exact origin
        "https://graph.facebook.comx/v25.0/1/events",
        "http://graph.facebook.com/v25.0/1/events",  # another scheme is another origin
        "https://hooks.example.com/graph.facebook.com/",
    ],
)
def test_only_the_exact_origin_is_moved(url: str) -> None:
    settings = dataclasses.replace(Settings(), meta_base_url=f"{FAKE}/meta")
    assert PlatformRoutes.from_settings(settings)(url) == url

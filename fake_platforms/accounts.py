"""Which credentials and ids the fake platforms accept.

The defaults are shared by the demo and the tests, so a container document written for the
demo works against a fake started with no arguments. Tests pass their own `FakeAccounts`
to check what happens with another pixel, customer or stream.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["FakeAccounts", "OAuthClient"]


def _streams() -> Mapping[str, str]:
    return MappingProxyType({"G-DEMO12345": "ga4-test-secret"})


def _ads_tags() -> Mapping[str, frozenset[str]]:
    return MappingProxyType({"AW-123456789": frozenset({"DemoLeadLabel"})})


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An OAuth client the fake token endpoint knows, the refresh token it issued, and how
    long the access tokens it mints live (tests shorten it to cross several lifetimes)."""

    client_id: str
    client_secret: str
    refresh_token: str
    lifetime_s: int

    def __post_init__(self) -> None:
        if self.lifetime_s < 1:
            raise ValueError("lifetime_s must be at least 1 second")


GOOGLE_OAUTH = OAuthClient(
    "tagwire-fake.apps.googleusercontent.com",
    "fake-google-client-secret",
    "1//fake-google-refresh-token",
    3599,  # what Google's token endpoint answers
)
LINKEDIN_OAUTH = OAuthClient(
    "fakelinkedinclient",
    "fake-linkedin-client-secret",
    "AQfake-linkedin-refresh-token",
    5_183_999,  # 60 days, LinkedIn's access token lifetime
)


def _clicks() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FakeAccounts:
    """Accepted ids, tokens and API versions, per platform.

    `linkedin_partners` are Insight Tag partner ids and `google_ads_tags` maps each Google
    tag id (`AW-...`) to its conversion labels; only the browser pixels use them. The fixed
    access tokens never expire; `google_oauth` and `linkedin_oauth` are the clients whose
    refresh tokens the token endpoints exchange for expiring ones (`fake_platforms.oauth`).
    """

    meta_pixels: frozenset[str] = frozenset({"1234567890123456"})
    meta_access_token: str = "meta-test-token"  # noqa: S105 - a published test token
    meta_versions: tuple[str, ...] = ("v24.0", "v25.0")
    tiktok_pixels: frozenset[str] = frozenset({"CDEMO1234567890ABCDE"})
    tiktok_access_token: str = "tiktok-test-token"  # noqa: S105 - a published test token
    linkedin_access_token: str = "linkedin-test-token"  # noqa: S105 - a published test token
    linkedin_rules: frozenset[str] = frozenset({"12345678", "23456789"})
    linkedin_active_months: int = 12
    linkedin_partners: frozenset[str] = frozenset({"1234567"})
    google_ads_customers: frozenset[str] = frozenset({"1234567890"})
    google_ads_developer_token: str = "ads-dev-token"  # noqa: S105 - a published test token
    google_ads_access_token: str = "ads-oauth-token"  # noqa: S105 - a published test token
    google_ads_conversion_actions: frozenset[str] = frozenset({"987654321", "876543210"})
    google_ads_versions: tuple[str, ...] = ("v25", "v26")
    google_ads_tags: Mapping[str, frozenset[str]] = field(default_factory=_ads_tags)
    # gclid -> when its click happened (Unix ms): an upload sooner than 6 hours after it is
    # TOO_RECENT_EVENT; clicks not listed are old enough
    google_ads_clicks: Mapping[str, int] = field(default_factory=_clicks)
    google_oauth: OAuthClient = GOOGLE_OAUTH
    linkedin_oauth: OAuthClient = LINKEDIN_OAUTH
    ga4_streams: Mapping[str, str] = field(default_factory=_streams)

    def __post_init__(self) -> None:
        # Callers may pass plain sets, lists and dicts; keep the instance immutable anyway.
        for name in (
            "meta_pixels",
            "tiktok_pixels",
            "linkedin_rules",
            "linkedin_partners",
            "google_ads_customers",
            "google_ads_conversion_actions",
        ):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        for name in ("meta_versions", "google_ads_versions"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "ga4_streams", MappingProxyType(dict(self.ga4_streams)))
        object.__setattr__(
            self, "google_ads_clicks", MappingProxyType(dict(self.google_ads_clicks))
        )
        if any(isinstance(labels, str) for labels in self.google_ads_tags.values()):
            raise ValueError("google_ads_tags maps each AW- id to a collection of labels")
        tags = {tag: frozenset(labels) for tag, labels in self.google_ads_tags.items()}
        object.__setattr__(self, "google_ads_tags", MappingProxyType(tags))
        if not self.meta_versions or not self.google_ads_versions:
            raise ValueError("meta_versions and google_ads_versions need at least one version")
        if self.linkedin_active_months < 1:
            raise ValueError("linkedin_active_months must be at least 1")

    def linkedin_versions(self, now_ms: int) -> tuple[str, ...]:
        """LinkedIn-Version values (YYYYMM) still served: the months ending with the current one.

        LinkedIn sunsets a version about a year after its release, so the window follows the
        fake's clock rather than a fixed list that would rot.
        """
        today = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC)
        months = today.year * 12 + today.month - 1
        return tuple(
            f"{m // 12:04d}{m % 12 + 1:02d}"
            for m in range(months - self.linkedin_active_months + 1, months + 1)
        )

"""Where platform requests really go: templates name the real API origins, settings move them.

Templates always build the platforms' real URLs (`https://graph.facebook.com/...`), so
their tests and the outbox show what production sends. A node whose settings point a
platform's base URL elsewhere (the fake platform servers in tests and the demo, a proxy)
has matching requests rewritten when they are sent, not when they are queued: a replayed
row follows the node's current settings.
"""

from __future__ import annotations

from config.settings import Settings

__all__ = ["PLATFORM_ORIGINS", "PlatformRoutes"]

# Each platform setting and the real origins it replaces; the first is the default.
PLATFORM_ORIGINS: dict[str, tuple[str, ...]] = {
    "meta_base_url": ("https://graph.facebook.com",),
    "tiktok_base_url": ("https://business-api.tiktok.com",),
    "linkedin_base_url": ("https://api.linkedin.com",),
    "google_ads_base_url": ("https://googleads.googleapis.com",),
    "ga4_base_url": ("https://www.google-analytics.com", "https://region1.google-analytics.com"),
}


class PlatformRoutes:
    """Rewrites a request URL whose origin is a platform's to the configured base URL."""

    __slots__ = ("_prefixes",)

    def __init__(self, prefixes: dict[str, str]) -> None:
        self._prefixes = {origin + "/": base + "/" for origin, base in prefixes.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformRoutes:
        prefixes = {}
        for name, origins in PLATFORM_ORIGINS.items():
            base = getattr(settings, name)
            if base != origins[0]:
                prefixes.update(dict.fromkeys(origins, base))
        return cls(prefixes)

    def __call__(self, url: str) -> str:
        for origin, base in self._prefixes.items():
            if url.startswith(origin):
                return base + url[len(origin) :]
        return url

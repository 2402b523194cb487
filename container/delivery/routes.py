"""Where platform requests really go: templates name the real API origins, settings move them.

Templates always build the platforms' real URLs (`https://graph.facebook.com/...`), so
their tests and the stored rows show what production sends, and the sender picks each
platform's batching rules by that URL. A node whose settings point a platform's base URL
elsewhere (the fake platform servers in tests and the demo, a proxy) rewrites matching
URLs when it sends them, so a replayed row follows the node's current settings. The outbox
writer stores such a row with the destination it is sent to (`127.0.0.1:8000/fake/meta`
instead of `graph.facebook.com`), so the outbox and `tagwire history` show where it went,
and the sender's log lines name the URL really requested.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from config.settings import Settings
from config.storage import OutboxRow

__all__ = ["PLATFORM_ORIGINS", "PlatformRoutes", "requested"]

# Each platform setting and the real origins it replaces; the first is the default.
PLATFORM_ORIGINS: dict[str, tuple[str, ...]] = {
    "meta_base_url": ("https://graph.facebook.com",),
    "tiktok_base_url": ("https://business-api.tiktok.com",),
    "linkedin_base_url": ("https://api.linkedin.com",),
    "google_ads_base_url": ("https://googleads.googleapis.com",),
    "ga4_base_url": ("https://www.google-analytics.com", "https://region1.google-analytics.com"),
    # the token endpoints the sender refreshes OAuth access tokens at (container.delivery.oauth)
    "google_oauth_base_url": ("https://oauth2.googleapis.com",),
    "linkedin_oauth_base_url": ("https://www.linkedin.com",),
}


def requested(url: str) -> str:
    """A URL as logs show it: scheme, host and path. The query goes: it can carry an access
    token (Meta, GA4) or personal data."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class PlatformRoutes:
    """Rewrites a request URL whose origin is a platform's to the configured base URL."""

    __slots__ = ("_destinations", "_prefixes")

    def __init__(self, prefixes: dict[str, str]) -> None:
        self._prefixes = {origin + "/": base + "/" for origin, base in prefixes.items()}
        # A moved row's destination is its base URL without the scheme (`127.0.0.1:8000/
        # fake/meta`): the fakes share a host, and each keeps its own circuit breaker.
        self._destinations = {
            origin: base.split("://", 1)[-1].rstrip("/") for origin, base in self._prefixes.items()
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformRoutes:
        prefixes = {}
        for name, origins in PLATFORM_ORIGINS.items():
            base = getattr(settings, name)
            if base != origins[0]:
                prefixes.update(dict.fromkeys(origins, base))
        return cls(prefixes)

    def __bool__(self) -> bool:
        """False when no setting moves a platform: nothing is ever rewritten."""
        return bool(self._prefixes)

    def __call__(self, url: str) -> str:
        for origin, base in self._prefixes.items():
            if url.startswith(origin):
                return base + url[len(origin) :]
        return url

    def row(self, row: OutboxRow) -> OutboxRow:
        """The row with the destination it is sent to (itself when not moved). Its URL stays
        the platform's: batching reads it, and the sender moves it when it sends."""
        for origin, destination in self._destinations.items():
            if row.url.startswith(origin):
                return row._replace(destination=destination)
        return row

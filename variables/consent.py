"""Server-side consent checks for Google Consent Mode signals.

The server re-enforces consent instead of trusting that the browser only sent hits it was
allowed to: a tag that needs `ad_storage` never runs for a hit that does not carry
`ad_storage: granted`, whatever the loader did.
"""

from __future__ import annotations

from collections.abc import Iterable

from variables.hit import Hit

__all__ = ["missing_consent", "storage_granted"]


def missing_consent(hit: Hit, signals: Iterable[str]) -> list[str]:
    """The consent signals in `signals` that the hit does not grant (absent counts as denied)."""
    consent = hit.section("consent")
    if consent.get("gpc") or hit.sec_gpc:
        # Global Privacy Control opts the visitor out of sale/sharing: ad signals are denied.
        return [s for s in signals if s != "analytics_storage" or consent.get(s) != "granted"]
    return [s for s in signals if consent.get(s) != "granted"]


def storage_granted(wire_consent: dict | None) -> bool:
    """Whether a first-party analytics identifier may be stored for this visitor."""
    return bool(wire_consent) and wire_consent.get("analytics_storage") == "granted"

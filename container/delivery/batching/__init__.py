"""Per-platform batching: which queued requests share one request, how they are merged,
and what the platform's answer means for each row. See docs/delivery.md#batching."""

from container.delivery.batching.ga4 import Ga4Policy
from container.delivery.batching.google_ads import GoogleAdsPolicy
from container.delivery.batching.linkedin import LinkedInPolicy
from container.delivery.batching.meta import MetaPolicy
from container.delivery.batching.policy import (
    Answer,
    Entry,
    HttpPolicy,
    Outcome,
    Request,
    Verdict,
)
from container.delivery.batching.tiktok import TikTokPolicy

__all__ = [
    "POLICIES",
    "Answer",
    "Entry",
    "Ga4Policy",
    "GoogleAdsPolicy",
    "HttpPolicy",
    "LinkedInPolicy",
    "MetaPolicy",
    "Outcome",
    "Policies",
    "Request",
    "TikTokPolicy",
    "Verdict",
]


class Policies:
    """Finds the policy for a request's URL (the template's real platform URL, before any
    base-URL rewrite); the last one, `HttpPolicy`, takes everything else."""

    def __init__(self, policies: list[HttpPolicy]) -> None:
        self._policies = [*policies, HttpPolicy()]

    def __call__(self, url: str) -> HttpPolicy:
        return next(policy for policy in self._policies if policy.matches(url))


POLICIES = Policies(
    [MetaPolicy(), TikTokPolicy(), LinkedInPolicy(), GoogleAdsPolicy(), Ga4Policy()]
)

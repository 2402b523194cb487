"""What a platform's answer means when its HTTP status alone would mislead the sender.

TikTok reports failures as HTTP 200 with a non-zero `code`; the Google Ads API reports a
refused conversion as HTTP 200 with a `partialFailureError`; GA4's validation endpoint
answers 200 with the problems it found; Meta marks some 4xx answers (rate limits) as
transient. Reading these keeps a refused event from being recorded as sent, and a
throttled one from being dead-lettered.

The request's URL is the template's real platform URL (before any base-URL rewrite), so
the platform is known by its origin.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

__all__ = ["Verdict", "read_answer"]

Verdict = Literal["sent", "retry", "dead"]

# TikTok business API codes that mean "try again later": rate limit and system errors.
_TIKTOK_TRANSIENT = frozenset({40100, 50000, 50002})
# Meta Graph API error codes for throttling and temporary unavailability.
_META_TRANSIENT = frozenset({1, 2, 4, 17, 32, 341, 613, 80004})


_GA4_DEBUG = (
    "https://www.google-analytics.com/debug/mp/collect",
    "https://region1.google-analytics.com/debug/mp/collect",
)


def _json(body: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _http_verdict(status: int | None) -> Verdict:
    if status is not None and 200 <= status < 300:
        return "sent"
    if status is None or status in (408, 429) or status >= 500:
        return "retry"
    return "dead"


def _tiktok(answer: Any) -> tuple[Verdict, str] | None:
    if not isinstance(answer, dict) or answer.get("code", 0) == 0:
        return None
    code = answer.get("code")
    reason = f"TikTok code {code}: {answer.get('message', '')}"
    return ("retry" if code in _TIKTOK_TRANSIENT else "dead"), reason


def _google_ads(answer: Any) -> tuple[Verdict, str] | None:
    if not isinstance(answer, dict) or not answer.get("partialFailureError"):
        return None
    error = answer["partialFailureError"]
    message = error.get("message", "") if isinstance(error, dict) else ""
    return "dead", f"Google Ads partial failure: {message}"


def _ga4_debug(answer: Any) -> tuple[Verdict, str] | None:
    if not isinstance(answer, dict) or not answer.get("validationMessages"):
        return None
    first = answer["validationMessages"][0]
    text = first.get("description", "") if isinstance(first, dict) else ""
    return "dead", f"GA4 validation: {text}"


def _meta_error(answer: Any) -> tuple[Verdict, str] | None:
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return None
    if error.get("is_transient") is True or error.get("code") in _META_TRANSIENT:
        return "retry", f"Meta code {error.get('code')}: {error.get('message', '')}"
    return None


def read_answer(url: str, status: int | None, body: str) -> tuple[Verdict, str | None]:
    """The verdict on one answer, and a reason when the platform's body changed it."""
    verdict = _http_verdict(status)
    special = None
    if verdict == "sent":
        if url.startswith("https://business-api.tiktok.com/"):
            special = _tiktok(_json(body))
        elif url.startswith("https://googleads.googleapis.com/"):
            special = _google_ads(_json(body))
        elif url.startswith(_GA4_DEBUG):
            special = _ga4_debug(_json(body))
    elif verdict == "dead" and url.startswith("https://graph.facebook.com/"):
        special = _meta_error(_json(body))
    if special is None:
        return verdict, None
    return special

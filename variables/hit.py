"""The validated hit as every inner room sees it.

`container/` builds a `Hit` from a request; `triggers/`, `variables/` and `tags/` only read
it. Keeping the record here lets the inner rooms depend on it without importing the data
plane.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTION_SOURCES",
    "CLICK_FIELDS",
    "CLICK_ID_SHAPES",
    "CONSENT_FIELDS",
    "CONSENT_SIGNALS",
    "DATA_FIELDS",
    "USER_FIELDS",
    "Hit",
    "click_id_shaped",
]

# The fields of hit schema v1's sections: the validator accepts exactly these, and
# variable references are checked against them.
ACTION_SOURCES = (
    "website", "phone_call", "chat", "email", "physical_store", "system_generated", "other"
)  # fmt: skip
CONSENT_SIGNALS = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
CONSENT_FIELDS = frozenset({*CONSENT_SIGNALS, "tcf", "gdpr_applies", "gpc", "source"})
USER_FIELDS = frozenset(
    {"em", "em_g", "ph", "ph_d", "fn", "ln", "ct", "st", "zp", "country", "external_id"}
)
# Click and browser ids are opaque tokens: URL-safe or standard base64-ish characters and
# dots, as the platforms mint them. Anything else in one (an email, a space, a quote, a
# semicolon) is not a click id and must never be echoed into a cookie or a request. The
# shapes are generous on purpose: a real id must never be refused.
_ID_CHAR = r"[A-Za-z0-9._~+/=-]"
_OPAQUE = re.compile(rf"{_ID_CHAR}{{1,512}}")
# Meta's _fbc/_fbp: fb.<subdomain index>.<creation ms>.<click id or number>[.<appendix>]
_META_COOKIE = re.compile(rf"fb\.[0-9]{{1,2}}\.[0-9]{{1,20}}\.{_ID_CHAR}{{1,480}}")
CLICK_ID_SHAPES: Mapping[str, re.Pattern[str]] = {
    "fbclid": _OPAQUE, "fbc": _META_COOKIE, "fbp": _META_COOKIE, "ttclid": _OPAQUE,
    "ttp": _OPAQUE, "gclid": _OPAQUE, "gbraid": _OPAQUE, "wbraid": _OPAQUE,
    "li_fat_id": _OPAQUE, "msclkid": _OPAQUE,
}  # fmt: skip
CLICK_FIELDS = frozenset(CLICK_ID_SHAPES)
DATA_FIELDS = frozenset(
    {"value", "currency", "transaction_id", "content_ids", "contents", "content_name",
     "content_type", "content_category", "num_items", "search_string", "status", "lead_id"}
)  # fmt: skip


@dataclass(slots=True)
class Hit:
    """One accepted hit plus the request facts the browser cannot be trusted to report.

    `wire` is the validated wire object (schema v1) exactly as the browser sent it;
    `headers` is the request's raw header list (lower-case names), read only on demand.
    """

    container_id: str
    event: str
    event_id: str
    wire: dict[str, Any]
    event_time_ms: int
    received_ms: int
    client_ip: str
    user_agent: str
    client_id: str | None
    sec_gpc: bool
    trace_id: str
    cookies: dict[str, str]
    headers: list[tuple[bytes, bytes]]
    # Where the conversion happened, in Meta's vocabulary (the widest of the platforms):
    # `/collect` hits are `website`; offline conversions (phone_call, chat,
    # system_generated, physical_store) come from the Fire API.
    action_source: str = "website"
    # A platform test-events code from the Fire API: templates send the event to the
    # platform's test view (or validation mode) instead of live reporting.
    test_event_code: str | None = None

    def section(self, name: str) -> dict[str, Any]:
        """A sub-object of the wire hit (`page`, `data`, `user`…), empty when absent."""
        value = self.wire.get(name)
        return value if value is not None else {}


def click_id_shaped(name: str, value: str) -> bool:
    """Whether `value` has the shape of the click or browser id `name` (a CLICK_FIELDS key)."""
    return CLICK_ID_SHAPES[name].fullmatch(value) is not None

"""The validated hit as every inner room sees it.

`container/` builds a `Hit` from a request; `triggers/`, `variables/` and `tags/` only read
it. Keeping the record here lets the inner rooms depend on it without importing the data
plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTION_SOURCES",
    "CLICK_FIELDS",
    "CONSENT_FIELDS",
    "CONSENT_SIGNALS",
    "DATA_FIELDS",
    "USER_FIELDS",
    "Hit",
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
CLICK_FIELDS = frozenset(
    {"fbclid", "fbc", "fbp", "ttclid", "ttp", "gclid", "gbraid", "wbraid", "li_fat_id", "msclkid"}
)
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

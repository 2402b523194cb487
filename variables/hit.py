"""The validated hit as every inner room sees it.

`container/` builds a `Hit` from a request; `triggers/`, `variables/` and `tags/` only read
it. Keeping the record here lets the inner rooms depend on it without importing the data
plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CONSENT_SIGNALS", "Hit"]

CONSENT_SIGNALS = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")


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

    def section(self, name: str) -> dict[str, Any]:
        """A sub-object of the wire hit (`page`, `data`, `user`…), empty when absent."""
        value = self.wire.get(name)
        return value if value is not None else {}

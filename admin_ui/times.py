"""Times as operators write them (ISO 8601 or an age such as `2h`) and as answers show
them (UTC ISO 8601 with milliseconds), shared by every front end so a time typed in the
CLI means what it means in the admin API."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

__all__ = ["iso", "now_ms", "parse_time"]

_RELATIVE = re.compile(r"(\d{1,9})([smhdw])")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def now_ms() -> int:
    """The clock every action uses unless a test gives its own."""
    return int(time.time() * 1000)


def parse_time(text: str, now: int) -> int:
    """Milliseconds since the epoch from an ISO 8601 time or date (no offset means UTC) or
    a relative age (`30m`, `2h`, `7d`, `1w`, `45s`: that long before `now`)."""
    text = text.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return now - int(relative.group(1)) * _UNIT_MS[relative.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-12-01T10:00:00Z, 2026-12-01) "
            "or an age such as 30m, 2h, 7d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    """UTC time with milliseconds: 2026-12-01T10:00:00.000Z."""
    stamp = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")

"""What the fake platforms received, and the failures queued for their next requests.

uvicorn's event loop writes here while a test thread reads and resets, so every access
takes one lock. Records are immutable; queries return deep copies as JSON-ready dicts, so a
test that edits what it got cannot change what the next query sees.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FAIL_MODES",
    "PLATFORMS",
    "VIEWS",
    "EventRecord",
    "Failure",
    "Recorder",
    "RequestRecord",
    "coded_records",
]

PLATFORMS = ("meta", "tiktok", "linkedin", "google_ads", "ga4")
VIEWS = ("live", "test", "browser")
FAIL_MODES = ("server_error", "rate_limit", "auth", "timeout")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One accepted event, with the platform's dedup key normalised for lookups."""

    platform: str
    view: str
    test_code: str | None
    received_ms: int
    event_id: str | None
    event_name: str | None
    event: Any
    account: str

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "view": self.view,
            "test_code": self.test_code,
            "received_ms": self.received_ms,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "event": copy.deepcopy(self.event),
            "account": self.account,
        }


def coded_records(
    platform: str, events: list[Any], *, test_code: str | None, received_ms: int,
    account: str, name_key: str,
) -> list[EventRecord]:  # fmt: skip
    """Records of one accepted batch of a platform with test event codes (Meta, TikTok):
    with a code the whole batch goes to the test view under it, otherwise to live."""
    view = "live" if test_code is None else "test"
    return [
        EventRecord(
            platform,
            view,
            test_code,
            received_ms,
            event.get("event_id"),
            event[name_key],
            event,
            account,
        )
        for event in events
    ]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the fake saw it, secrets already redacted, with the answer it got."""

    platform: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    response: Any
    reasons: tuple[str, ...]
    received_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": copy.deepcopy(self.body),
            "status": self.status,
            "response": copy.deepcopy(self.response),
            "reasons": list(self.reasons),
            "received_ms": self.received_ms,
        }


@dataclass(frozen=True, slots=True)
class Failure:
    """A failure queued for one request; `timeout` holds the request for `hold_s` first."""

    mode: str
    hold_s: float


class Recorder:
    """Thread-safe store of requests, accepted events and queued failures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[EventRecord] = []
        self._requests: list[RequestRecord] = []
        self._failures: dict[str, deque[Failure]] = {name: deque() for name in PLATFORMS}
        self._generation = 0

    def add(self, request: RequestRecord, events: Iterable[EventRecord] = ()) -> None:
        with self._lock:
            self._requests.append(request)
            self._events.extend(events)

    def events(
        self, platform: str | None = None, view: str | None = None, test_code: str | None = None
    ) -> list[EventRecord]:
        with self._lock:
            return [
                e
                for e in self._events
                if (platform is None or e.platform == platform)
                and (view is None or e.view == view)
                and (test_code is None or e.test_code == test_code)
            ]

    def requests(self, platform: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self._requests if platform is None or r.platform == platform]

    def fail_next(self, platform: str, mode: str, count: int, hold_s: float) -> None:
        if platform not in PLATFORMS:
            raise ValueError(f"unknown platform {platform!r}; one of {', '.join(PLATFORMS)}")
        if mode not in FAIL_MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(FAIL_MODES)}")
        with self._lock:
            self._failures[platform].extend(Failure(mode, hold_s) for _ in range(count))

    def take_failure(self, platform: str) -> Failure | None:
        with self._lock:
            queue = self._failures[platform]
            return queue.popleft() if queue else None

    def pending_failures(self, platform: str) -> int:
        with self._lock:
            return len(self._failures[platform])

    @property
    def generation(self) -> int:
        """Changes on every reset or release; held requests watch it to let go early."""
        with self._lock:
            return self._generation

    def release(self) -> None:
        """Lets every held (`timeout`) request answer now."""
        with self._lock:
            self._generation += 1

    def reset(self) -> None:
        """Forgets everything and releases held requests."""
        with self._lock:
            self._events.clear()
            self._requests.clear()
            for queue in self._failures.values():
                queue.clear()
            self._generation += 1

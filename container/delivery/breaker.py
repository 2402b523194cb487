"""A circuit breaker per destination: stop sending to a destination that is down.

After `failures` consecutive transport errors or 5xx answers it opens: requests are not
sent, and their rows wait (pending) until it reopens `open_s` later. Then one request goes
as a probe while the others wait for its answer; a probe that fails opens it again for
twice as long (up to `max_open_s`), one that gets any other answer closes it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass

from container.delivery.clock import SYSTEM_CLOCK, Clock

__all__ = ["Admission", "Breaker", "BreakerSettings", "State"]


class State(enum.IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class Admission(enum.Enum):
    SEND = "send"
    PROBE = "probe"  # the one request that tests an open destination
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5
    open_s: float = 30.0
    max_open_s: float = 300.0


class Breaker:
    def __init__(
        self,
        settings: BreakerSettings = BreakerSettings(),
        clock: Clock = SYSTEM_CLOCK,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._on_change = on_change
        self.state = State.CLOSED
        self.reopen_at = 0.0  # Unix seconds
        self._failures = 0
        self._opened = 0  # openings in a row, for the growing open time
        self._probe_done = asyncio.Event()

    async def admit(self) -> Admission:
        while True:
            if self.state is State.CLOSED:
                return Admission.SEND
            if self.state is State.OPEN:
                if self._clock.time() < self.reopen_at:
                    return Admission.DENIED
                self._probe_done = asyncio.Event()
                self._set(State.HALF_OPEN)
                return Admission.PROBE
            await self._probe_done.wait()

    def succeeded(self) -> None:
        self._failures = 0
        if self.state is not State.CLOSED:
            self._opened = 0
            self._set(State.CLOSED)
            self._probe_done.set()

    def failed(self) -> None:
        if self.state is State.HALF_OPEN:
            self._open()
        elif self.state is State.CLOSED:
            self._failures += 1
            if self._failures >= self._settings.failures:
                self._open()

    def abandoned(self) -> None:
        """The probe ended without an answer (stopping): let the next request probe."""
        if self.state is State.HALF_OPEN:
            self.reopen_at = self._clock.time()
            self._set(State.OPEN)
            self._probe_done.set()

    def _open(self) -> None:
        self._opened += 1
        hold = self._settings.open_s * 2 ** (self._opened - 1)
        self.reopen_at = self._clock.time() + min(hold, self._settings.max_open_s)
        self._failures = 0
        self._set(State.OPEN)
        self._probe_done.set()

    def _set(self, state: State) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change(state)

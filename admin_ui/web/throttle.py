"""Sign-in attempts per client address: a sliding minute, in memory, bounded.

The account lockout stops guessing one account's password; this stops one address from
trying many accounts. It is per node (a guesser spread over nodes meets each node's
limit), and forgets an address a minute after its last attempt.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["ATTEMPTS_PER_MINUTE", "SignInThrottle"]

ATTEMPTS_PER_MINUTE = 10
MAX_ADDRESSES = 10_000  # the oldest address is forgotten beyond this


class SignInThrottle:
    def __init__(
        self, per_minute: int = ATTEMPTS_PER_MINUTE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, address: str) -> bool:
        """Count an attempt from `address`; False when it is over the limit (not counted)."""
        now = self.clock()
        times = self._seen.pop(address, None) or deque()
        while times and now - times[0] >= 60:
            times.popleft()
        allowed = len(times) < self.per_minute
        if allowed:
            times.append(now)
        if times:
            self._seen[address] = times
            if len(self._seen) > MAX_ADDRESSES:
                self._seen.popitem(last=False)
        return allowed

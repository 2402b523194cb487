"""Rate limits per client IP and per client id (`tw_id`), in hits per minute.

A token bucket per key: a burst of up to the limit, refilled at limit/60 per second, so a
steady sender gets the limit per minute and a page that sends a batch is not punished for
it. A batch of N hits costs N tokens. State lives in this process only (each node limits on
its own; see docs/guards.md) and is bounded: least recently seen keys are dropped past
`max_keys`, so a flood of addresses cannot exhaust memory. A key idle for a minute has a
full bucket again, so dropping it loses nothing but a throttled key that went quiet.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

__all__ = ["CLIENT_LIMIT", "IP_LIMIT", "RateLimiter", "RateLimits", "RateVerdict"]

# Reasons: the `reason` label of tagwire_guard_blocks_total{guard="rate"}.
IP_LIMIT = "ip_limit"
CLIENT_LIMIT = "client_limit"

MAX_KEYS = 50_000  # per limiter: about 13 MB at most (IPv6 keys)


class RateLimiter:
    """One token bucket per key; clock-free: every call passes `now_ms`."""

    __slots__ = ("_buckets", "_max_keys", "_per_ms", "per_minute")

    def __init__(self, per_minute: int, max_keys: int = MAX_KEYS) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, not {per_minute}")
        self.per_minute = per_minute
        self._per_ms = per_minute / 60_000
        self._max_keys = max_keys
        # key -> [tokens, last refill in ms]: a list, updated in place on the hot path
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, key: str, hits: int, now_ms: int) -> int:
        """Take `hits` tokens: 0 when allowed, else the whole seconds until they are back
        (nothing is taken then, so a client that waits recovers)."""
        cost = min(hits, self.per_minute)  # a batch above the limit passes on a full bucket
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [float(self.per_minute), now_ms]
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = now_ms - bucket[1]
            if elapsed > 0:
                bucket[0] = min(self.per_minute, bucket[0] + elapsed * self._per_ms)
                bucket[1] = now_ms
        if bucket[0] >= cost:
            bucket[0] -= cost
            return 0
        return max(1, math.ceil((cost - bucket[0]) / self._per_ms / 1000))

    def give_back(self, key: str, hits: int) -> None:
        """Return tokens a request took that another limit then refused."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket[0] = min(self.per_minute, bucket[0] + min(hits, self.per_minute))

    def __len__(self) -> int:
        return len(self._buckets)


class RateVerdict(NamedTuple):
    reason: str  # IP_LIMIT or CLIENT_LIMIT
    setting: str  # the setting that sets the limit, named in the 429
    per_minute: int
    retry_after_s: int


class RateLimits:
    """Both limits for one request; either may be None (turned off)."""

    def __init__(self, per_ip: RateLimiter | None, per_client: RateLimiter | None) -> None:
        self.per_ip = per_ip
        self.per_client = per_client

    def check(self, ip: str, client_id: str | None, hits: int, now_ms: int) -> RateVerdict | None:
        """Take tokens for `hits` from the IP's and the client id's buckets, or neither."""
        per_ip, per_client = self.per_ip, self.per_client
        if per_ip is not None:
            wait = per_ip.take(ip, hits, now_ms)
            if wait:
                return RateVerdict(IP_LIMIT, "max_hits_per_ip_minute", per_ip.per_minute, wait)
        if per_client is not None and client_id is not None:
            wait = per_client.take(client_id, hits, now_ms)
            if wait:
                if per_ip is not None:
                    per_ip.give_back(ip, hits)
                return RateVerdict(
                    CLIENT_LIMIT, "max_hits_per_client_minute", per_client.per_minute, wait
                )
        return None

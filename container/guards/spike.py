"""Volume spike detector per container and event: hold, flag, never drop.

Hits are counted per (container, event) in one-minute buckets. The baseline is the median
of the last 30 finished minutes (quiet minutes count as 0, so a burst on a quiet site is
measured against zero). When the current minute's count is over `multiple` x baseline and
at least `min_events`, an episode starts: one warning is logged, the episode is counted,
and every hit of that event is held (its outbox rows are stored in state `held`, not sent)
until a whole minute ends back under the threshold. An operator then looks at the held
rows and releases or purges them (`tagwire outbox release`); nothing is lost on a false
alarm. The median follows a lasting change after about 15 minutes, so the detector catches
bursts, not a new normal.

For `warmup_minutes` after the node starts nothing is judged: a restart during busy hours
has no history yet. State lives in this process only (see docs/guards.md).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import OrderedDict

from container.metrics import GUARD_SPIKES

__all__ = ["SpikeDetector"]

log = logging.getLogger("tagwire.guards")

WINDOW_MINUTES = 30
WARMUP_MINUTES = 5
MAX_KEYS = 10_000  # (container, event) pairs; event names are chosen by senders


class _Series:
    """One (container, event): this minute's count and the finished minutes before it."""

    __slots__ = ("baseline", "count", "held", "history", "limit", "minute", "spiking")

    def __init__(self, minute: int, quiet_minutes: int) -> None:
        self.minute = minute
        self.count = 0
        self.history = [0] * quiet_minutes
        self.baseline = 0.0
        self.limit = math.inf  # multiple x baseline; infinite while warming up
        self.spiking = False
        self.held = 0


class SpikeDetector:
    """Clock-free: every call passes `now_ms`; `start_ms` is when the node started."""

    def __init__(
        self,
        multiple: float,
        min_events: int,
        start_ms: int,
        *,
        warmup_minutes: int = WARMUP_MINUTES,
        window_minutes: int = WINDOW_MINUTES,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.multiple = multiple
        self.min_events = min_events
        self._start_minute = start_ms // 60_000
        self._warmup = warmup_minutes
        self._window = window_minutes
        self._max_keys = max_keys
        self._series: OrderedDict[tuple[str, str], _Series] = OrderedDict()

    def observe(self, container_id: str, event: str, now_ms: int) -> bool:
        """Count one hit; True when its rows must be held."""
        minute = now_ms // 60_000
        key = (container_id, event)
        series = self._series.get(key)
        if series is None:
            quiet = min(self._window, max(0, minute - self._start_minute))
            series = self._series[key] = _Series(minute, quiet)
            self._set_limit(series)
            if len(self._series) > self._max_keys:
                self._series.popitem(last=False)
        else:
            self._series.move_to_end(key)
            if minute > series.minute:
                self._roll(series, minute, key)
        series.count += 1
        if not series.spiking:
            if not self._over(series.count, series.limit):
                return False
            series.spiking = True
            GUARD_SPIKES.labels(container_id).inc()
            log.warning(
                "volume spike: holding this event's outbox rows until released",
                extra={"fields": {"container": container_id, "event": event,
                                  "hits_this_minute": series.count,
                                  "baseline_per_minute": series.baseline,
                                  "spike_multiple": self.multiple,
                                  "spike_min_events": self.min_events}},
            )  # fmt: skip
        series.held += 1
        return True

    def _roll(self, series: _Series, minute: int, key: tuple[str, str]) -> None:
        """Close the finished minute (and any silent ones after it) into the history."""
        quiet = minute - series.minute - 1
        over = quiet == 0 and self._over(series.count, series.limit)
        if series.spiking and not over:
            series.spiking = False
            log.info(
                "volume spike over",
                extra={"fields": {"container": key[0], "event": key[1],
                                  "held_hits": series.held}},
            )  # fmt: skip
            series.held = 0
        history = series.history
        history.append(series.count)
        history.extend([0] * min(quiet, self._window))
        del history[: -self._window]
        series.minute = minute
        series.count = 0
        self._set_limit(series)

    def _over(self, count: int, limit: float) -> bool:
        return count >= self.min_events and count > limit

    def _set_limit(self, series: _Series) -> None:
        if series.minute - self._start_minute < self._warmup:
            series.limit = math.inf
        else:
            series.baseline = statistics.median(series.history) if series.history else 0.0
            series.limit = self.multiple * series.baseline

    def __len__(self) -> int:
        return len(self._series)

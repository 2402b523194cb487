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
has no history yet.

Counts are shared through the store (container/guards/spike_sync.py): every couple of
seconds a node adds its new hits and reads every node's totals, so all nodes and workers
judge the whole traffic. Between two exchanges a node judges the last totals plus its
own hits since, and a node that cannot reach the store judges what it has. The detector
itself never waits for the store: `observe` is on the hit path.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import OrderedDict
from collections.abc import Iterable

from config.storage import VolumeCount
from container.metrics import GUARD_SPIKES

__all__ = ["SpikeDetector"]

log = logging.getLogger("tagwire.guards")

WINDOW_MINUTES = 30
WARMUP_MINUTES = 5
MAX_KEYS = 10_000  # (container, event) pairs; event names are chosen by senders


class _Series:
    """One (container, event): this minute's count and the finished minutes before it.

    `count` is this node's hits this minute, `flushed` how many of them the store has,
    and `shared` every node's total for the minute at the last exchange (this node's
    flushed hits included): the minute's count is `count + offset`, `offset` being
    `shared - flushed`. `loaded`: the whole window was read from the store once."""

    __slots__ = ("baseline", "count", "flushed", "held", "history", "limit", "loaded",
                 "minute", "offset", "shared", "spiking")  # fmt: skip

    def __init__(self, minute: int, quiet_minutes: int) -> None:
        self.minute = minute
        self.count = 0
        self.flushed = 0
        self.shared = 0
        self.offset = 0
        self.history = [0] * quiet_minutes
        self.loaded = False
        self.baseline = 0.0
        self.limit = math.inf  # multiple x baseline; infinite while warming up
        self.spiking = False
        self.held = 0

    def reoffset(self) -> None:
        """After `shared` or `flushed` changed: kept as one number for `observe`."""
        self.offset = self.shared - self.flushed


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
        # Hits of minutes that ended before the store had them: (container, event, minute).
        self._unflushed: dict[tuple[str, str, int], int] = {}

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
            if not self._over(series.count + series.offset, series.limit):
                return False
            series.spiking = True
            GUARD_SPIKES.labels(container_id).inc()
            log.warning(
                "volume spike: holding this event's outbox rows until released",
                extra={"fields": {"container": container_id, "event": event,
                                  "hits_this_minute": series.count + series.offset,
                                  "baseline_per_minute": series.baseline,
                                  "spike_multiple": self.multiple,
                                  "spike_min_events": self.min_events}},
            )  # fmt: skip
        series.held += 1
        return True

    def _roll(self, series: _Series, minute: int, key: tuple[str, str]) -> None:
        """Close the finished minute (and any silent ones after it) into the history."""
        quiet = minute - series.minute - 1
        total = series.count + series.offset
        over = quiet == 0 and self._over(total, series.limit)
        if series.spiking and not over:
            series.spiking = False
            log.info(
                "volume spike over",
                extra={"fields": {"container": key[0], "event": key[1],
                                  "held_hits": series.held}},
            )  # fmt: skip
            series.held = 0
        if series.count > series.flushed:
            unflushed = (key[0], key[1], series.minute)
            self._unflushed[unflushed] = series.count - series.flushed
        history = series.history
        history.append(total)
        history.extend([0] * min(quiet, self._window))
        del history[: -self._window]
        series.minute = minute
        series.count = series.flushed = series.shared = series.offset = 0
        self._set_limit(series)

    def take_unflushed(self) -> tuple[list[VolumeCount], list[tuple[str, str]],
                                      list[tuple[str, str]]]:  # fmt: skip
        """For an exchange with the store: the hits it does not have yet (now counted as
        flushed), the pairs whose current minutes to read, and the pairs new since the
        last exchange, whose whole window to read."""
        added = [VolumeCount(c, e, m, n) for (c, e, m), n in self._unflushed.items()]
        self._unflushed = {}
        recent: list[tuple[str, str]] = []
        new: list[tuple[str, str]] = []
        for key, series in self._series.items():
            if series.count > series.flushed:
                added.append(VolumeCount(key[0], key[1], series.minute,
                                         series.count - series.flushed))  # fmt: skip
                series.flushed = series.count
                series.reoffset()
            (recent if series.loaded else new).append(key)
        return added, recent, new

    def give_back(self, added: Iterable[VolumeCount]) -> None:
        """An exchange failed: the store still lacks these hits; the next one adds them."""
        for count in added:
            series = self._series.get((count.container_id, count.event))
            if series is not None and series.minute == count.minute:
                series.flushed -= count.hits
                series.reoffset()
            else:
                key = (count.container_id, count.event, count.minute)
                self._unflushed[key] = self._unflushed.get(key, 0) + count.hits

    def merge(self, totals: Iterable[VolumeCount], loaded: Iterable[tuple[str, str]]) -> None:
        """Every node's totals from an exchange: this minute's count of each pair, and its
        finished minutes as the history (the whole window for the `loaded` pairs, the
        minutes read for the others)."""
        by_key: dict[tuple[str, str], dict[int, int]] = {}
        for total in totals:
            by_key.setdefault((total.container_id, total.event), {})[total.minute] = total.hits
        for key in loaded:
            series = self._series.get(key)
            if series is not None:
                series.loaded = True
                minutes = by_key.get(key, {})
                first = min(minutes, default=series.minute)
                span = min(self._window, series.minute - min(first, self._start_minute))
                series.history = [minutes.get(m, 0) for m in range(series.minute - span,
                                                                    series.minute)]  # fmt: skip
                self._set_limit(series)
        for key, minutes in by_key.items():
            series = self._series.get(key)
            if series is None:
                continue
            series.shared = minutes.get(series.minute, series.shared)
            series.reoffset()
            before = minutes.get(series.minute - 1)
            if before is not None and series.history and before > series.history[-1]:
                series.history[-1] = before  # other nodes' share of the minute just ended
                self._set_limit(series)

    def _over(self, count: int, limit: float) -> bool:
        return count >= self.min_events and count > limit

    def _set_limit(self, series: _Series) -> None:
        if series.minute - self._start_minute < self._warmup:
            series.limit = math.inf
        else:
            series.baseline = statistics.median(series.history) if series.history else 0.0
            series.limit = self.multiple * series.baseline

    @property
    def window_minutes(self) -> int:
        return self._window

    def __len__(self) -> int:
        return len(self._series)

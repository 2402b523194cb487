"""One acceptance path for `/collect` and the Fire API.

Whichever endpoint took it, a validated hit goes the same way: the PII firewall scrubs
it, the guards its endpoint runs judge it (a volume spike holds its rows, an impossible
value stops its tags), the container's pipeline runs its tags, and the request's rows
and failed tag runs are committed in one go before anything is answered.

Where tags run: on the event loop while they are cheap, on the container's lane (a
worker thread, see container/lanes.py) as soon as they are not. A request's tags first
run on the loop with an allowance of `INLINE_UNITS` budget units for all of them
together, which bounds how long the loop can be held (about a millisecond) whatever the
templates do; a tag that would spend more stops before it runs past the allowance, and
it and the rest of the request continue on the lane, which then takes the container's
requests for `SPILL_COOL_DOWN_S`. Cheap containers pay no thread hand-off; a template
that spins costs the loop at most the allowance once per cool-down. What really differs stays
with each endpoint: reading and checking the body, the request facts a `Hit` carries,
which guards run (given here once, at construction), the request-wide guards, cookies,
idempotency and the shape of the answer.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from config.storage import StorageError
from container.delivery.outbox import OutboxWriter
from container.guards.spike import SpikeDetector
from container.guards.value import ValueGuard
from container.lanes import TagLanes
from container.metrics import GUARD_HELD, count_pii_removed
from container.pipeline import Allowance, CompiledContainer, PipelineResult
from variables.hit import Hit
from variables.pii_firewall import scrub_hit

__all__ = ["INLINE_UNITS", "Acceptor", "StoreUnavailable", "Verdict", "add", "hold"]

# Budget units a request's tags may spend on the event loop (the shipped templates cost
# 2,000 to 20,200 each; this many take about a millisecond on a current core).
INLINE_UNITS = 100_000


class Verdict(enum.Enum):
    """What the guards decided for one hit, before its tags run."""

    RUN = "run"  # its tags run; their rows go out and the browser gets their commands
    HOLD = "hold"  # its tags run, but a volume spike holds their rows for an operator
    STOP = "stop"  # the value guard stopped it: no tag runs


class StoreUnavailable(Exception):
    """The outbox commit failed, so nothing of the request is stored. Both endpoints answer
    503 with this field and reason and `Retry-After`; the client retries the request."""

    status = 503
    field = "store"
    reason = "temporarily unavailable; retry later"
    retry_after_s = 5

    def __init__(self, error: StorageError) -> None:
        super().__init__(f"outbox commit failed: {error}")
        self.error = error


class Acceptor:
    """The shared path, built once per endpoint with the per-hit guards that endpoint runs
    (None: not run). `/collect` runs the spike and value guards, the Fire API the value
    guard only. It keeps no per-request state."""

    __slots__ = ("_lanes", "_spikes", "_value", "_writer")

    def __init__(
        self,
        writer: OutboxWriter,
        lanes: TagLanes,
        *,
        spikes: SpikeDetector | None = None,
        value: ValueGuard | None = None,
    ) -> None:
        self._writer = writer
        self._lanes = lanes
        self._spikes = spikes
        self._value = value

    def judge(self, container: CompiledContainer, hit: Hit) -> Verdict:
        """Scrub the hit and let the guards judge it, on the event loop (the guards keep
        state). Scrubbing comes first, so neither a guard's log nor a template sees
        plaintext PII. (Click ids not shaped like one were stripped before validation, by
        each endpoint.)"""
        count_pii_removed(scrub_hit(hit.wire, container.pii_policy))
        spikes = self._spikes
        hold = spikes is not None and spikes.observe(container.id, hit.event, hit.received_ms)
        if self._value_stops(container, hit):
            return Verdict.STOP
        return Verdict.HOLD if hold else Verdict.RUN

    async def run(self, container: CompiledContainer, hits: list[Hit]) -> list[PipelineResult]:
        """Each hit's tags: one result per hit, in order. Raises LaneBusy when they must
        go to the lane and it cannot take them now (nothing ran)."""
        lanes = self._lanes
        lane = container.lane
        results: list[PipelineResult] = []
        if lanes.inline_ok(lane):
            allowance = Allowance(INLINE_UNITS)
            for index, hit in enumerate(hits):
                result = PipelineResult()
                results.append(result)
                stop = container.run(hit, result, allowance)
                if stop is not None:
                    lanes.spilled(lane)
                    return await lanes.run(lane, _rest(container, hits, index, stop, results))
            return results
        return await lanes.run(lane, _rest(container, hits, 0, 0, results))

    def _value_stops(self, container: CompiledContainer, hit: Hit) -> bool:
        """An impossible value or currency keeps a platform's bidding from learning it."""
        value = self._value
        data = hit.wire.get("data")
        if value is None or not data:
            return False
        return value.judge(
            container.id,
            hit.event_id,
            data.get("value"),
            data.get("currency"),
            currency_default=container.currency_default,
        )

    async def commit(self, result: PipelineResult) -> None:
        """Return once the request's rows and failed runs are committed: only then may it
        be acknowledged. Raises StoreUnavailable when the store cannot commit them."""
        if not result.rows and not result.failures:
            return
        try:
            await self._writer.enqueue(result.rows, result.failures)
        except StorageError as exc:
            raise StoreUnavailable(exc) from exc


def _rest(
    container: CompiledContainer,
    hits: list[Hit],
    index: int,
    tag: int,
    results: list[PipelineResult],
) -> Callable[[], list[PipelineResult]]:
    """The lane job that finishes hit `index` from tag `tag` on (into its result, made on
    the loop and untouched there until the job is done) and runs the hits after it."""

    def job() -> list[PipelineResult]:
        if index < len(results):
            container.run(hits[index], results[index], start=tag)
            first = index + 1
        else:
            first = index
        for hit in hits[first:]:
            result = PipelineResult()
            container.run(hit, result)
            results.append(result)
        return results

    return job


def hold(result: PipelineResult, container_id: str) -> None:
    """Store a held hit's rows and failed runs as held: the spike guard stopped them."""
    rows = result.rows
    if rows:
        result.rows = [row._replace(held=True) for row in rows]
        GUARD_HELD.labels(container_id).inc(len(rows))
    if result.failures:
        result.failures = [f._replace(row=f.row._replace(held=True)) for f in result.failures]


def add(total: PipelineResult, result: PipelineResult) -> None:
    """Gather one hit's rows and failed runs into the request's commit."""
    total.rows.extend(result.rows)
    total.failures.extend(result.failures)

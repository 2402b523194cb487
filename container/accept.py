"""One acceptance path for `/collect` and the Fire API.

Whichever endpoint took it, a validated hit goes the same way: the PII firewall scrubs
it, the guards its endpoint runs judge it (a volume spike holds its rows, an impossible
value stops its tags), the container's pipeline runs its tags on the container's lane
(off the event loop, see container/lanes.py), and the request's rows and failed tag
runs are committed in one go before anything is answered. What really differs stays
with each endpoint: reading and checking the body, the request facts a `Hit` carries,
which guards run (given here once, at construction), the request-wide guards, cookies,
idempotency and the shape of the answer.
"""

from __future__ import annotations

import enum

from config.storage import StorageError
from container.delivery.outbox import OutboxWriter
from container.guards.spike import SpikeDetector
from container.guards.value import ValueGuard
from container.lanes import TagLanes
from container.metrics import GUARD_HELD, count_pii_removed
from container.pipeline import CompiledContainer, PipelineResult
from variables.hit import Hit
from variables.pii_firewall import scrub_hit

__all__ = ["Acceptor", "StoreUnavailable", "Verdict", "add", "hold"]


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
        plaintext PII."""
        count_pii_removed(scrub_hit(hit.wire, container.pii_policy))
        spikes = self._spikes
        hold = spikes is not None and spikes.observe(container.id, hit.event, hit.received_ms)
        if self._value_stops(container, hit):
            return Verdict.STOP
        return Verdict.HOLD if hold else Verdict.RUN

    async def run(self, container: CompiledContainer, hits: list[Hit]) -> list[PipelineResult]:
        """Each hit's tags, run on the container's lane: one result per hit, in order.
        Raises LaneBusy when the lane cannot take them now (nothing ran)."""

        def job() -> list[PipelineResult]:
            results = []
            for hit in hits:
                result = PipelineResult()
                container.run(hit, result)
                results.append(result)
            return results

        return await self._lanes.run(container.lane, job)

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

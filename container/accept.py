"""One acceptance path for `/collect` and the Fire API.

Whichever endpoint took it, a validated hit goes the same way: the PII firewall scrubs
it, the guards its endpoint runs judge it (a volume spike holds its rows, an impossible
value stops its tags), the container's pipeline runs it, and the request's rows are
committed in one go before anything is answered. What really differs stays with each
endpoint: reading and checking the body, the request facts a `Hit` carries, which guards
run (given here once, at construction), the request-wide guards, cookies, idempotency
and the shape of the answer.
"""

from __future__ import annotations

import enum

from config.storage import OutboxRow, StorageError
from container.delivery.outbox import OutboxWriter
from container.guards.spike import SpikeDetector
from container.guards.value import ValueGuard
from container.metrics import GUARD_HELD, count_pii_removed
from container.pipeline import CompiledContainer, PipelineResult
from variables.hit import Hit
from variables.pii_firewall import scrub_hit

__all__ = ["Acceptor", "Outcome", "StoreUnavailable"]


class Outcome(enum.Enum):
    """What became of one accepted hit."""

    RAN = "ran"  # its tags ran; their rows go out and the browser gets their commands
    HELD = "held"  # its tags ran, but a volume spike holds their rows for an operator
    STOPPED = "stopped"  # the value guard stopped it before any tag ran


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
    guard only. It keeps no per-request state, so a hit costs no object of its own here."""

    __slots__ = ("_spikes", "_value", "_writer")

    def __init__(
        self,
        writer: OutboxWriter,
        *,
        spikes: SpikeDetector | None = None,
        value: ValueGuard | None = None,
    ) -> None:
        self._writer = writer
        self._spikes = spikes
        self._value = value

    def run(self, container: CompiledContainer, hit: Hit, result: PipelineResult) -> Outcome:
        """Scrub the hit, judge it and run its tags, adding what they produce to `result`.
        Scrubbing comes first, so neither a guard's log nor a template sees plaintext PII."""
        count_pii_removed(scrub_hit(hit.wire, container.pii_policy))
        spikes = self._spikes
        hold = spikes is not None and spikes.observe(container.id, hit.event, hit.received_ms)
        if self._value_stops(container, hit):
            return Outcome.STOPPED
        start = len(result.rows)
        container.run(hit, result)
        if hold:
            _hold(result, start, container.id)
            return Outcome.HELD
        return Outcome.RAN

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

    async def commit(self, rows: list[OutboxRow]) -> None:
        """Return once the request's rows are committed: only then may it be acknowledged.
        Raises StoreUnavailable when the store cannot commit them."""
        if not rows:
            return
        try:
            await self._writer.enqueue(rows)
        except StorageError as exc:
            raise StoreUnavailable(exc) from exc


def _hold(result: PipelineResult, start: int, container_id: str) -> None:
    """Store the rows from `start` on as held: the spike guard stopped them."""
    rows = result.rows
    if len(rows) > start:
        rows[start:] = [row._replace(held=True) for row in rows[start:]]
        GUARD_HELD.labels(container_id).inc(len(rows) - start)

"""The sender: claims due outbox rows and delivers them with one pooled HTTP client.

Outcomes: 2xx is sent; 408, 429, 5xx and transport errors are retried with exponential
backoff and jitter (honouring `Retry-After`); any other 4xx is dead, kept with the
platform's answer. A row that exhausts its attempts is dead too. Platforms that report
failures in a 2xx body, or throttling in a 4xx, are read by `platform_answers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from email.utils import parsedate_to_datetime

import httpx
import orjson

from config.storage import Delivery, OutboxItem, StorageError, Store
from container.delivery.platform_answers import read_answer
from container.delivery.routes import PlatformRoutes

__all__ = ["Sender", "classify"]

log = logging.getLogger("tagwire.delivery")

RESPONSE_LIMIT = 500
BASE_BACKOFF_S = 2.0
MAX_BACKOFF_S = 900.0
POLL_S = 1.0


def _retry_after_s(value: str | None, now: float) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def classify(
    item: OutboxItem, status: int | None, body: str, retry_after: str | None, max_attempts: int
) -> Delivery:
    """Decide what a response (or transport failure, `status=None`) means for the row."""
    now = time.time()
    now_ms = int(now * 1000)
    verdict, reason = read_answer(item.url, status, body)
    response = (f"{reason} | {body}" if reason else body)[:RESPONSE_LIMIT]
    if verdict == "sent":
        return Delivery(item.id, "sent", status, response, now_ms, now_ms)
    attempts = item.attempts + 1
    if verdict == "dead" or attempts >= max_attempts:
        return Delivery(item.id, "dead", status, response, now_ms, now_ms)
    delay = min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** (attempts - 1))
    delay = random.uniform(delay / 2, delay)  # noqa: S311 - jitter, not security
    hinted = _retry_after_s(retry_after, now)
    if hinted is not None:
        delay = max(delay, min(hinted, MAX_BACKOFF_S))
    return Delivery(item.id, "failed", status, response, now_ms + int(delay * 1000), now_ms)


class Sender:
    def __init__(
        self,
        store: Store,
        *,
        concurrency: int,
        timeout: float,
        max_attempts: int,
        routes: PlatformRoutes | None = None,
    ) -> None:
        self._store = store
        self._routes = routes or PlatformRoutes({})
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._client = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            follow_redirects=False,
        )
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tagwire-sender")

    def wake(self) -> None:
        """New rows were committed: look for work now instead of at the next poll."""
        self._wakeup.set()

    async def stop(self, grace: float) -> None:
        """Stop claiming; give sends in flight `grace` seconds. Unfinished rows stay
        inflight and are released to pending at the next start."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                items = await self._store.claim(self._concurrency * 4, int(time.time() * 1000))
                if items:
                    await self._send_all(items)
                    continue
            except StorageError:
                # The store is busy or gone: keep the sender alive and try again; the rows
                # stay pending or inflight and nothing is lost.
                log.exception("outbox store failed; retrying in a second")
            except Exception:
                # A bug must not silently end delivery for the whole node.
                log.exception("sender error; retrying in a second")
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), POLL_S)

    async def _send_all(self, items: list[OutboxItem]) -> None:
        limit = asyncio.Semaphore(self._concurrency)

        async def send(item: OutboxItem) -> Delivery:
            async with limit:
                return await self._send(item)

        tasks = [asyncio.create_task(send(item)) for item in items]
        try:
            await asyncio.gather(*tasks)
        finally:
            # Also when stopping cancels the batch: what was delivered is recorded, so it is
            # not sent again after a restart.
            done = [t.result() for t in tasks if t.done() and not t.cancelled()]
            for task in tasks:
                task.cancel()
            if done:
                await asyncio.shield(self._record(done))

    async def _record(self, deliveries: list[Delivery]) -> None:
        await self._store.record(deliveries)
        for d in deliveries:
            log.info(
                "delivery",
                extra={"fields": {"outbox_id": d.id, "state": d.state, "status": d.status}},
            )

    async def _send(self, item: OutboxItem) -> Delivery:
        try:
            response = await self._client.request(
                item.method,
                self._routes(item.url),
                headers=orjson.loads(item.headers),
                content=item.body,
            )
        except httpx.InvalidURL as exc:  # will never succeed: dead, with the reason
            now_ms = int(time.time() * 1000)
            return Delivery(item.id, "dead", None, f"invalid URL: {exc}"[:RESPONSE_LIMIT],
                            now_ms, now_ms)  # fmt: skip
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return classify(item, None, reason, None, self._max_attempts)
        return classify(
            item,
            response.status_code,
            response.text,
            response.headers.get("retry-after"),
            self._max_attempts,
        )

"""The sender: claims due outbox rows, batches them per platform and delivers them.

Each claimed row goes through: max age (an event older than its platform accepts is dead
before anything is sent) → its platform's batch group (`grouping`), flushed when full or
after `batch_flush_ms` → its destination's concurrency limit, circuit breaker and rate
limit → one request per batch, over kept-alive connections (`pool`) → the platform's
verdict per row (`batching`) → sent, failed with backoff, dead, or split: a batch refused
as a whole is sent again in halves until the row at fault is alone, then that row is dead
with the platform's reason. Outcomes are written in group commits (`outcomes`). A webhook
row may ask for array bodies (`arrays`). A request with tagwire's `x-tagwire-oauth` header
gets a bearer token from the node's token manager as it leaves, and one more try with a
newer token when the platform answers 401 (`oauth`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import httpx
import orjson
from prometheus_client import Counter

from config.egress import EgressPolicy
from config.storage import Delivery, OutboxItem, OutboxStore, StorageError
from container.delivery import metrics
from container.delivery.arrays import array_policy
from container.delivery.batching import POLICIES, Answer, Entry, HttpPolicy, Request, Verdict
from container.delivery.breaker import Admission, BreakerSettings
from container.delivery.clock import SYSTEM_CLOCK, Clock
from container.delivery.destination import DESTINATION_LIMITS, DestinationLimits, Destinations
from container.delivery.egress import EgressRefused, GuardedNetwork, Resolver, system_resolver
from container.delivery.grouping import Batch, Batcher
from container.delivery.oauth import HEADER as OAUTH_HEADER
from container.delivery.oauth import PROVIDERS, Grant, OAuthFailure, TokenManager
from container.delivery.outcomes import OutcomeWriter
from container.delivery.pool import (
    HttpxClient,
    InvalidRequest,
    Pool,
    Response,
    TransportFailure,
)
from container.delivery.routes import PlatformRoutes, requested
from container.delivery.settle import settle
from container.secret_refs import MARK, Escape, MissingSecret, json_text, url_text

__all__ = [
    "CLAIM_LIMIT",
    "MAX_AGE_MARGIN_MS",
    "MAX_HELD",
    "TRANSPORT_FAILED",
    "SecretFiller",
    "Sender",
]

log = logging.getLogger("tagwire.delivery")


class SecretFiller(Protocol):
    """Puts the values of a row's own secret references into its text (`NodeSecrets`)."""

    def fill(
        self, text: str, container_id: str, escape: Escape
    ) -> tuple[str, list[tuple[str, str]]]: ...

    def named(self, text: str, container_id: str) -> list[tuple[str, str]]: ...


CLAIM_LIMIT = 1000  # rows per claim: enough for a full batch of most platforms
MAX_HELD = 10_000  # claimed rows not settled yet; the sender stops claiming above this
POLL_S = 1.0
# An event this close to its platform's max age would arrive too old: dead-letter it too.
MAX_AGE_MARGIN_MS = 60_000
SECRET_MARK = MARK.encode()  # a body without it holds no secret reference: not decoded
OAUTH_MARK = OAUTH_HEADER.encode()
DAY_MS = 86_400_000
URL_CACHE = 4096  # URLs whose policy and route the sender keeps
# What a row keeps when no answer came (connection refused or reset, TLS, DNS, timeout).
TRANSPORT_FAILED = "connection failed: no answer from the destination"


class Sender:
    def __init__(
        self,
        store: OutboxStore,
        *,
        concurrency: int,
        timeout: float,
        max_attempts: int,
        routes: PlatformRoutes | None = None,
        batch_flush_ms: int = 200,
        policies: Callable[[str], HttpPolicy] = POLICIES,
        limits: Mapping[str, DestinationLimits] = DESTINATION_LIMITS,
        breaker: BreakerSettings = BreakerSettings(),  # noqa: B008 - frozen, shared safely
        clock: Clock = SYSTEM_CLOCK,
        transport: httpx.AsyncBaseTransport | None = None,
        secrets: SecretFiller | None = None,
        egress: EgressPolicy = EgressPolicy(),  # noqa: B008 - frozen, shared safely
        resolver: Resolver = system_resolver,
        tokens: TokenManager | None = None,
    ) -> None:
        """`secrets` fills the secret references (`container.secret_refs`) of a row as it
        is claimed; without it, references stay as they are. Requests go through the
        keep-alive pool (`container.delivery.pool`), which checks every connection it opens
        against the egress policy (`egress`, the operator's exceptions; `resolver` looks
        host names up) after resolving and before connecting, unless a test passes its
        own httpx `transport`, which then decides where requests go. `tokens` makes the
        OAuth access tokens (`container.delivery.oauth`); by default one of its own, which
        asks the token endpoints through the same pool and routes."""
        self._store = store
        self._secrets = secrets
        self._used: dict[int, list[tuple[str, str]]] = {}  # row id -> (value, reference)
        self._routes = routes or PlatformRoutes({})
        self._max_attempts = max_attempts
        self._policies = policies
        # Per URL (templates use a handful): its policy, and where it goes with the URL
        # the logs show. Both depend on the URL alone; bounded by clearing when full.
        self._policy_of: dict[str, HttpPolicy] = {}
        self._route_of: dict[str, tuple[str, str]] = {}
        self._meters: dict[str, _Meters] = {}
        self._clock = clock
        # Redirects are not followed: a 3xx is the answer (dead), and no second host is
        # reached. The pool checks every connection it opens against the policy.
        self._http: Pool | HttpxClient
        if transport is None:
            guard = GuardedNetwork(egress, resolver)
            self._http = Pool(guard.addresses, timeout=timeout, max_connections=concurrency)
        else:
            self._http = HttpxClient(transport, timeout=timeout)
        self._tokens = tokens or TokenManager(self._post, clock)
        self._slots = asyncio.Semaphore(concurrency)
        self._destinations = Destinations(concurrency, limits, breaker, clock)
        self._batcher = Batcher(batch_flush_ms)
        self._writer = OutcomeWriter(store)
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._held = 0  # claimed rows without an outcome yet
        self._blocked = False  # stopped claiming at MAX_HELD
        self._stopping = False

    def start(self) -> None:
        self._writer.start()
        self._task = asyncio.create_task(self._run(), name="tagwire-sender")

    def wake(self) -> None:
        """New rows were committed: look for work now instead of at the next poll."""
        self._wakeup.set()

    async def stop(self, grace: float) -> None:
        """Stop claiming; give the requests in flight `grace` seconds and record their
        outcomes. Rows not sent by then (still grouped, waiting for a slot, or cancelled)
        stay inflight and the next start releases them to pending."""
        deadline = asyncio.get_running_loop().time() + grace
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._sends:
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            _, pending = await asyncio.wait(set(self._sends), timeout=left)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._writer.stop()
        await self._http.aclose()
        if self._held:
            log.info(
                "sender stopped; unsent rows stay inflight until the next start",
                extra={"fields": {"rows": self._held}},
            )

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            wait = POLL_S
            try:
                more = await self._claim()
                self._dispatch(self._batcher.due(self._clock.now_ms()))
                if more:
                    continue
                wait = self._next_flush_s()
            except StorageError:
                # The store is busy or gone: keep the sender alive and try again; the rows
                # stay pending or inflight and nothing is lost.
                log.exception("outbox store failed; retrying in a second")
            except Exception:
                # A bug must not silently end delivery for the whole node.
                log.exception("sender error; retrying in a second")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)

    async def _claim(self) -> bool:
        """Claim and group due rows; True when there may be more due right now."""
        room = MAX_HELD - self._held
        self._blocked = room <= 0
        if self._blocked:
            return False
        limit = min(CLAIM_LIMIT, room)
        items = await self._store.claim(limit, self._clock.now_ms())
        if self._stopping:
            return False  # claimed too late to send: the next start releases them
        self._admit(items)
        return len(items) == limit

    def _next_flush_s(self) -> float:
        due = self._batcher.next_due_ms()
        if due is None:
            return POLL_S
        return min(POLL_S, max(0.0, (due - self._clock.now_ms()) / 1000))

    def _admit(self, items: list[OutboxItem]) -> None:
        now_ms = self._clock.now_ms()
        expired = []
        for item in items:
            policy = self._policy(item.url)
            if policy.name == "http":  # a webhook may ask for array bodies (`arrays`)
                policy = array_policy(item.headers) or policy
            limit = policy.max_age_ms
            if limit is not None and item.event_time_ms < now_ms - limit + MAX_AGE_MARGIN_MS:
                expired.append(_expired(policy, item, limit, now_ms))
                continue
            try:
                item = self._filled(item)
            except MissingSecret as exc:
                expired.append(_dead(policy, item, str(exc), "missing secret", now_ms))
                continue
            self._held += 1
            self._dispatch(self._batcher.add(policy, _entry(policy, item)))
        self._writer.add(expired)

    def _policy(self, url: str) -> HttpPolicy:
        found = self._policy_of.get(url)
        if found is None:
            if len(self._policy_of) >= URL_CACHE:
                self._policy_of.clear()
            found = self._policy_of[url] = self._policies(url)
        return found

    def _route(self, url: str) -> tuple[str, str]:
        """Where a request for `url` goes, and that URL as logs show it (no query)."""
        found = self._route_of.get(url)
        if found is None:
            if len(self._route_of) >= URL_CACHE:
                self._route_of.clear()
            routed = self._routes(url)
            found = self._route_of[url] = (routed, requested(routed))
        return found

    def _filled(self, item: OutboxItem) -> OutboxItem:
        """The row with its own secret references filled in, each row on its own, so that
        a missing secret makes only its row dead and never a batch. The OAuth header keeps
        its references: they are read as the request leaves (`_grant`)."""
        secrets = self._secrets
        if secrets is None or not (
            SECRET_MARK in item.body or SECRET_MARK in item.headers or MARK in item.url
        ):
            return item
        container_id = item.container_id
        url, used = secrets.fill(item.url, container_id, url_text)
        text = item.headers.decode("utf-8")
        held: dict[str, str] = {}
        if OAUTH_MARK in item.headers.lower():
            parsed = orjson.loads(text)
            held = {k: v for k, v in parsed.items() if k.lower() == OAUTH_HEADER}
            text = orjson.dumps({k: v for k, v in parsed.items() if k not in held}).decode()
        headers, more = secrets.fill(text, container_id, json_text)  # headers are JSON
        if held:
            headers = orjson.dumps({**orjson.loads(headers), **held}).decode()
        body, most = secrets.fill(item.body.decode("utf-8"), container_id, _body_escape(text))
        used += more + most
        if not used:
            return item
        self._used[item.id] = used
        return dataclasses.replace(
            item, url=url, headers=headers.encode("utf-8"), body=body.encode("utf-8")
        )

    def _forget(self, entries: Sequence[Entry]) -> None:
        """Rows that leave the sender unsent are filled again when claimed again."""
        for entry in entries:
            self._used.pop(entry.item.id, None)

    def _dispatch(self, batches: list[Batch]) -> None:
        for batch in batches:
            task = asyncio.create_task(self._deliver(batch.policy, batch.entries))
            self._sends.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if self._blocked and self._held < MAX_HELD:
            self._wakeup.set()

    async def _deliver(self, policy: HttpPolicy, entries: list[Entry]) -> None:
        """Send a batch; rows refused with it go again, in halves when all of them were."""
        try:
            again = await self._attempt(policy, entries)
        except Exception:  # a bug must not end delivery; the next start releases the rows
            log.exception(
                "delivery failed; its rows stay inflight until the next start",
                extra={"fields": {"platform": policy.name, "rows": len(entries)}},
            )
            self._held -= len(entries)
            self._forget(entries)
            return
        if not again:
            return
        if len(again) < len(entries):
            parts = [again]
        else:
            middle = len(again) // 2
            parts = [again[:middle], again[middle:]]
        await asyncio.gather(*(self._deliver(policy, part) for part in parts))

    async def _attempt(self, policy: HttpPolicy, entries: list[Entry]) -> list[Entry]:
        request = policy.merge(entries)
        url, shown = self._route(request.url)
        used = [p for e in entries for p in self._used.get(e.item.id, ())]
        grant: Grant | None = None
        token: str | None = None
        sent = None
        try:
            request, grant = self._grant(request, entries[0].item.container_id)
            for retry in (False, True):
                if grant is not None:
                    # after a 401: a newer token than the refused one (maybe one that
                    # another request got meanwhile)
                    token = await self._tokens.token(grant, stale=token)
                    request = _bearer(request, token)
                sent = await self._exchange(
                    policy, entries, request, url, shown, _masks(used, grant, token)
                )
                if retry or grant is None or sent is None or sent[0].status != 401:
                    break
        except OAuthFailure as failure:
            self._unsent(policy, entries, failure)
            return []
        if sent is None:
            return []
        answer, duration_ms, fatal = sent
        used = _masks(used, grant, token)
        verdicts = (
            [Verdict("dead", fatal)] * len(entries) if fatal else _read(policy, answer, entries)
        )
        settled = settle(
            entries, verdicts, answer, now=self._clock.time(), max_attempts=self._max_attempts,
            jitter=random.uniform(0.5, 1.0),  # noqa: S311 - jitter, not security
            duration_ms=duration_ms, wait_ms=policy.wait_ms,
        )  # fmt: skip
        self._writer.add(settled.deliveries)
        self._held -= len(settled.deliveries)
        for delivery in settled.deliveries:
            self._used.pop(delivery.id, None)
        self._observe(
            policy, entries, answer, duration_ms, settled.deliveries, len(settled.again),
            _masked(shown, used) if used else shown,
        )  # fmt: skip
        return settled.again

    async def _exchange(
        self, policy: HttpPolicy, entries: list[Entry], request: Request, url: str, shown: str,
        used: list[tuple[str, str]],
    ) -> tuple[Answer, int, str | None] | None:  # fmt: skip
        """One request through the destination's slots, breaker and pace; None when it was
        not sent (the circuit is open: the rows were deferred; or the sender is stopping)."""
        destination = self._destinations[entries[0].item.destination]
        async with destination.slots:
            admission = await destination.breaker.admit()
            if admission is Admission.DENIED:
                await self._defer(policy, entries, destination.breaker.reopen_at)
                return None
            sent = None
            try:
                await destination.pace()
                async with self._slots:
                    if not self._stopping:
                        sent = await self._send(request, url, shown, used)
            finally:
                if sent is None and admission is Admission.PROBE:
                    destination.breaker.abandoned()
            if sent is None:
                return None  # stopping: not sent, released at the next start
            answer, _, fatal = sent
            if fatal is not None:
                if admission is Admission.PROBE:  # says nothing about the destination
                    destination.breaker.abandoned()
            elif answer.status is None or answer.status >= 500:
                destination.breaker.failed()
            else:
                destination.breaker.succeeded()
        return sent

    def _grant(self, request: Request, container_id: str) -> tuple[Request, Grant | None]:
        """The request without tagwire's OAuth header, and the grant that header names
        (None without one). Raises OAuthFailure: a malformed header or a missing secret
        cannot get better by itself."""
        header = next((v for k, v in request.headers.items() if k.lower() == OAUTH_HEADER), None)
        if header is None:
            return request, None
        rest = {k: v for k, v in request.headers.items() if k.lower() != OAUTH_HEADER}
        name, _, references = header.partition(" ")
        provider = PROVIDERS.get(name)
        named: list[tuple[str, str]] = []
        if provider is not None and self._secrets is not None:
            try:
                named = self._secrets.named(references, container_id)
            except MissingSecret as exc:
                raise OAuthFailure(str(exc), "dead") from None
        if provider is None or len(named) != 3:
            raise OAuthFailure(
                f"invalid request: header {OAUTH_HEADER!r} must be '<google|linkedin> <refresh "
                "token> <client id> <client secret>', each a secret of the row's container",
                "dead",
            )
        grant = Grant(provider, container_id, named[0], named[1], named[2])
        return dataclasses.replace(request, headers=rest), grant

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> Response:
        """A token endpoint request, through the pool (egress rules) and the routes."""
        return await self._http.request("POST", self._routes(url), headers, body)

    def _unsent(self, policy: HttpPolicy, entries: list[Entry], failure: OAuthFailure) -> None:
        """No access token for the rows: dead or retried with the reason, nothing sent."""
        settled = settle(
            entries, [Verdict(failure.outcome, failure.reason)] * len(entries), Answer(None, ""),
            now=self._clock.time(), max_attempts=self._max_attempts,
            jitter=random.uniform(0.5, 1.0),  # noqa: S311 - jitter, not security
            duration_ms=0,
        )  # fmt: skip
        self._writer.add(settled.deliveries)
        self._held -= len(settled.deliveries)
        for delivery in settled.deliveries:
            self._used.pop(delivery.id, None)
            metrics.OUTCOMES.labels(policy.name, delivery.state).inc()
        log.warning(
            "delivery not sent: no access token",
            extra={"fields": {"platform": policy.name, "rows": len(entries),
                              "outcome": failure.outcome, "reason": failure.reason}},
        )  # fmt: skip

    async def _send(
        self, request: Request, url: str, shown: str, used: list[tuple[str, str]]
    ) -> tuple[Answer, int, str | None]:
        """The answer, the request's duration and, for a request that can never succeed,
        why; `url` is where the request goes (the platform's, or where a setting moved it),
        `shown` that URL without its query.
        Text kept from the attempt (the answer, an error) gets the secret references of
        `used` back instead of the values."""
        start = time.perf_counter()
        fatal = None
        try:
            response = await self._http.request(request.method, url, request.headers, request.body)
            text = response.text
            answer = Answer(
                response.status,
                _masked(text, used) if used else text,
                response.headers.get("retry-after"),
            )
        except EgressRefused as exc:  # before any connection: no answer to keep
            answer, fatal = Answer(None, ""), _masked(exc.reason, used)
        except InvalidRequest as exc:  # a URL or header that can never be sent
            answer, fatal = Answer(None, ""), _masked(exc.reason, used)
        except TransportFailure as exc:
            # Stored for admins to read: one text for every failure to get an answer, so
            # that it tells no open port from a closed one. The log keeps the error's type.
            answer = Answer(None, TRANSPORT_FAILED)
            log.info(
                "delivery transport error",
                extra={"fields": {"url": _masked(shown, used), "error": exc.kind}},
            )
        return answer, round((time.perf_counter() - start) * 1000), fatal

    async def _defer(self, policy: HttpPolicy, entries: list[Entry], until_s: float) -> None:
        """The destination's circuit is open: the rows wait, pending, until it reopens."""
        ids = [entry.item.id for entry in entries]
        until_ms = int(until_s * 1000)
        self._held -= len(entries)
        self._forget(entries)
        metrics.OUTCOMES.labels(policy.name, "deferred").inc(len(entries))
        log.info(
            "circuit open; rows wait for the destination",
            extra={"fields": {"destination": entries[0].item.destination, "rows": len(ids),
                              "until_ms": until_ms}},
        )  # fmt: skip
        try:
            await self._store.defer(ids, until_ms)
        except StorageError:
            log.exception("outbox store failed; these rows stay inflight until the next start")

    def _observe(
        self, policy: HttpPolicy, entries: Sequence[Entry], answer: Answer, duration_ms: int,
        deliveries: list[Delivery], again: int, url: str,
    ) -> None:  # fmt: skip
        """Metrics and log lines for one request; `url` is the URL it went to, without the
        query."""
        name = policy.name
        meters = self._meters.get(name)
        if meters is None:
            meters = self._meters[name] = _Meters(name)
        meters.batches.inc()
        meters.batch_size.observe(len(entries))
        meters.seconds.observe(duration_ms / 1000)
        counts = {"sent": 0, "failed": 0, "dead": 0}
        for delivery in deliveries:
            counts[delivery.state] += 1
        for outcome, count in (*counts.items(), ("split", again)):
            if count:
                meters.outcome(outcome).inc(count)
        log.info(
            "delivery",
            extra={"fields": {"platform": name, "url": url, "rows": len(entries),
                              "status": answer.status, "duration_ms": duration_ms, **counts,
                              "again": again}},
        )  # fmt: skip
        tags = {entry.item.id: entry.item.tag_id for entry in entries}
        for delivery in deliveries:
            if delivery.state == "dead":
                log.warning(
                    "delivery dead",
                    extra={"fields": {"outbox_id": delivery.id, "tag": tags[delivery.id],
                                      "platform": name, "url": url,
                                      "status": delivery.status}},
                )  # fmt: skip


class _Meters:
    """One platform's labelled metrics: a label lookup takes a lock and a dict lookup per
    call, and every request would make five."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.batches = metrics.BATCHES.labels(name)
        self.batch_size = metrics.BATCH_SIZE.labels(name)
        self.seconds = metrics.REQUEST_SECONDS.labels(name)
        self._outcomes: dict[str, Counter] = {}

    def outcome(self, outcome: str) -> Counter:
        found = self._outcomes.get(outcome)
        if found is None:
            found = self._outcomes[outcome] = metrics.OUTCOMES.labels(self.name, outcome)
        return found


def _entry(policy: HttpPolicy, item: OutboxItem) -> Entry:
    """The row as its policy batches it; alone, as queued, if the policy cannot read it."""
    try:
        return policy.entry(item)
    except Exception:  # a bug must not strand the row inflight
        log.exception(
            "batching failed; the row is sent alone", extra={"fields": {"outbox_id": item.id}}
        )
        return Entry(item, None)


def _read(policy: HttpPolicy, answer: Answer, entries: Sequence[Entry]) -> list[Verdict]:
    """The policy's verdicts; retry (at least once delivery) if it cannot read the answer."""
    try:
        return policy.read(answer, entries)
    except Exception:  # a bug must not strand the rows inflight
        log.exception("reading the answer failed; the rows are retried")
        return [Verdict("retry", "tagwire could not read the answer")] * len(entries)


def _span(ms: int) -> str:
    if ms >= DAY_MS:
        return f"{round(ms / DAY_MS, 1):g} days"
    return f"{round(ms / 3_600_000, 1):g} hours"


def _expired(policy: HttpPolicy, item: OutboxItem, limit: int, now_ms: int) -> Delivery:
    """Dead without a request: the platform would refuse it (and Meta and TikTok the
    whole batch with it)."""
    metrics.OUTCOMES.labels(policy.name, "expired").inc()
    age = _span(now_ms - item.event_time_ms)
    reason = f"not sent: older than {policy.name} accepts ({_span(limit)}); the event is {age} old"
    log.warning(
        "delivery dead",
        extra={"fields": {"outbox_id": item.id, "tag": item.tag_id, "platform": policy.name,
                          "reason": "max age"}},
    )  # fmt: skip
    return Delivery(item.id, "dead", None, reason, now_ms, now_ms, 0, 0)


def _body_escape(headers: str) -> Escape:
    """How a value is written into a body of the row's content type: JSON-escaped in JSON,
    percent-encoded in a form, as it is otherwise."""
    kinds = [v.lower() for k, v in orjson.loads(headers).items() if k.lower() == "content-type"]
    kind = kinds[0] if kinds else ""
    if "json" in kind:
        return json_text
    if "x-www-form-urlencoded" in kind:
        return url_text
    return str


def _dead(policy: HttpPolicy, item: OutboxItem, reason: str, why: str, now_ms: int) -> Delivery:
    """Dead without a request, with the reason stored on the row."""
    metrics.OUTCOMES.labels(policy.name, "dead").inc()
    log.warning(
        "delivery dead",
        extra={"fields": {"outbox_id": item.id, "tag": item.tag_id, "platform": policy.name,
                          "reason": why}},
    )  # fmt: skip
    return Delivery(item.id, "dead", None, reason, now_ms, now_ms, 0, 0)


def _bearer(request: Request, token: str) -> Request:
    headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {token}"
    return dataclasses.replace(request, headers=headers)


def _masks(
    used: list[tuple[str, str]], grant: Grant | None, token: str | None
) -> list[tuple[str, str]]:
    """What text kept from a request must not show: its filled secrets and, for an OAuth
    request, the grant's values and the access token."""
    if grant is None:
        return used
    found = [*used, *grant.values()]
    if token is not None:
        found.append((token, "[access token]"))
    return found


def _masked(text: str, used: list[tuple[str, str]]) -> str:
    for value, reference in used:
        text = text.replace(value, reference)
    return text

"""`POST /api/v1/events`: the Fire API, for CRMs and back ends (offline conversions).

A server sends events with plaintext or hashed user details and a per-container bearer
token; each event becomes a `Hit` exactly as a `/collect` hit does (request facts come
from the body, not from the caller's connection) and goes through the acceptance path
both endpoints share (container/accept.py: PII firewall, value guard, the pipeline, the
commit); the answer is sent only after the queued requests are committed. What only this
endpoint does stays here: the bearer token, hashing plaintext user details (fire_body.py),
Idempotency-Key, and an answer listing each event's queued tags. Bad input gets a 4xx
naming the field; good events in a batch are kept when others are bad. See
docs/fire-api.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

import orjson
from prometheus_client import Counter
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from config.publishing import LIVE
from config.storage import IdempotencyStore, StorageError, TokenRecord, TokenStore
from config.tokens import TokenRefused, bearer_token, is_admin_owner
from container.accept import Acceptor, StoreUnavailable, Verdict, add
from container.accept_body import BodyError, check_declared_length
from container.click_ids import UNSHAPED, unshaped_click_ids
from container.containers import ContainerSet
from container.delivery.clock import SYSTEM_CLOCK
from container.delivery.outbox import OutboxWriter
from container.fire_body import MAX_BODY_BYTES, ContainerRules, FireEvent, parse_events, read_event
from container.fire_idempotency import HEADER, REPLAYED_HEADER, KeyLocks, fingerprint, valid_key
from container.guards.value import ValueGuard
from container.ids import random_hex
from container.lanes import LaneBusy, TagLanes
from container.pipeline import CompiledContainer, PipelineResult
from variables.hit import Hit

__all__ = ["FIRE_EVENTS", "PATH", "FireEndpoint"]

log = logging.getLogger("tagwire.fire")

PATH = "/api/v1/events"
FIRE_EVENTS = Counter(
    "tagwire_fire_events", "Events received on the Fire API, by outcome.", ["container", "outcome"]
)
TOUCH_EVERY_MS = 60_000  # a token's last use is kept to the minute: no write per request
EXPIRE_EVERY_MS = 3_600_000  # old idempotency answers are swept at most once an hour
_CONTENT_TYPE = "application/json"

Clock = Callable[[], int]
Answer = tuple[int, dict[str, Any]]


class _Refusal(Exception):
    """Ends a request early with a status, one named error and extra headers."""

    def __init__(
        self,
        status: int,
        field: str,
        reason: str,
        headers: dict[str, str] | None = None,
        index: int | None = None,
    ) -> None:
        self.status = status
        error: dict[str, Any] = {"field": field, "reason": reason}
        if index is not None:
            error = {"index": index, **error}
        self.body = {"errors": [error]}
        self.headers = headers or {}


def _unavailable(exc: StorageError, trace_id: str) -> NoReturn:
    """Any store failure (token lookup, idempotency, outbox commit) gets the one 503 that
    a client retries, the answer `StoreUnavailable` describes."""
    log.error("fire api store failed", extra={"fields": {"trace_id": trace_id, "error": str(exc)}})
    raise _Refusal(
        StoreUnavailable.status,
        StoreUnavailable.field,
        StoreUnavailable.reason,
        {"retry-after": str(StoreUnavailable.retry_after_s)},
    )


class FireStore(TokenStore, IdempotencyStore, Protocol):
    """What the Fire API reads and writes: the tokens callers send, and the answers kept
    for a repeated Idempotency-Key."""


class FireEndpoint:
    """Authenticates, reads, deduplicates (Idempotency-Key) and runs Fire API requests.
    Events run the token's container as published to "live": a back end sends real
    conversions, which other environments must not receive."""

    def __init__(
        self,
        containers: ContainerSet,
        writer: OutboxWriter,
        lanes: TagLanes,
        store: FireStore,
        idempotency_ttl_hours: int,
        clock: Clock = SYSTEM_CLOCK.now_ms,
        value_guard: ValueGuard | None = None,
    ) -> None:
        """`value_guard` None runs no guard: the value guard is the only per-hit guard a
        server's events go through (no bot filter, rate limit or spike hold)."""
        self.containers = containers
        self._acceptor = Acceptor(writer, lanes, value=value_guard)
        self._store = store
        self._ttl_ms = idempotency_ttl_hours * 3_600_000
        self._clock = clock
        self.locks = KeyLocks()
        self._next_expiry_ms = 0

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self.handle, methods=["POST"])]

    async def handle(self, request: Request) -> Response:
        trace_id = random_hex(8)
        headers: dict[str, str] = {}
        try:
            token = await self._authenticate(request, trace_id)
            container = self._container(token)
            status, payload, headers = await self._accept(request, token, container, trace_id)
        except _Refusal as refusal:
            status, payload = refusal.status, orjson.dumps(refusal.body)
            headers.update(refusal.headers)
        return Response(payload, status, headers, media_type=_CONTENT_TYPE)

    async def _authenticate(self, request: Request, trace_id: str) -> TokenRecord:
        try:
            record = await bearer_token(
                request.headers.get("authorization"),
                self._store.find_token,
                "token of the container",
            )
        except TokenRefused as refused:
            raise _Refusal(
                refused.status, "Authorization", refused.reason, refused.headers
            ) from None
        except StorageError as exc:
            _unavailable(exc, trace_id)
        now_ms = self._clock()
        if record.last_used_at is None or now_ms - record.last_used_at >= TOUCH_EVERY_MS:
            try:
                await self._store.touch_token(record.id, now_ms)
            except StorageError as exc:  # bookkeeping only: the request still runs
                log.warning(
                    "token last use not recorded",
                    extra={"fields": {"trace_id": trace_id, "error": str(exc)}},
                )
        return record

    def _container(self, token: TokenRecord) -> CompiledContainer:
        """The token's container as published to "live"; an admin token (agency-wide or
        of one client) sends no events."""
        if is_admin_owner(token.container_id):
            raise _Refusal(
                403,
                "Authorization",
                f"admin token {token.name!r} cannot send events; use a token of the "
                "container ('tagwire tokens create --container ID --name NAME')",
            )
        container = self.containers.get(token.container_id, LIVE)
        if container is None:
            raise _Refusal(
                404,
                "Authorization",
                f"the token's container {token.container_id!r} has no {LIVE!r} environment "
                "on this node",
            )
        return container

    async def _accept(
        self, request: Request, token: TokenRecord, container: CompiledContainer, trace_id: str
    ) -> tuple[int, bytes, dict[str, str]]:
        """Read the events, then run them: once per Idempotency-Key when the caller sends
        one (a retry gets the first answer back), each time when it does not."""
        _check_media_type(request)
        key = _idempotency_key(request)
        body, candidates = await _read_events(request)
        _check_container(candidates, container.id)
        if key is None:
            status, answer = await self._run(candidates, token, container, trace_id)
            return status, orjson.dumps(answer), {}
        try:
            fp = fingerprint(container.id, body)
        except TypeError:
            raise _Refusal(400, "body", "nested too deeply to be events") from None
        async with self.locks.hold(container.id, key):
            return await self._once(candidates, token, container, key, fp, trace_id)

    async def _once(
        self,
        candidates: list[Any],
        token: TokenRecord,
        container: CompiledContainer,
        key: str,
        fp: str,
        trace_id: str,
    ) -> tuple[int, bytes, dict[str, str]]:
        """Replay the stored answer for the key, or run the request and store its answer."""
        now_ms = self._clock()
        try:
            await self._expire(now_ms)
            stored = await self._store.idempotent_get(container.id, key)
        except StorageError as exc:
            _unavailable(exc, trace_id)
        if stored is not None and stored.created_at > now_ms - self._ttl_ms:
            if stored.fingerprint != fp:
                raise _Refusal(
                    422,
                    "Idempotency-Key",
                    "already used for a request with another body; use a new key",
                )
            log.info(
                "fire request replayed",
                extra={"fields": {"container": container.id, "trace_id": trace_id,
                                  "token": token.name}},
            )  # fmt: skip
            return stored.status, bytes(stored.body), {REPLAYED_HEADER: "true"}
        status, answer = await self._run(candidates, token, container, trace_id)
        payload = orjson.dumps(answer)
        try:
            await self._store.idempotent_put(container.id, key, fp, status, payload, now_ms)
        except StorageError as exc:  # the events are committed: answer, a retry is deduped
            log.warning(
                "idempotency answer not stored",
                extra={"fields": {"trace_id": trace_id, "error": str(exc)}},
            )
        return status, payload, {}

    async def _expire(self, now_ms: int) -> None:
        """Sweep answers past their time to live, at most once an hour."""
        if now_ms < self._next_expiry_ms:
            return
        self._next_expiry_ms = now_ms + EXPIRE_EVERY_MS
        await self._store.expire_idempotency(now_ms - self._ttl_ms)

    async def _run(
        self,
        candidates: list[Any],
        token: TokenRecord,
        container: CompiledContainer,
        trace_id: str,
    ) -> Answer:
        """Check each event, run the good ones, commit their requests, then answer: no
        event is acknowledged before its rows are stored."""
        accepted, errors, to_run = self._events(candidates, container, trace_id)
        _report(container.id, token, trace_id, len(candidates), accepted, errors)
        if not accepted:
            return 400, {"errors": errors}
        total = PipelineResult()
        if to_run:
            try:
                results = await self._acceptor.run(container, [hit for _, hit in to_run])
            except LaneBusy as busy:
                log.warning("tags busy", extra={"fields": {"trace_id": trace_id,
                                                            "reason": busy.reason}})  # fmt: skip
                raise _Refusal(busy.status, busy.field, busy.reason,
                               {"retry-after": str(busy.retry_after_s)}) from None  # fmt: skip
            for (answer, _), result in zip(to_run, results, strict=True):
                answer["queued"] = sorted({row.tag_id for row in result.rows})
                if result.failures:
                    answer["failed"] = [
                        {"tag": f.row.tag_id, "kind": f.kind, "reason": f.error,
                         "retried": f.next_attempt_at is not None}
                        for f in result.failures
                    ]  # fmt: skip
                add(total, result)
        try:
            await self._acceptor.commit(total)
        except StoreUnavailable as exc:
            _unavailable(exc.error, trace_id)
        if errors:
            return 207, {"events": accepted, "errors": errors}
        return 200, {"events": accepted}

    def _events(
        self, candidates: list[Any], container: CompiledContainer, trace_id: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[dict[str, Any], Hit]]]:
        """(accepted, errors, to run): each good event judged by the shared acceptance
        path (its answer says which tags it queued: none when a guard stopped it); each bad
        one as its named errors; the events whose tags run, with their answers."""
        now_ms = self._clock()
        rules = ContainerRules(container.default_country, container.consent_policy == "strict")
        accepted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        to_run: list[tuple[dict[str, Any], Hit]] = []
        for index, candidate in enumerate(candidates):
            event, problems = read_event(candidate, rules, now_ms)
            unshaped = unshaped_click_ids(candidate) if event is not None else []
            if unshaped:
                event, problems = None, [(f"click.{name}", UNSHAPED) for name in unshaped]
            if event is None:
                errors.extend({"index": index, "field": f, "reason": r} for f, r in problems)
                continue
            answer: dict[str, Any] = {"index": index, "event_id": event.wire["event_id"],
                                      "queued": []}  # fmt: skip
            accepted.append(answer)
            hit = _hit(container.id, event, now_ms, trace_id)
            if self._acceptor.judge(container, hit) is not Verdict.STOP:
                to_run.append((answer, hit))
        return accepted, errors, to_run


def _report(
    container_id: str,
    token: TokenRecord,
    trace_id: str,
    candidates: int,
    accepted: list[dict[str, Any]],
    errors: list[dict[str, Any]],
) -> None:
    """One log line per request, and the events counted by outcome."""
    FIRE_EVENTS.labels(container_id, "accepted").inc(len(accepted))
    log.info(
        "fire request",
        extra={"fields": {"container": container_id, "trace_id": trace_id,
                          "token": token.name, "accepted": len(accepted),
                          "rejected": candidates - len(accepted), "errors": errors[:10]}},
    )  # fmt: skip
    if errors:
        FIRE_EVENTS.labels(container_id, "rejected").inc(candidates - len(accepted))


def _hit(container_id: str, event: FireEvent, now_ms: int, trace_id: str) -> Hit:
    """The hit as `/collect` would build it; the caller's own connection (its address,
    headers, cookies, the bearer token) is none of the templates' business."""
    return Hit(
        container_id=container_id,
        event=event.wire["event"],
        event_id=event.wire["event_id"],
        wire=event.wire,
        event_time_ms=event.event_time_ms,
        received_ms=now_ms,
        client_ip=event.client_ip,
        user_agent=event.user_agent,
        client_id=event.client_id,
        sec_gpc=False,
        trace_id=trace_id,
        cookies={},
        headers=[],
        action_source=event.action_source,
        test_event_code=event.test_event_code,
    )


def _check_container(candidates: list[Any], container_id: str) -> None:
    """An event that names a container must name the token's (403 for the whole request:
    a token used for the wrong container is a setup mistake, not bad data)."""
    for index, candidate in enumerate(candidates):
        if isinstance(candidate, dict) and candidate.get("container_id", container_id) != (
            container_id
        ):
            raise _Refusal(
                403,
                "container_id",
                f"this token belongs to container {container_id!r}",
                None,
                index,
            )


def _check_media_type(request: Request) -> None:
    """Events are JSON only: a server has no beacon's text/plain limits, unlike /collect."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _CONTENT_TYPE:
        raise _Refusal(415, "Content-Type", "must be application/json")


def _idempotency_key(request: Request) -> str | None:
    """The caller's Idempotency-Key (None: none sent), refused before the body is read."""
    key = request.headers.get(HEADER)
    if key is not None and not valid_key(key):
        raise _Refusal(
            400, "Idempotency-Key", "must be 1-255 printable ASCII characters, no spaces"
        )
    return key


async def _read_events(request: Request) -> tuple[Any, list[Any]]:
    """(the decoded body, its candidate events); a body that cannot be read is refused."""
    try:
        return parse_events(await _read_body(request))
    except BodyError as exc:
        raise _Refusal(exc.status, exc.field, exc.reason) from None


async def _read_body(request: Request) -> bytes:
    """The whole body, refused as soon as it is too large."""
    check_declared_length(request.headers.get("content-length"), MAX_BODY_BYTES)
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyError.too_large(MAX_BODY_BYTES)
            chunks.append(chunk)
    except ClientDisconnect:
        raise BodyError.disconnected() from None
    return b"".join(chunks)

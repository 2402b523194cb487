"""One platform request from arrival to record: queued failures, the verdict, the log entry.

Platform modules only decide what a request means (`Platform.handle` returns a `Reply`);
this module reads the body with a size cap, serves injected failures first, records the
request with its secrets redacted, and turns the reply into a response. Handlers are plain
functions, so checking a dedup key and recording the event happen without an `await` in
between and cannot interleave with another request.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fake_platforms.accounts import FakeAccounts
from fake_platforms.recorder import EventRecord, Failure, Recorder, RequestRecord

__all__ = [
    "ALL_METHODS",
    "MAX_BODY",
    "REDACTED",
    "Clock",
    "Context",
    "Platform",
    "Reply",
    "endpoint",
    "random_id",
    "wall_clock_ms",
]

MAX_BODY = 16 * 1024 * 1024
REDACTED = "[redacted]"
SECRET_QUERY = frozenset({"access_token", "api_secret", "appsecret_proof"})
SECRET_HEADERS = frozenset({"authorization", "access-token", "developer-token", "cookie"})
SECRET_BODY_KEYS = frozenset({"access_token", "appsecret_proof"})
TEXT_LIMIT = 65536
HOLD_POLL_S = 0.02
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    """The default clock: Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


def random_id(size: int = 16) -> str:
    """An opaque id like the platforms' trace and request ids."""
    return secrets.token_urlsafe(size)


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler may consult: accepted accounts, the clock and the records so far."""

    accounts: FakeAccounts
    clock: Clock
    recorder: Recorder

    def now_ms(self) -> int:
        return int(self.clock())


@dataclass(slots=True)
class Reply:
    """A handler's verdict: the answer, why (for the request log) and the events accepted."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Platform:
    """A platform's answers: its endpoint, its failure shapes, its unknown-path shape."""

    name: str
    handle: Callable[[Request, bytes, Context], Reply]
    failure: Callable[[str, Request], Reply]
    not_found: Callable[[Request], Reply]
    too_large: Callable[[Request], Reply]


def endpoint(
    platform: Platform, ctx: Context, *, api: bool = True, failures: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint for the platform; `api=False` serves its unknown-path answer.

    `failures=False` leaves queued failures alone: they model the server APIs, so a browser
    beacon arriving first must not use up the failure a test queued for tagwire's request.
    """

    async def run(request: Request) -> Response:
        received_ms = ctx.now_ms()
        raw = await _read_body(request)
        if not api or request.method != "POST":
            reply = platform.not_found(request)
        elif failures and (failure := ctx.recorder.take_failure(platform.name)) is not None:
            reply = await _inject(platform, ctx, request, failure)
        elif raw is None:
            reply = platform.too_large(request)
        else:
            reply = platform.handle(request, raw, ctx)
        record = _request_record(platform.name, request, raw, reply, received_ms)
        ctx.recorder.add(record, reply.events)
        return _response(reply)

    return run


async def _read_body(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _inject(platform: Platform, ctx: Context, request: Request, failure: Failure) -> Reply:
    if failure.mode == "timeout":
        generation = ctx.recorder.generation
        deadline = time.monotonic() + failure.hold_s
        while time.monotonic() < deadline and ctx.recorder.generation == generation:
            await asyncio.sleep(HOLD_POLL_S)
        reply = platform.failure("server_error", request)
    else:
        reply = platform.failure(failure.mode, request)
    reply.reasons.insert(0, f"injected failure: {failure.mode}")
    return reply


def _response(reply: Reply) -> Response:
    if reply.body is None:
        return Response(status_code=reply.status, headers=reply.headers)
    return Response(
        orjson.dumps(reply.body),
        reply.status,
        headers=reply.headers,
        media_type="application/json",
    )


def _request_record(
    platform: str, request: Request, raw: bytes | None, reply: Reply, received_ms: int
) -> RequestRecord:
    query = {k: REDACTED if k in SECRET_QUERY else v for k, v in request.query_params.items()}
    headers = {k: REDACTED if k in SECRET_HEADERS else v for k, v in request.headers.items()}
    return RequestRecord(
        platform=platform,
        method=request.method,
        path=request.url.path,
        query=query,
        headers=headers,
        body=_recorded_body(request, raw),
        status=reply.status,
        response=reply.body,
        reasons=tuple(reply.reasons),
        received_ms=received_ms,
    )


def _recorded_body(request: Request, raw: bytes | None) -> Any:
    """The body for the request log: parsed when possible, tokens replaced."""
    if raw is None:
        return f"[body over {MAX_BODY} bytes not kept]"
    if not raw:
        return None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return {k: REDACTED if k in SECRET_BODY_KEYS else v for k, v in form.items()}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:TEXT_LIMIT].decode("utf-8", "replace")
    if isinstance(parsed, dict):
        return {k: REDACTED if k in SECRET_BODY_KEYS else v for k, v in parsed.items()}
    return parsed

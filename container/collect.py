"""`POST /collect`: the loader's endpoint.

Validates each hit, adds the request facts the browser cannot be trusted for, runs the
container's pipeline and answers only after the queued requests are committed. Bad input
gets a 4xx naming the field; good hits in a batch are kept when others are bad. The guards
(container/guards) stand in between: bots are dropped quietly with a 204, a client over a
rate limit gets a 429, an impossible value stops the hit's tags, and a volume spike holds
its rows for an operator.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote

import orjson

from config.storage import StorageError
from container.client_ip import Network, client_ip, is_trusted
from container.containers import ContainerSet, NotServed
from container.delivery.outbox import OutboxWriter
from container.guards import Guards
from container.guards.bot import hit_reason, is_loopback
from container.guards.rates import IP_LIMIT
from container.hit import MAX_BODY_BYTES, BodyError, parse_body, validate_hit
from container.ids import random_hex, random_urlsafe
from container.metrics import GUARD_BLOCKS, GUARD_HELD, HITS, count_pii_removed
from container.pipeline import CompiledContainer, PipelineResult
from variables.consent import storage_granted
from variables.hit import Hit
from variables.pii_firewall import scrub_hit

__all__ = ["COOKIE_NAME", "CollectEndpoint"]

log = logging.getLogger("tagwire.collect")

COOKIE_NAME = "tw_id"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers honour (400 days)
MAX_EVENT_AGE_MS = 24 * 3600 * 1000
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_CONTENT_TYPES = ("application/json", "text/plain")


Headers = list[tuple[bytes, bytes]]
_WANTED = frozenset(
    {b"content-type", b"content-length", b"origin", b"cookie", b"user-agent", b"x-forwarded-for",
     b"x-forwarded-proto", b"sec-gpc", b"host"}
)  # fmt: skip
_JSON = (b"content-type", b"application/json")


class _Answer(Exception):
    """Ends a request early with a status and JSON errors."""

    def __init__(self, status: int, field: str, reason: str) -> None:
        self.status = status
        self.body = {"errors": [{"field": field, "reason": reason}]}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _target(query: bytes) -> tuple[str | None, str | None]:
    """The `id` and `env` query parameters (None when absent; the first of each counts)."""
    container_id = env = None
    for part in query.split(b"&"):
        if container_id is None and part.startswith(b"id="):
            container_id = _unquote(part[3:])
        elif env is None and part.startswith(b"env="):
            env = _unquote(part[4:])
    return container_id, env


def _unquote(raw: bytes) -> str:
    value = raw.decode("latin-1")
    return unquote(value) if "%" in value else value


_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{0,4096}")
MAX_COOKIES = 50


def _cookies(header: str | None) -> dict[str, str]:
    """Request cookies with well-formed names and values; the rest are ignored."""
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for part in header.split(";")[:MAX_COOKIES]:
        name, _, value = part.strip().partition("=")
        if _COOKIE_NAME.fullmatch(name) and _COOKIE_VALUE.fullmatch(value):
            cookies.setdefault(name, value)
    return cookies


class CollectEndpoint:
    """A raw ASGI app: the hot path skips Request objects and reads only what it needs."""

    def __init__(
        self,
        containers: ContainerSet,
        writer: OutboxWriter,
        trusted_proxies: Sequence[Network],
        cookie_domain: str,
        *,
        guards: Guards | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        """`guards` None runs no guard; `clock` gives the time in epoch milliseconds."""
        self.containers = containers
        self._writer = writer
        self._guards = guards
        self._clock = clock
        self._warned_untrusted_proxy = False
        self._trusted = tuple(trusted_proxies)
        self._cookie_suffix = f"; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax"
        self._cookie_domain = cookie_domain
        if cookie_domain:
            self._cookie_suffix += f"; Domain={cookie_domain}"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {k: v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED}
        out: Headers = []
        try:
            status, body = await self._handle(scope, receive, headers, out)
        except _Answer as answer:
            status, body = answer.status, answer.body
        if body is None:
            await send({"type": "http.response.start", "status": status, "headers": out})
            await send({"type": "http.response.body", "body": b""})
            return
        payload = orjson.dumps(body)
        out.append(_JSON)
        out.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload})

    def _container(self, query: bytes) -> CompiledContainer:
        """The container and environment the query string names ("live" by default)."""
        container_id, env = _target(query)
        try:
            return self.containers.resolve(container_id, env)
        except NotServed as refused:
            raise _Answer(refused.status, refused.field, refused.reason) from None

    def _is_https(self, scope: dict[str, Any], headers: dict[bytes, str], peer: str) -> bool:
        if scope["scheme"] == "https":
            return True
        return (
            headers.get(b"x-forwarded-proto") == "https"
            and bool(self._trusted)
            and is_trusted(peer, self._trusted)
        )

    def _cors(
        self,
        scope: dict[str, Any],
        headers: dict[bytes, str],
        container: CompiledContainer,
        out: Headers,
    ) -> None:
        """Allow a listed or same origin with credentials; refuse any other browser origin."""
        origin = headers.get(b"origin")
        if origin is None:
            return  # not a browser fetch: server-to-server, or a beacon without CORS
        scheme = "https" if self._is_https(scope, headers, _peer(scope)) else scope["scheme"]
        own = f"{scheme}://{headers.get(b'host', '')}"
        if origin != own and origin not in container.allowed_origins:
            raise _Answer(
                403,
                "Origin",
                f"origin {origin!r} is not in container {container.id!r} allowed_origins",
            )
        out.append((b"access-control-allow-origin", origin.encode("latin-1")))
        out.append((b"access-control-allow-credentials", b"true"))
        out.append((b"vary", b"Origin"))

    async def _handle(
        self, scope: dict[str, Any], receive: Any, headers: dict[bytes, str], out: Headers
    ) -> tuple[int, dict[str, Any] | None]:
        container = self._container(scope["query_string"])
        self._cors(scope, headers, container, out)
        if scope["method"] == "OPTIONS":
            out.append((b"access-control-allow-methods", b"POST"))
            out.append((b"access-control-allow-headers", b"content-type"))
            out.append((b"access-control-max-age", b"86400"))
            return 204, None
        media_type = headers.get(b"content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in _CONTENT_TYPES:
            raise _Answer(415, "Content-Type", "must be application/json or text/plain")
        try:
            candidates = parse_body(await _read_body(receive, headers.get(b"content-length")))
        except BodyError as exc:
            raise _Answer(exc.status, exc.field, exc.reason) from None
        return await self._accept(scope, headers, container, candidates, out)

    async def _accept(
        self,
        scope: dict[str, Any],
        headers: dict[bytes, str],
        container: CompiledContainer,
        candidates: list[Any],
        out: Headers,
    ) -> tuple[int, dict[str, Any] | None]:
        now_ms = self._clock()
        peer = _peer(scope)
        ip = client_ip(peer, headers.get(b"x-forwarded-for"), self._trusted)
        user_agent = headers.get(b"user-agent", "")[:512]
        sec_gpc = headers.get(b"sec-gpc") == "1"
        trace_id = random_hex(8)
        cookies = _cookies(headers.get(b"cookie"))
        cookie = cookies.get(COOKIE_NAME)
        client_id = cookie if cookie and _CLIENT_ID.fullmatch(cookie) else None
        guards = self._guards
        bot_signals = False
        if guards is not None and not self._exempt(ip, peer, headers):
            blocked = self._request_blocked(
                guards, container.id, ip, user_agent, client_id, len(candidates), now_ms, out
            )
            if blocked:
                return 204, None
            bot_signals = guards.bots is not None
        set_cookie = False
        cookies_to_set: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        accepted: list[int] = []
        stopped = 0  # accepted by the answer, stopped by a guard before any tag ran
        result = PipelineResult()
        pixels: list[dict[str, Any]] = []
        for index, wire in enumerate(candidates):
            problems = validate_hit(wire)
            if problems:
                errors.extend({"index": index, "field": f, "reason": r} for f, r in problems)
                continue
            accepted.append(index)
            if bot_signals:
                reason = hit_reason(wire, now_ms)
                if reason is not None:
                    GUARD_BLOCKS.labels(container.id, "bot", reason).inc()
                    stopped += 1
                    continue
            count_pii_removed(scrub_hit(wire, container.pii_policy))
            hold = False
            if guards is not None:
                hold = guards.spikes.observe(container.id, wire["event"], now_ms)
                data = wire.get("data")
                if data and guards.value.judge(
                    container.id,
                    wire["event_id"],
                    data.get("value"),
                    data.get("currency"),
                    currency_default=container.currency_default,
                ):
                    stopped += 1
                    continue
            hit_client_id = None
            consent = wire.get("consent")
            if storage_granted(consent):
                if client_id is None:
                    client_id = random_urlsafe(16)
                hit_client_id = client_id
                set_cookie = True
            ts = wire.get("ts", now_ms)
            hit = Hit(
                container_id=container.id,
                event=wire["event"],
                event_id=wire["event_id"],
                wire=wire,
                event_time_ms=min(now_ms, max(ts, now_ms - MAX_EVENT_AGE_MS)),
                received_ms=now_ms,
                client_ip=ip,
                user_agent=user_agent,
                client_id=hit_client_id,
                sec_gpc=sec_gpc,
                trace_id=trace_id,
                cookies=cookies,
                headers=scope["headers"],
            )
            before, before_cookies, before_rows = (
                len(result.pixels), len(result.cookies), len(result.rows)
            )  # fmt: skip
            container.run(hit, result)
            if hold:
                _hold(result, before_rows, container.id)
                continue  # a held hit's browser commands and cookies are withheld too
            pixels.extend({"index": index, **p} for p in result.pixels[before:])
            # Template cookies are ad cookies: only from a hit that grants ad_storage and
            # does not opt out of sharing with GPC.
            if (
                consent
                and consent.get("ad_storage") == "granted"
                and not (sec_gpc or consent.get("gpc") is True)
            ):
                cookies_to_set.extend(result.cookies[before_cookies:])
        if errors:
            log.info(
                "hits rejected",
                extra={"fields": {"container": container.id, "trace_id": trace_id,
                                  "rejected": len(candidates) - len(accepted),
                                  "errors": errors[:10]}},
            )  # fmt: skip
        if errors:
            HITS.labels(container.id, "rejected").inc(len(candidates) - len(accepted))
        if not accepted:
            return 400, {"errors": errors}
        if len(accepted) > stopped:
            HITS.labels(container.id, "accepted").inc(len(accepted) - stopped)
        if result.rows:
            try:
                await self._writer.enqueue(result.rows)
            except StorageError:
                log.exception("outbox commit failed", extra={"fields": {"trace_id": trace_id}})
                out.append((b"retry-after", b"5"))
                raise _Answer(503, "store", "temporarily unavailable; retry later") from None
        secure = "; Secure" if self._is_https(scope, headers, peer) else ""
        if set_cookie:
            value = f"{COOKIE_NAME}={client_id}{self._cookie_suffix}{secure}"
            out.append((b"set-cookie", value.encode("latin-1")))
        self._template_cookies(cookies_to_set, secure, out)
        if errors:
            body: dict[str, Any] = {"accepted": accepted, "errors": errors}
            if pixels:
                body["pixels"] = pixels
            return 207, body
        return (200, {"pixels": pixels}) if pixels else (204, None)

    def _exempt(self, ip: str, peer: str, headers: dict[bytes, str]) -> bool:
        """Loopback clients skip the bot filter and the rate limits: local tools, tests
        and the demo's headless browser. A proxy on this machine must be a trusted proxy,
        or every visitor would look local; that is warned about once."""
        if not is_loopback(ip):
            return False
        if ip == peer and b"x-forwarded-for" in headers and not self._warned_untrusted_proxy:
            self._warned_untrusted_proxy = True
            log.warning(
                "a loopback peer sends X-Forwarded-For but is not in TAGWIRE_TRUSTED_PROXIES:"
                " its hits skip the bot filter and rate limits",
                extra={"fields": {"peer": peer}},
            )
        return True

    def _request_blocked(
        self,
        guards: Guards,
        container_id: str,
        ip: str,
        user_agent: str,
        client_id: str | None,
        hits: int,
        now_ms: int,
        out: Headers,
    ) -> bool:
        """The request-wide guards: True for a bot (answered 204, so it learns nothing);
        a client over a rate limit gets a 429 naming the limit, with Retry-After."""
        if guards.bots is not None:
            reason = guards.bots.user_agent_reason(user_agent)
            if reason is not None:
                GUARD_BLOCKS.labels(container_id, "bot", reason).inc(hits)
                return True
        verdict = guards.rates.check(ip, client_id, hits, now_ms)
        if verdict is None:
            return False
        GUARD_BLOCKS.labels(container_id, "rate", verdict.reason).inc(hits)
        out.append((b"retry-after", str(verdict.retry_after_s).encode()))
        who = "IP address" if verdict.reason == IP_LIMIT else "client id (tw_id)"
        raise _Answer(
            429,
            verdict.setting,
            f"more than {verdict.per_minute} hits per minute from this {who}; "
            f"retry after {verdict.retry_after_s} s",
        )

    def _template_cookies(self, cookies: list[dict[str, Any]], secure: str, out: Headers) -> None:
        """Cookies templates asked for (pixel ids such as _fbp), set only with ad_storage
        consent; a malformed one is dropped with a warning, never sent half-formed."""
        for cookie in cookies:
            name, value, max_age = cookie["name"], cookie["value"], cookie["max_age"]
            if name == COOKIE_NAME or not _COOKIE_VALUE.fullmatch(value):
                log.warning("template cookie refused", extra={"fields": {"cookie": name}})
                continue
            max_age = min(max_age, COOKIE_MAX_AGE)
            header = f"{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax{secure}"
            if self._cookie_domain:
                header += f"; Domain={self._cookie_domain}"
            out.append((b"set-cookie", header.encode("latin-1")))


def _hold(result: PipelineResult, start: int, container_id: str) -> None:
    """Store the rows from `start` on as held: the spike guard stopped them."""
    rows = result.rows
    if len(rows) > start:
        rows[start:] = [row._replace(held=True) for row in rows[start:]]
        GUARD_HELD.labels(container_id).inc(len(rows) - start)


def _peer(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return client[0] if client else ""


async def _read_body(receive: Any, declared: str | None) -> bytes:
    if declared is not None:
        if not declared.isdigit():
            raise BodyError("Content-Length", "must be a whole number of bytes")
        if int(declared) > MAX_BODY_BYTES:
            raise BodyError("body", f"larger than {MAX_BODY_BYTES} bytes", 413)
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyError("body", "client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyError("body", f"larger than {MAX_BODY_BYTES} bytes", 413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)

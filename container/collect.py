"""`POST /collect`: the loader's endpoint.

Validates each hit, adds the request facts the browser cannot be trusted for, hands it to
the acceptance path it shares with the Fire API (container/accept.py: PII firewall, spike
and value guards, the pipeline, the commit) and answers only after the queued requests
are committed. Bad input gets a 4xx naming the field; good hits in a batch are kept when
others are bad. What only a browser endpoint does stays here: CORS, the bot filter and the
rate limits (bots are dropped quietly with a 204, a client over a limit gets a 429), the
`tw_id` visitor id and the cookies templates ask for (at the container's own domain, see
container/site_domain.py), and the pixels in the answer. Click ids that are not shaped
like one are stripped before a hit is validated (container/click_ids.py).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.types import Receive, Scope, Send

from container.accept import Acceptor, StoreUnavailable, Verdict, add, hold
from container.accept_body import BodyError, read_bounded
from container.click_ids import strip_click_ids
from container.client_ip import Network, client_ip, is_trusted
from container.containers import ContainerSet, NotServed
from container.delivery.clock import SYSTEM_CLOCK
from container.delivery.outbox import OutboxWriter
from container.guards import Guards
from container.guards.bot import hit_reason, is_loopback
from container.guards.rates import IP_LIMIT
from container.hit import MAX_BODY_BYTES, parse_body, validate_hit
from container.ids import random_hex, random_urlsafe
from container.lanes import LaneBusy, TagLanes
from container.metrics import GUARD_BLOCKS, HITS
from container.pipeline import CompiledContainer, PipelineResult
from container.preview.runner import PreviewRunner
from container.preview.sessions import COOKIE as PREVIEW_COOKIE
from container.preview.sessions import ActivePreview
from container.preview.trace import request_facts
from container.site_domain import cookie_domain, host_of, origin_refusal, within
from variables.consent import ad_cookies_allowed, storage_granted
from variables.hit import Hit

__all__ = ["COOKIE_NAME", "SENT_FOR", "CollectEndpoint", "SentFor"]

log = logging.getLogger("tagwire.collect")

COOKIE_NAME = "tw_id"
# The ASGI scope key an in-process intake sets for hits a server sent on a visitor's
# behalf (the Measurement Protocol, authenticated by its API secret): the visitor's
# address and browser it vouches for. No HTTP request can set a scope key.
SENT_FOR = "tagwire.sent_for"


@dataclass(frozen=True, slots=True)
class SentFor:
    """The visitor a server-sent request is about: `ip` and `user_agent` as the sender
    gave them ("" when it gave none), used instead of the sender's own. Such a request
    skips the bot filter and the rate limits, as the Fire API's do: the sender is
    authenticated, and its User-Agent is a library's, not a browser's."""

    ip: str
    user_agent: str
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


# Consent Mode puts Google Analytics' own cookies under analytics_storage, like tw_id; every
# other cookie a template sets is an ad cookie, under ad_storage without GPC.
_ANALYTICS_COOKIE = "_ga"
_ANALYTICS_COOKIE_PREFIX = "_ga_"


class _CookieGrants(tuple[bool, bool]):
    """(ad cookies allowed, analytics cookies allowed) for one hit."""

    __slots__ = ()

    @classmethod
    def of(cls, consent: dict[str, Any] | None, sec_gpc: bool) -> _CookieGrants:
        return cls((ad_cookies_allowed(consent, sec_gpc), storage_granted(consent)))

    def allowed(self, cookies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The cookies of a hit's tags that this hit's consent lets the answer set."""
        ad, analytics = self
        if ad and analytics:
            return cookies
        if not (ad or analytics):
            return []
        return [c for c in cookies if (analytics if _is_analytics(c["name"]) else ad)]


def _is_analytics(name: str) -> bool:
    return name == _ANALYTICS_COOKIE or name.startswith(_ANALYTICS_COOKIE_PREFIX)


class _Batch:
    """One request's hits: the request facts they share, read once, and what they have
    produced so far; one object per request, which the per-hit steps fill in."""

    __slots__ = (
        "accepted", "bot_check", "client_id", "cookies", "errors", "headers", "ip", "now_ms",
        "peer", "pixels", "result", "sec_gpc", "set_client_id", "stopped", "template_cookies",
        "to_run", "trace_id", "user_agent",
    )  # fmt: skip

    def __init__(
        self,
        now_ms: int,
        peer: str,
        ip: str,
        headers: dict[bytes, str],
        raw_headers: Headers,
    ) -> None:
        self.now_ms = now_ms
        self.peer = peer
        self.ip = ip
        self.user_agent = headers.get(b"user-agent", "")[:512]
        self.sec_gpc = headers.get(b"sec-gpc") == "1"
        self.trace_id = random_hex(8)
        self.cookies = _cookies(headers.get(b"cookie"))
        cookie = self.cookies.get(COOKIE_NAME)
        self.client_id = cookie if cookie and _CLIENT_ID.fullmatch(cookie) else None
        self.headers = raw_headers
        self.bot_check = False  # per-hit bot signals: on when the request's guards ran
        self.set_client_id = False
        self.errors: list[dict[str, Any]] = []
        self.accepted: list[int] = []
        self.stopped = 0  # accepted by the answer, stopped by a guard before any tag ran
        # the hits whose tags run: (index, hit, held, which template cookies it allows)
        self.to_run: list[tuple[int, Hit, bool, _CookieGrants]] = []
        self.result = PipelineResult()
        self.pixels: list[dict[str, Any]] = []
        self.template_cookies: list[dict[str, Any]] = []

    def hit(self, container_id: str, wire: dict[str, Any], with_client_id: bool) -> Hit:
        """The wire hit with the request's facts. The visitor id goes only on a hit whose
        consent lets it be stored; the first such hit without a tw_id cookie makes one."""
        client_id = None
        if with_client_id:
            if self.client_id is None:
                self.client_id = random_urlsafe(16)
            client_id = self.client_id
        now_ms = self.now_ms
        return Hit(
            container_id=container_id,
            event=wire["event"],
            event_id=wire["event_id"],
            wire=wire,
            event_time_ms=min(now_ms, max(wire.get("ts", now_ms), now_ms - MAX_EVENT_AGE_MS)),
            received_ms=now_ms,
            client_ip=self.ip,
            user_agent=self.user_agent,
            client_id=client_id,
            sec_gpc=self.sec_gpc,
            trace_id=self.trace_id,
            cookies=self.cookies,
            headers=self.headers,
        )


class CollectEndpoint:
    """A raw ASGI app: the hot path skips Request objects and reads only what it needs."""

    def __init__(
        self,
        containers: ContainerSet,
        writer: OutboxWriter,
        lanes: TagLanes,
        trusted_proxies: Sequence[Network],
        cookie_domain: str,
        *,
        guards: Guards | None = None,
        previews: PreviewRunner | None = None,
        clock: Callable[[], int] = SYSTEM_CLOCK.now_ms,
    ) -> None:
        """`guards` None runs no guard; `previews` None honours no preview cookie;
        `clock` gives the time in epoch milliseconds."""
        self.containers = containers
        self._acceptor = (
            Acceptor(writer, lanes)
            if guards is None
            else Acceptor(writer, lanes, spikes=guards.spikes, value=guards.value)
        )
        self._guards = guards
        self._previews = previews
        self._clock = clock
        self._warned_untrusted_proxy = False
        self._trusted = tuple(trusted_proxies)
        self._cookie_domain = cookie_domain
        self._warned_domains: set[str] = set()  # containers whose domain a host was not under

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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

    def _is_https(self, scope: Scope, headers: dict[bytes, str], peer: str) -> bool:
        if scope["scheme"] == "https":
            return True
        return (
            headers.get(b"x-forwarded-proto") == "https"
            and bool(self._trusted)
            and is_trusted(peer, self._trusted)
        )

    def _cors(
        self,
        scope: Scope,
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
        refusal = origin_refusal(
            origin, own, container.id, container.domain, container.allowed_origins
        )
        if refusal is not None:
            raise _Answer(403, "Origin", refusal)
        out.append((b"access-control-allow-origin", origin.encode("latin-1")))
        out.append((b"access-control-allow-credentials", b"true"))
        out.append((b"vary", b"Origin"))

    async def _handle(
        self, scope: Scope, receive: Receive, headers: dict[bytes, str], out: Headers
    ) -> tuple[int, dict[str, Any] | None]:
        """The container first, as CORS needs its origins; a preflight ends after CORS."""
        container = self._container(scope["query_string"])
        self._cors(scope, headers, container, out)
        if scope["method"] == "OPTIONS":
            return _preflight(out)
        candidates = await _read_hits(receive, headers)
        return await self._accept(scope, headers, container, candidates, out)

    async def _accept(
        self,
        scope: Scope,
        headers: dict[bytes, str],
        container: CompiledContainer,
        candidates: list[Any],
        out: Headers,
    ) -> tuple[int, dict[str, Any] | None]:
        """Guard the request, take each hit, commit their rows, then answer: nothing is
        acknowledged (no 2xx, no cookie) before its rows are stored."""
        peer = _peer(scope)
        sent_for: SentFor | None = scope.get(SENT_FOR)
        batch = _Batch(
            self._clock(),
            peer,
            client_ip(peer, headers.get(b"x-forwarded-for"), self._trusted)
            if sent_for is None
            else sent_for.ip,
            headers,
            scope["headers"],
        )
        if sent_for is not None:
            batch.user_agent = sent_for.user_agent
        guards = self._guards
        if (
            guards is not None
            and sent_for is None
            and not self._exempt(batch.ip, batch.peer, headers)
        ):
            if _request_blocked(guards, container.id, batch, len(candidates), out):
                return 204, None
            batch.bot_check = guards.bots is not None
        previews = self._previews
        if previews is not None and PREVIEW_COOKIE in batch.cookies:
            active = await previews.sessions.resolve(
                batch.cookies[PREVIEW_COOKIE], container.id, batch.now_ms
            )
            preview = None if active is None else await previews.sessions.container(active)
            if active is not None and preview is not None:
                return await self._accept_preview(
                    scope, headers, previews, active, preview, batch, candidates, out
                )
        for index, wire in enumerate(candidates):
            self._take(container, batch, index, wire)
        _count(container.id, batch, len(candidates))
        if not batch.accepted:
            return 400, {"errors": batch.errors}
        if batch.to_run:
            await self._run(container, batch, out)
        await _commit(self._acceptor, batch, out)
        self._set_cookies(scope, headers, container, batch, out)
        return _answer(batch)

    async def _accept_preview(
        self,
        scope: Scope,
        headers: dict[bytes, str],
        previews: PreviewRunner,
        active: ActivePreview,
        container: CompiledContainer,
        batch: _Batch,
        candidates: list[Any],
        out: Headers,
    ) -> tuple[int, dict[str, Any] | None]:
        """`_accept` for a request with a valid preview cookie: the session's container,
        each hit traced step by step (refused, stopped by a guard, or run), delivered as
        the session's mode says."""
        request = request_facts(headers, batch.ip, batch.cookies)
        base = previews.base(active, batch.trace_id, batch.now_ms, request)
        screened = "passed" if batch.bot_check else "skipped (loopback client or guards off)"
        event_ids = []
        for index, wire in enumerate(candidates):
            strip_click_ids(container.id, batch.trace_id, wire)
            problems = validate_hit(wire)
            if problems:
                errors = [{"index": index, "field": f, "reason": r} for f, r in problems]
                batch.errors.extend(errors)
                previews.refused(active, base, errors)
                continue
            batch.accepted.append(index)
            guards = [{"guard": "bot filter and rate limits", "verdict": screened}]
            reason = _bot_hit(container.id, wire, batch.now_ms) if batch.bot_check else None
            if reason is not None:
                batch.stopped += 1
                guards.append({"guard": "bot signals of the hit", "verdict": reason})
                previews.stopped(active, base, wire, guards)
                continue
            consent = wire.get("consent")
            with_client_id = storage_granted(consent)
            hit = batch.hit(container.id, wire, with_client_id)
            verdict = self._acceptor.judge(container, hit)
            guards.append({"guard": "value and spike guards", "verdict": verdict.value})
            if verdict is Verdict.STOP:
                batch.stopped += 1
                previews.stopped(active, base, wire, guards)
                continue
            if with_client_id:
                batch.set_client_id = True
            result = await previews.run(active, container, hit, base, guards)
            if verdict is Verdict.HOLD:
                hold(result, container.id)
            else:
                batch.pixels.extend({"index": index, **p} for p in result.pixels)
                grants = _CookieGrants.of(consent, batch.sec_gpc)
                batch.template_cookies.extend(grants.allowed(result.cookies))
            add(batch.result, result)
            event_ids.append(hit.event_id)
        _count(container.id, batch, len(candidates))
        if not batch.accepted:
            return 400, {"errors": batch.errors}
        await _commit(self._acceptor, batch, out)
        await previews.mark(active, event_ids, batch.now_ms)
        self._set_cookies(scope, headers, container, batch, out)
        return _answer(batch)

    def _take(self, container: CompiledContainer, batch: _Batch, index: int, wire: Any) -> None:
        """One candidate hit: refused with named errors, dropped as a bot or stopped by a
        guard, or put on the list whose tags run."""
        strip_click_ids(container.id, batch.trace_id, wire)
        problems = validate_hit(wire)
        if problems:
            batch.errors.extend({"index": index, "field": f, "reason": r} for f, r in problems)
            return
        batch.accepted.append(index)
        if batch.bot_check and _bot_hit(container.id, wire, batch.now_ms) is not None:
            batch.stopped += 1
            return
        consent = wire.get("consent")
        with_client_id = storage_granted(consent)
        hit = batch.hit(container.id, wire, with_client_id)
        verdict = self._acceptor.judge(container, hit)
        if verdict is Verdict.STOP:
            batch.stopped += 1
            return
        if with_client_id:
            batch.set_client_id = True  # a held hit still gets tw_id: the visitor consented
        batch.to_run.append(
            (index, hit, verdict is Verdict.HOLD, _CookieGrants.of(consent, batch.sec_gpc))
        )

    async def _run(self, container: CompiledContainer, batch: _Batch, out: Headers) -> None:
        """The tags of the hits to run, on the container's lane; a held hit gets no
        browser commands or template cookies. A lane that cannot take them is a 503."""
        to_run = batch.to_run
        try:
            results = await self._acceptor.run(container, [hit for _, hit, _, _ in to_run])
        except LaneBusy as busy:
            log.warning("tags busy", extra={"fields": {"container": container.id,
                                                        "reason": busy.reason}})  # fmt: skip
            out.append((b"retry-after", str(busy.retry_after_s).encode()))
            raise _Answer(busy.status, busy.field, busy.reason) from None
        total = batch.result
        for (index, _, held, grants), result in zip(to_run, results, strict=True):
            if held:
                hold(result, container.id)
            else:
                batch.pixels.extend({"index": index, **p} for p in result.pixels)
                batch.template_cookies.extend(grants.allowed(result.cookies))
            add(total, result)

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

    def _set_cookies(
        self,
        scope: Scope,
        headers: dict[bytes, str],
        container: CompiledContainer,
        batch: _Batch,
        out: Headers,
    ) -> None:
        """tw_id when a hit let the visitor id be stored, then the cookies the hits' tags
        asked for; at the container's domain (or the node's), `Secure` only for a request
        that arrived over HTTPS."""
        attributes = self._domain(container, headers.get(b"host", ""))
        if self._is_https(scope, headers, batch.peer):
            attributes += "; Secure"
        if batch.set_client_id:
            value = (
                f"{COOKIE_NAME}={batch.client_id}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly;"
                f" SameSite=Lax{attributes}"
            )
            out.append((b"set-cookie", value.encode("latin-1")))
        if batch.template_cookies:
            _template_cookies(batch.template_cookies, attributes, out)

    def _domain(self, container: CompiledContainer, host_header: str) -> str:
        """`; Domain=…` for the container's domain, else the node's cookie domain, when the
        request's host is under it; "" (host-only) otherwise, warned once per container
        when the host is not under the domain (a browser would drop the cookie)."""
        wanted = container.domain or self._cookie_domain
        if not wanted:
            return ""
        attributes, host, under = _domain_attributes(wanted, host_header)
        if attributes or under:
            return attributes
        if container.id not in self._warned_domains:
            self._warned_domains.add(container.id)
            log.warning(
                "cookies set host-only: the request's host is not under the cookie domain",
                extra={"fields": {"container": container.id, "host": host, "domain": wanted}},
            )
        return ""


@functools.lru_cache(maxsize=256)
def _domain_attributes(wanted: str, host_header: str) -> tuple[str, str, bool]:
    """(`; Domain=…` or "", the request's host, whether it is under `wanted`), kept for
    the hosts seen last: a node serves a handful, and working it out parses addresses."""
    host = host_of(host_header)
    domain = cookie_domain(wanted, host)
    return ("" if domain is None else f"; Domain={domain}"), host, within(host, wanted)


def _template_cookies(cookies: list[dict[str, Any]], attributes: str, out: Headers) -> None:
    """Cookies templates asked for (browser ids such as _fbp and _ga), once per name (the
    last value wins); a malformed one is dropped with a warning, never sent half-formed."""
    latest = {cookie["name"]: cookie for cookie in cookies}
    for name, cookie in latest.items():
        value = cookie["value"]
        if name == COOKIE_NAME or not _COOKIE_VALUE.fullmatch(value):
            log.warning("template cookie refused", extra={"fields": {"cookie": name}})
            continue
        max_age = min(cookie["max_age"], COOKIE_MAX_AGE)
        header = f"{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax{attributes}"
        out.append((b"set-cookie", header.encode("latin-1")))


def _preflight(out: Headers) -> tuple[int, None]:
    """A CORS preflight for the allowed origin: POST with a JSON body, cached for a day."""
    out.append((b"access-control-allow-methods", b"POST"))
    out.append((b"access-control-allow-headers", b"content-type"))
    out.append((b"access-control-max-age", b"86400"))
    return 204, None


def _request_blocked(
    guards: Guards, container_id: str, batch: _Batch, hits: int, out: Headers
) -> bool:
    """The request-wide guards, before any hit runs: True for a bot (answered 204, so it
    learns nothing); a client over a rate limit gets a 429 naming the limit, with
    Retry-After."""
    if guards.bots is not None:
        reason = guards.bots.user_agent_reason(batch.user_agent)
        if reason is not None:
            GUARD_BLOCKS.labels(container_id, "bot", reason).inc(hits)
            return True
    verdict = guards.rates.check(batch.ip, batch.client_id, hits, batch.now_ms)
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


def _bot_hit(container_id: str, wire: dict[str, Any], now_ms: int) -> str | None:
    """Why only a bot sends this hit (see guards/bot.py), counted; None: no such sign."""
    reason = hit_reason(wire, now_ms)
    if reason is not None:
        GUARD_BLOCKS.labels(container_id, "bot", reason).inc()
    return reason


def _count(container_id: str, batch: _Batch, candidates: int) -> None:
    """Log the refused hits with their errors and count both outcomes; a hit a guard
    stopped counts as neither, the guard counts it."""
    rejected = candidates - len(batch.accepted)
    if batch.errors:
        log.info(
            "hits rejected",
            extra={"fields": {"container": container_id, "trace_id": batch.trace_id,
                              "rejected": rejected, "errors": batch.errors[:10]}},
        )  # fmt: skip
        HITS.labels(container_id, "rejected").inc(rejected)
    ran = len(batch.accepted) - batch.stopped
    if ran:
        HITS.labels(container_id, "accepted").inc(ran)


async def _commit(acceptor: Acceptor, batch: _Batch, out: Headers) -> None:
    """The batch's rows through the shared commit; a store that fails is a 503 with
    Retry-After, and the client retries the whole request."""
    try:
        await acceptor.commit(batch.result)
    except StoreUnavailable as exc:
        log.exception("outbox commit failed", extra={"fields": {"trace_id": batch.trace_id}})
        out.append((b"retry-after", str(exc.retry_after_s).encode()))
        raise _Answer(exc.status, exc.field, exc.reason) from None


def _answer(batch: _Batch) -> tuple[int, dict[str, Any] | None]:
    """204 when all is done; 200 with pixels for the browser to fire; 207 naming the
    refused hits next to the accepted ones."""
    pixels = batch.pixels
    if batch.errors:
        body: dict[str, Any] = {"accepted": batch.accepted, "errors": batch.errors}
        if pixels:
            body["pixels"] = pixels
        return 207, body
    return (200, {"pixels": pixels}) if pixels else (204, None)


async def _read_hits(receive: Receive, headers: dict[bytes, str]) -> list[Any]:
    """The candidate hits of a JSON or text/plain (beacon) body."""
    media_type = headers.get(b"content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in _CONTENT_TYPES:
        raise _Answer(415, "Content-Type", "must be application/json or text/plain")
    try:
        body = await read_bounded(receive, headers.get(b"content-length"), MAX_BODY_BYTES)
        return parse_body(body)
    except BodyError as exc:
        raise _Answer(exc.status, exc.field, exc.reason) from None


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else ""

"""The sender's HTTP client: HTTP/1.1 over kept-alive connections, one small protocol
object per connection and httptools' parser for the answers.

Why not httpx: its client, pool and h11 state machine cost about 2 ms of the event loop
per request on the reference machine (an import attempt of `sniffio` on every lock, a pool
scan per request, anyio streams), which capped one-row-per-request delivery near 300
events/s. This client does what the sender needs and nothing else:

- **Egress.** Every new connection takes the URL's host, asks `addresses` (the egress
  guard, `GuardedNetwork.addresses`: one lookup, every address checked, `EgressRefused`
  before any socket) and connects to the checked addresses in order, never to the name.
  A kept-alive connection is reused only for the same scheme, host and port it was
  checked for. Redirects are never followed: a 3xx is the answer.
- **Keep-alive.** Idle connections wait per origin, most recent first, for `keepalive_s`
  seconds; one the receiver closed is dropped when it notices, one that is past its time
  when it is picked. At most `max_connections` are open; opening one more closes the
  longest idle one first. Callers bound the requests in flight (the sender's slots), so
  the pool never makes anyone wait.
- **Timeout.** `timeout` seconds for the whole exchange: connecting (lookup and TLS
  included), sending and reading the whole answer. A connection cut short (timeout,
  cancellation, an answer that breaks HTTP) is closed, never reused.
- **Answers.** The head may hold `HEAD_LIMIT` bytes; the first `BODY_LIMIT` bytes of the
  body are kept and the rest is read and dropped. `gzip` and `deflate` bodies are
  decoded (up to the same limit); the text is decoded with the charset the answer names,
  UTF-8 otherwise, with replacement characters for what does not decode.
- **Requests.** The stored method, target and headers, plus `Host`, `Content-Length`,
  `Accept: */*` and `User-Agent: tagwire/<version>`. Header names and values are
  checked before anything is written: a value with a line break (a secret filled in
  at send time can hold one) is an `InvalidRequest`, not a second header.

Failures: `InvalidRequest` (the request can never be sent: a bad URL or header),
`EgressRefused` (the guard said no), `TransportFailure` (no usable answer: refused,
reset, TLS, lookup, timeout, a malformed answer); `kind` names the cause for the log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import metadata
from typing import NamedTuple, cast

import httpcore
import httptools
import httpx

from config.egress import IPAddress

__all__ = [
    "BODY_LIMIT",
    "HEAD_LIMIT",
    "KEEPALIVE_S",
    "Addresses",
    "HttpxClient",
    "InvalidRequest",
    "Pool",
    "Response",
    "TransportFailure",
]

# host, port, timeout -> the checked addresses to connect to (GuardedNetwork.addresses)
Addresses = Callable[[str, int, float | None], Awaitable[list[IPAddress]]]

HEAD_LIMIT = 64 * 1024  # bytes of an answer's status line and headers
BODY_LIMIT = 4 * 1024 * 1024  # bytes of an answer's body kept (the rest is dropped)
# How long an idle connection is kept: under the 5 s after which common servers (uvicorn,
# for one) close it, so that a request seldom races the receiver's close.
KEEPALIVE_S = 4.0
_JOIN_LIMIT = 256 * 1024  # a body up to this size goes out in one write with its head
_TARGETS = 4096  # parsed URLs kept

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"[\t\x20-\x7e]*")  # what templates may set (tags/runtime.py)
# Set from the request itself: a stored one is dropped. Templates cannot set them
# (tags/runtime.py); a Host of the row's own would aim at another virtual host than the
# URL whose host was checked.
_FRAMING = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive",
                      "upgrade", "te", "trailer", "proxy-connection"})  # fmt: skip
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)


def _agent() -> str:
    try:
        return f"tagwire/{metadata.version('tagwire')}"
    except metadata.PackageNotFoundError:  # pragma: no cover - a checkout without install
        return "tagwire"


USER_AGENT = _agent()


class InvalidRequest(Exception):
    """The request can never be sent as stored (its URL or a header); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransportFailure(Exception):
    """No usable answer; `kind` names the cause (the underlying error's type)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    @property
    def text(self) -> str:
        kind = self.headers.get("content-type", "")
        found = _CHARSET.search(kind)
        if found is not None:
            with contextlib.suppress(LookupError):
                return self.body.decode(found.group(1), errors="replace")
        return self.body.decode("utf-8", errors="replace")


class _Target(NamedTuple):
    origin: tuple[str, str, int]  # scheme, host (IDNA, IPv6 without brackets), port
    start: bytes  # "<target> HTTP/1.1\r\nHost: <host>\r\n", after the method
    authorization: bytes  # from user info in the URL, as httpx sends it; b"" without


def _parse(url: str) -> _Target:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidRequest(f"invalid URL: {exc}") from None
    scheme = parsed.scheme
    if scheme not in ("http", "https"):
        if not scheme:
            raise InvalidRequest(
                "invalid URL: Request URL is missing an 'http://' or 'https://' protocol."
            )
        raise InvalidRequest(f"invalid URL: Request URL has an unsupported protocol '{scheme}://'.")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise InvalidRequest("invalid URL: Request URL has no host.")
    port = parsed.port or (443 if scheme == "https" else 80)
    authorization = b""
    if parsed.userinfo:  # as httpx does: Basic auth from the URL's user and password
        secret = f"{parsed.username}:{parsed.password}".encode()
        authorization = b"Authorization: Basic " + base64.b64encode(secret) + b"\r\n"
    start = b" " + parsed.raw_path + b" HTTP/1.1\r\nHost: " + parsed.netloc + b"\r\n"
    return _Target((scheme, host, port), start, authorization)


def _head(method: str, target: _Target, headers: dict[str, str], size: int) -> bytes:
    if not _TOKEN.fullmatch(method):
        raise InvalidRequest(f"invalid request: method {method!r}")
    lines = [method.encode("ascii"), target.start]
    authorization = target.authorization
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise InvalidRequest(f"invalid request: header name {name!r} is not an HTTP token")
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            # a line break would start another header; anything else is not ASCII, which
            # a template cannot set either: only a filled-in secret can bring it
            raise InvalidRequest(
                f"invalid request: header {name!r} holds a line break, a control character"
                " or a character that is not ASCII"
            )
        lower = name.lower()
        if lower in _FRAMING:
            continue
        if lower == "authorization":
            authorization = b""  # the row's own wins over the URL's user info
        lines.append(f"{name}: {value}\r\n".encode("ascii"))
    lines.append(authorization)
    if size or method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d\r\n" % size)
    lines.append(b"Accept: */*\r\nUser-Agent: " + USER_AGENT.encode("ascii") + b"\r\n\r\n")
    return b"".join(lines)


def _decoded(body: bytes, encoding: str) -> bytes:
    """A gzip or deflate body decoded, at most `BODY_LIMIT` bytes of it."""
    codings = [c.strip() for c in encoding.lower().split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            body = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(body, BODY_LIMIT)
        elif coding == "deflate":
            try:
                body = zlib.decompressobj().decompress(body, BODY_LIMIT)
            except zlib.error:  # raw deflate, as some servers send it
                body = zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, BODY_LIMIT)
        elif coding != "identity":
            raise TransportFailure("DecodingError", f"unsupported content-encoding {coding!r}")
    return body


class _Connection(asyncio.Protocol):
    """One connection: at most one request at a time, its answer read by httptools."""

    def __init__(self, pool: Pool, origin: tuple[str, str, int]) -> None:
        self.origin = origin
        self.closed = False
        self.spoiled = False  # bytes came after the answer: never reused
        self.idle_since = 0.0
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[Response, bool]] | None = None
        self._no_body = False
        self._reset()

    def _reset(self) -> None:
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._head_open = True
        self._head_bytes = 0
        self._status = 0
        self._answered = False

    # ---- the exchange ------------------------------------------------------------------

    def send(
        self, head: bytes, body: bytes, no_body: bool
    ) -> asyncio.Future[tuple[Response, bool]]:
        """Write the request; the future gets the answer and whether the connection may be
        reused. `no_body`: the answer has none whatever its headers say (HEAD)."""
        assert self._transport is not None
        assert self._waiter is None
        if self.closed:  # dropped by the receiver since it was opened or last used
            raise TransportFailure("RemoteProtocolError", "the connection closed")
        self._reset()
        self._no_body = no_body
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        if len(body) <= _JOIN_LIMIT:
            self._transport.write(head + body)
        else:
            self._transport.write(head)
            self._transport.write(body)
        return waiter

    def done(self) -> None:
        self._waiter = None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._pool._lost(self)
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self.close()
        if self._transport is not None:
            self._transport.abort()

    # ---- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports (the node runs on uvloop) are no asyncio.Transport subclass
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._answered:
            self.spoiled = True  # bytes nobody asked for: the connection is not trusted
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish(keep=False)  # 101: the answer, and the end of HTTP here
        except httptools.HttpParserError as exc:
            self._fail(TransportFailure("RemoteProtocolError", str(exc)))
            self.abort()
            return
        if self._head_open and not self._answered:
            self._head_bytes += len(data)
            if self._head_bytes > HEAD_LIMIT:
                self._fail(TransportFailure("RemoteProtocolError", "answer head too large"))
                self.abort()

    def eof_received(self) -> None:
        return None  # the transport closes itself; connection_lost finishes up

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self._pool._lost(self)
        if self._waiter is None or self._answered:
            return
        headers = self._headers
        until_close = "content-length" not in headers and "transfer-encoding" not in headers
        if not self._head_open and until_close:
            self._finish(keep=False)  # a body that ends with the connection: it ended
            return
        kind = type(exc).__name__ if exc is not None else "RemoteProtocolError"
        self._fail(TransportFailure(kind, "the connection closed before the answer ended"))

    # ---- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._answered:
            self.spoiled = True  # a second answer to one request

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._answered:
            self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._answered:
            return
        self._status = self._parser.get_status_code()
        self._head_open = False
        if self._no_body and self._status >= 200:
            self._finish(keep=False)

    def on_body(self, body: bytes) -> None:
        if self._answered:
            return
        if self._size < BODY_LIMIT:
            self._body.append(body[: BODY_LIMIT - self._size])
        self._size += len(body)

    def on_message_complete(self) -> None:
        if self._answered:
            return
        if 100 <= self._status < 200 and self._status != 101:
            self._reset()  # an interim answer (100 Continue, 103 Early Hints): wait on
            return
        self._finish(keep=self._parser.should_keep_alive())

    # ---- outcomes ----------------------------------------------------------------------

    def _finish(self, keep: bool) -> None:
        waiter = self._waiter
        if waiter is None or self._answered:
            return
        status = self._status
        if status < 200 and status != 101:
            self._fail(TransportFailure("RemoteProtocolError", "no final answer"))
            return
        body = b"".join(self._body)
        encoding = self._headers.get("content-encoding")
        if encoding:
            try:
                body = _decoded(body, encoding)
            except (zlib.error, TransportFailure) as exc:
                kind = exc.kind if isinstance(exc, TransportFailure) else "DecodingError"
                self._fail(TransportFailure(kind, str(exc)))
                return
        self._answered = True
        if not waiter.done():
            waiter.set_result((Response(status, self._headers, body), keep))

    def _fail(self, failure: TransportFailure) -> None:
        waiter = self._waiter
        self._answered = True
        if waiter is not None and not waiter.done():
            waiter.set_exception(failure)


class Pool:
    """Kept-alive HTTP/1.1 connections per origin; see the module's docstring."""

    def __init__(
        self,
        addresses: Addresses,
        *,
        timeout: float,
        max_connections: int,
        keepalive_s: float = KEEPALIVE_S,
        ssl_context: ssl.SSLContext | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._addresses = addresses
        self._timeout = timeout
        self._max = max(1, max_connections)
        self._keepalive_s = keepalive_s
        self._ssl = ssl_context
        self._monotonic = monotonic
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._targets: dict[str, _Target] = {}
        self._closing = False
        self.opened = 0  # connections opened so far (tests and metrics read it)

    @property
    def connections(self) -> int:
        return len(self._open)

    def idle(self) -> int:
        return sum(len(found) for found in self._idle.values())

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> Response:
        target = self._targets.get(url)
        if target is None:
            target = _parse(url)
            if len(self._targets) >= _TARGETS:
                self._targets.clear()
            self._targets[url] = target
        head = _head(method, target, headers, len(body))
        try:
            async with asyncio.timeout(self._timeout):
                connection = self._take(target.origin)
                if connection is None:
                    connection = await self._connect(target.origin)
                return await self._exchange(connection, head, body, method == "HEAD")
        except TimeoutError:
            raise TransportFailure("TimeoutError", "no answer in time") from None
        except OSError as exc:  # refused, reset, unreachable, TLS (ssl.SSLError)
            raise TransportFailure(type(exc).__name__, str(exc)) from None

    async def _exchange(
        self, connection: _Connection, head: bytes, body: bytes, no_body: bool
    ) -> Response:
        finished = False
        try:
            response, keep = await connection.send(head, body, no_body)
            finished = True
        finally:
            connection.done()
            if not finished:
                connection.abort()  # cut short: never reused
        if keep and not connection.closed and not connection.spoiled and not self._closing:
            connection.idle_since = self._monotonic()
            self._idle.setdefault(connection.origin, []).append(connection)
        else:
            connection.close()
        return response

    def _take(self, origin: tuple[str, str, int]) -> _Connection | None:
        """The most recently used idle connection to `origin` that is still good."""
        found = self._idle.get(origin)
        if not found:
            return None
        oldest = self._monotonic() - self._keepalive_s
        while found:
            connection = found.pop()
            if not connection.closed and connection.idle_since >= oldest:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: tuple[str, str, int]) -> _Connection:
        if len(self._open) >= self._max:
            self._evict()
        scheme, host, port = origin
        try:
            addresses = await self._addresses(host, port, self._timeout)
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            raise TransportFailure(type(exc).__name__, str(exc)) from None
        context = None
        if scheme == "https":
            context = self._ssl_context()
        failure: OSError | None = None
        for address in addresses:
            try:
                connection = await self._open_one(origin, str(address), context)
            except OSError as exc:
                failure = exc
                continue
            self.opened += 1
            if not connection.closed:  # (else `send` says so at once)
                self._open.add(connection)
            return connection
        assert failure is not None  # addresses() never returns an empty list
        raise failure

    async def _open_one(
        self, origin: tuple[str, str, int], address: str, context: ssl.SSLContext | None
    ) -> _Connection:
        """A connection to `address`, TLS checked for the URL's host when `context`."""
        _, host, port = origin
        connection = _Connection(self, origin)
        await asyncio.get_running_loop().create_connection(
            lambda: connection, address, port, ssl=context,
            server_hostname=host if context is not None else None,
        )  # fmt: skip
        return connection

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(trust_env=True)
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl

    def _evict(self) -> None:
        """Close the idle connection that has waited longest (any origin)."""
        oldest: _Connection | None = None
        for found in self._idle.values():
            if found and (oldest is None or found[0].idle_since < oldest.idle_since):
                oldest = found[0]
        if oldest is not None:
            self._idle[oldest.origin].remove(oldest)
            oldest.close()

    def _lost(self, connection: _Connection) -> None:
        self._open.discard(connection)
        found = self._idle.get(connection.origin)
        if found and connection in found:
            found.remove(connection)

    async def aclose(self) -> None:
        """Close every connection; requests still running fail."""
        self._closing = True
        for connection in list(self._open):
            connection.abort()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports finish closing


class HttpxClient:
    """The same `request` over an httpx transport: the seam tests use to put an in-process
    app (the fake platforms, a recorder) where the network would be. The transport then
    decides where requests go; production never takes this path."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, timeout: float) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=transport
        )

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> Response:
        try:
            response = await self._client.request(method, url, headers=headers, content=body)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise InvalidRequest(f"invalid URL: {exc}") from None
        except UnicodeEncodeError:
            raise InvalidRequest("invalid request: a header is not ASCII") from None
        except httpx.HTTPError as exc:
            raise TransportFailure(type(exc).__name__, str(exc)) from None
        found = {name.lower(): value for name, value in response.headers.items()}
        found.pop("content-encoding", None)  # httpx decoded the body already
        return Response(response.status_code, found, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()

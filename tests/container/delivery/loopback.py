"""A scripted HTTP/1.1 receiver on 127.0.0.1, in the test's own event loop, that counts
connections: what the sender's pool (container/delivery/pool.py) really does on the wire.

Each request is answered with the next scripted answer (raw bytes, so an answer can be
chunked, cut short or malformed), or `200 ok` when none is left. An answer may instead be
an async function of the request, which returns the bytes, or None to close the
connection without answering; a `Hangup` answers and then closes. With `gate` set,
requests wait for it before they are answered, and the most requests in flight at once is
kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from config.egress import IPAddress

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@dataclass
class Seen:
    connection: int
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Hangup:
    """An answer after which the receiver closes the connection without saying so."""

    raw: bytes


Answer = bytes | Hangup | Callable[[Seen], Awaitable[bytes | None]]


@dataclass
class Loopback:
    answers: list[Answer] = field(default_factory=list)
    gate: asyncio.Event | None = None
    ssl: ssl.SSLContext | None = None
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0  # accepted so far
    open: int = 0  # open now
    closed: int = 0  # closed so far
    in_flight: int = 0
    most: int = 0  # most requests in flight at once
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def base(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Loopback:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        number = self.connections
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, *fields = head.decode("latin-1").split("\r\n")[:-2]
                method, target, _ = line.split(" ")
                headers = {}
                for item in fields:
                    name, _, value = item.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                seen = Seen(number, method, target, headers, body)
                self.requests.append(seen)
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
                try:
                    if self.gate is not None:
                        await self.gate.wait()
                    answer = self.answers.pop(0) if self.answers else OK
                    if callable(answer):
                        answer = await answer(seen)
                finally:
                    self.in_flight -= 1
                if answer is None:
                    return
                if isinstance(answer, Hangup):
                    writer.write(answer.raw)
                    await writer.drain()
                    return
                writer.write(answer)
                await writer.drain()
                if b"\r\nconnection: close\r\n" in answer.lower():
                    return
        finally:
            self.open -= 1
            self.closed += 1
            writer.close()


class StubResolver:
    """Answers from a table and counts lookups; a name not in it does not resolve."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError("name not known")
        return [ipaddress.ip_address(a) for a in self.table[host]]


async def until(check: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until `check()` holds; fail after `within` seconds (a hang guard, not a bound
    on how fast anything must be)."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


def answer(status: int = 200, body: bytes = b"ok", *headers: str) -> bytes:
    """A complete answer with a content-length."""
    extra = "".join(f"{h}\r\n" for h in headers)
    return (f"HTTP/1.1 {status} X\r\n{extra}content-length: {len(body)}\r\n\r\n".encode()
            + body)  # fmt: skip

"""Limits on the request head, against a real uvicorn server (uvloop + the limited
httptools protocol) on 127.0.0.1, spoken to over raw sockets."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagwire.http_limits import HeadLimits, limited_httptools
from tests.helpers import answer_lifespan, free_port, read_body, tagwire_process

EXAMPLE_CONTAINER = Path(__file__).parents[2] / "examples" / "container.json"

LIMITS = HeadLimits(max_url_bytes=1024, max_headers=16, max_header_bytes=4096)
HANG_GUARD_S = 10  # a socket timeout against a hung test, not a measurement


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers what it saw: the target's length, the header count, the body's length."""
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    body = await read_body(receive)
    target = scope["raw_path"] + (b"?" + scope["query_string"] if scope["query_string"] else b"")
    payload = json.dumps(
        {"target": len(target), "headers": len(scope["headers"]), "body": len(body)}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


@contextlib.contextmanager
def limited_server(limits: HeadLimits) -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        echo,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http=limited_httptools(limits),
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(HANG_GUARD_S)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with limited_server(LIMITS) as port:
        yield port


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Reader:
    """Reads HTTP/1.1 responses with a content-length off one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a response: {self.buffer!r}")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("closed inside a body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body

    def closed(self) -> bool:
        """True when the server closed the connection after what was read."""
        try:
            return not self.buffer and not self._fill()
        except ConnectionResetError:
            return True


def request(
    target: str = "/", headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{'POST' if body else 'GET'} {target} HTTP/1.1", "host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    if body:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    with connect(port) as sock:
        sock.sendall(raw)
        reader = Reader(sock)
        status, headers, body = reader.response()
        return status, headers, body, reader.closed()


def refusal(body: bytes) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(body)["errors"][0]
    return error


def test_requests_within_the_limits_pass(port: int) -> None:
    raw = request("/p?" + "q" * 900, [(f"x-h{i}", "v" * 200) for i in range(14)], b"b" * 5000)
    status, _, body, _ = exchange(port, raw)
    assert status == 200
    assert json.loads(body) == {"target": 903, "headers": 16, "body": 5000}


def test_an_overlong_url_is_answered_414_and_the_connection_closed(port: int) -> None:
    status, headers, body, closed = exchange(port, request("/" + "u" * 1024))
    assert status == 414
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert refusal(body) == {
        "field": "url",
        "reason": "the request target is longer than 1024 bytes",
        "limit": 1024,
    }
    assert closed


def test_too_many_header_fields_are_answered_431(port: int) -> None:
    status, _, body, closed = exchange(port, request("/", [(f"x-{i}", "1") for i in range(16)]))
    assert status == 431  # 16 plus host
    assert refusal(body) == {
        "field": "headers",
        "reason": "more than 16 header fields",
        "limit": 16,
    }
    assert closed


def test_too_many_header_bytes_are_answered_431(port: int) -> None:
    status, _, body, closed = exchange(port, request("/", [("cookie", "c" * 4096)]))
    assert status == 431
    assert refusal(body)["reason"] == "the header fields are larger than 4096 bytes in all"
    assert closed


def test_an_endless_header_is_refused_before_it_ends(port: int) -> None:
    """Sent in pieces and never finished: the 431 comes while the line is still open, so
    the server never waited to hold the whole header."""
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\ncookie: ")
        for _ in range(LIMITS.max_head_bytes // 512 + 4):
            sock.sendall(b"c" * 512)
            time.sleep(0.001)  # separate reads on the server, mostly
        reader = Reader(sock)
        status, _, body = reader.response()
        assert status == 431
        assert refusal(body)["limit"] == LIMITS.max_head_bytes
        assert reader.closed()


def test_a_64_mib_header_is_never_read_whole(port: int) -> None:
    """The server stops reading at the limit and closes: the sender's writes fail long
    before 64 MiB is through (the kernel buffers only a few MiB of a closed socket)."""
    piece = b"c" * 65536
    sent = 0
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 64 * 1024 * 1024:
                sock.sendall(piece)
                sent += len(piece)
    assert sent < 64 * 1024 * 1024


def test_one_byte_at_a_time(port: int) -> None:
    """A head dribbled in one byte per read is counted across the reads."""
    with connect(port) as sock:
        for byte in request("/", [("x-a", "a" * 3000), ("x-b", "b" * 1200)]):
            sock.sendall(bytes([byte]))
        status, _, body = Reader(sock).response()
    assert status == 431
    assert refusal(body)["limit"] == 4096


def test_keep_alive_requests_are_counted_each_on_its_own(port: int) -> None:
    with connect(port) as sock:
        reader = Reader(sock)
        for _ in range(5):
            sock.sendall(request("/", [("cookie", "c" * 3000)], b"x" * 70000))
            assert reader.response()[0] == 200
        sock.sendall(request("/", [("cookie", "c" * 5000)]))
        assert reader.response()[0] == 431
        assert reader.closed()


def test_pipelined_requests_with_large_bodies_pass(port: int) -> None:
    """Bodies in the same reads as the next head are not counted as head bytes."""
    raw = b"".join(request("/", [("x-n", str(i))], b"b" * 100_000) for i in range(4))
    with connect(port) as sock:
        sock.sendall(raw)
        reader = Reader(sock)
        for _ in range(4):
            status, _, body = reader.response()
            assert status == 200
            assert json.loads(body)["body"] == 100_000


def test_a_pipelined_oversized_head_after_a_good_request(port: int) -> None:
    """The earlier request is answered; the oversized one gets its 431 or, when the earlier
    answer is still being written, a closed connection."""
    with connect(port) as sock:
        sock.sendall(request("/first") + request("/", [("cookie", "c" * 5000)]))
        reader = Reader(sock)
        assert reader.response()[0] == 200
        try:
            status = reader.response()[0]
        except ConnectionError:
            status = None
        assert status in (431, None)
        assert reader.closed()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    url=st.integers(LIMITS.max_url_bytes - 3, LIMITS.max_url_bytes + 3),
    count=st.integers(LIMITS.max_headers - 2, LIMITS.max_headers + 2),
    spare=st.integers(-3, 3),
    split=st.integers(1, 4096),
)
def test_sizes_around_the_limits(port: int, url: int, count: int, spare: int, split: int) -> None:
    """Exactly at a limit passes, one over is refused, wherever the reads break."""
    headers = [("host", "127.0.0.1")] + [(f"x-{i:02}", "") for i in range(count - 1)]
    used = sum(len(n) + len(v) for n, v in headers)
    fill = max(0, LIMITS.max_header_bytes - used + spare)
    headers[-1] = (headers[-1][0], "v" * fill) if count > 1 else headers[-1]
    total = sum(len(n) + len(v) for n, v in headers)
    lines = [f"GET /{'u' * (url - 1)} HTTP/1.1", *(f"{n}: {v}" for n, v in headers)]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with connect(port) as sock:
        sock.sendall(raw[:split])
        time.sleep(0.001)
        sock.sendall(raw[split:])
        status, _, body = Reader(sock).response()
    if url > LIMITS.max_url_bytes:
        assert status == 414
    elif count > LIMITS.max_headers or total > LIMITS.max_header_bytes:
        assert status == 431, (count, total)
    else:
        assert status == 200, refusal(body) if status != 200 else None
        assert json.loads(body)["headers"] == count


def test_tagwire_serve_applies_the_settings(tmp_path: Any) -> None:
    """The real node: its settings bind the protocol; a large cookie and referrer pass
    under the defaults of the other limits."""
    env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data"), "TAGWIRE_MAX_HEADERS": "20"}
    with tagwire_process("--container", str(EXAMPLE_CONTAINER), env=env) as base:
        node = int(base.rsplit(":", 1)[1])
        big = [("cookie", "c" * 12000), ("referer", "https://www.example.com/" + "r" * 4000)]
        assert exchange(node, request("/healthz", big))[0] == 200
        many = [(f"x-{i}", "1") for i in range(20)]
        status, _, body, closed = exchange(node, request("/healthz", many))
        assert status == 431
        assert refusal(body)["limit"] == 20
        assert closed

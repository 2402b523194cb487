"""The sender's keep-alive pool (container/delivery/pool.py) against real loopback
receivers: reuse, the egress check per new connection, answers framed every way, limits,
timeouts, cancellation and TLS."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ssl
import zlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from config.egress import EgressPolicy
from container.delivery import pool as pool_module
from container.delivery.egress import EgressRefused, GuardedNetwork
from container.delivery.pool import InvalidRequest, Pool, TransportFailure
from tests.container.delivery.loopback import (
    Hangup,
    Loopback,
    Seen,
    StubResolver,
    answer,
    until,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[False, True], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    """Both loops: the node serves (and sends) on uvloop, the benchmarks on asyncio's own."""
    return "asyncio", {"use_uvloop": request.param}


LOOPBACK = EgressPolicy.parse("127.0.0.1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pool(
    policy: EgressPolicy = LOOPBACK,
    resolver: StubResolver | None = None,
    *,
    timeout: float = 5.0,
    max_connections: int = 4,
    **options,
) -> Pool:
    guard = GuardedNetwork(policy, resolver or StubResolver({"hooks.test": ["127.0.0.1"]}))
    return Pool(guard.addresses, timeout=timeout, max_connections=max_connections, **options)


async def post(pool: Pool, url: str, body: bytes = b"{}", **headers: str):
    return await pool.request("POST", url, {"content-type": "application/json", **headers}, body)


# ---- keep-alive -------------------------------------------------------------------------


async def test_requests_reuse_one_kept_alive_connection() -> None:
    resolver = StubResolver({"hooks.test": ["127.0.0.1"]})
    pool = make_pool(resolver=resolver)
    async with Loopback() as server:
        url = f"http://hooks.test:{server.port}/in?x=1"
        for i in range(5):
            response = await post(pool, url, b'{"n":%d}' % i, **{"x-api-key": "k1"})
            assert (response.status, response.text) == (200, "ok")
        await pool.aclose()
    assert (server.connections, pool.opened) == (1, 1)
    assert resolver.lookups == ["hooks.test"]  # checked once, for the one connection
    first = server.requests[0]
    assert (first.method, first.target, first.body) == ("POST", "/in?x=1", b'{"n":0}')
    assert first.headers["host"] == f"hooks.test:{server.port}"
    assert first.headers["content-length"] == "7"
    assert first.headers["x-api-key"] == "k1"
    assert first.headers["user-agent"].startswith("tagwire")


async def test_an_idle_connection_past_its_time_is_replaced_and_checked_again() -> None:
    clock = Clock()
    resolver = StubResolver({"hooks.test": ["127.0.0.1"]})
    pool = make_pool(resolver=resolver, keepalive_s=4.0, monotonic=clock)
    async with Loopback() as server:
        url = f"http://hooks.test:{server.port}/in"
        await post(pool, url)
        clock.now += 3.9
        await post(pool, url)  # still fresh: reused
        clock.now += 4.1
        await post(pool, url)  # idle too long: a new connection, looked up and checked again
        await pool.aclose()
    assert (server.connections, pool.opened) == (2, 2)
    assert resolver.lookups == ["hooks.test", "hooks.test"]


async def test_a_connection_the_receiver_closes_is_not_reused() -> None:
    pool = make_pool()
    async with Loopback([answer(200, b"ok", "connection: close")]) as server:
        await post(pool, f"{server.base}/a")  # said it closes
        await post(pool, f"{server.base}/b")
        assert server.connections == 2
        server.answers = [Hangup(answer())]  # closes without saying so
        await post(pool, f"{server.base}/c")
        await until(lambda: pool.idle() == 0)  # noticed while idle: dropped
        assert (await post(pool, f"{server.base}/d")).status == 200
        await pool.aclose()
    assert server.connections == pool.opened == 3


async def test_the_pool_holds_at_most_max_connections() -> None:
    pool = make_pool(max_connections=1)
    async with Loopback() as first, Loopback() as second:
        await post(pool, f"{first.base}/")
        assert pool.connections == 1
        await post(pool, f"{second.base}/")  # the idle one to `first` makes room
        await until(lambda: first.open == 0)
        assert (pool.connections, first.closed, second.open) == (1, 1, 1)
        await pool.aclose()


# ---- the egress check -------------------------------------------------------------------


async def test_a_refused_target_fails_before_any_connection() -> None:
    resolver = StubResolver({"intranet.test": ["10.0.0.5"], "hooks.test": ["127.0.0.1"]})
    pool = make_pool(EgressPolicy(), resolver)
    async with Loopback() as server:
        with pytest.raises(EgressRefused, match=r"127\.0\.0\.1 is a loopback address"):
            await post(pool, f"{server.base}/")
        with pytest.raises(EgressRefused, match=r"hooks\.test resolves to 127\.0\.0\.1"):
            await post(pool, f"http://hooks.test:{server.port}/")
        with pytest.raises(EgressRefused, match=r"10\.0\.0\.5, a private address"):
            await post(pool, "http://intranet.test/")
        await pool.aclose()
    assert server.connections == 0
    assert (pool.opened, pool.connections) == (0, 0)


async def test_a_kept_alive_connection_serves_only_the_origin_it_was_checked_for() -> None:
    resolver = StubResolver({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    pool = make_pool(EgressPolicy.parse("a.test,b.test"), resolver)
    async with Loopback() as server:
        await post(pool, f"http://a.test:{server.port}/")
        await post(pool, f"http://b.test:{server.port}/")
        await post(pool, f"http://a.test:{server.port}/")
        await pool.aclose()
    assert resolver.lookups == ["a.test", "b.test"]
    assert server.connections == 2
    assert [r.headers["host"].split(":")[0] for r in server.requests] == [
        "a.test", "b.test", "a.test"]  # fmt: skip


async def test_a_redirect_is_the_answer_and_its_target_is_never_reached() -> None:
    pool = make_pool()
    async with Loopback() as elsewhere:
        moved = answer(302, b"moved", f"location: {elsewhere.base}/x")
        async with Loopback([moved]) as server:
            response = await post(pool, f"{server.base}/")
        await pool.aclose()
    assert (response.status, response.text, response.headers["location"]) == (
        302, "moved", f"{elsewhere.base}/x")  # fmt: skip
    assert elsewhere.connections == 0


async def test_the_next_checked_address_is_tried_when_one_refuses() -> None:
    async with Loopback() as server:
        resolver = StubResolver({"hooks.test": ["127.0.0.2", "127.0.0.1"]})
        pool = make_pool(EgressPolicy.parse("127.0.0.0/8"), resolver)
        # the receiver listens on 127.0.0.1 only: 127.0.0.2 refuses, then the next one
        response = await post(pool, f"http://hooks.test:{server.port}/")
        await pool.aclose()
    assert response.status == 200
    assert server.connections == 1


# ---- answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text", "reused"),
    [
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
         "abcde", True),
        (b"HTTP/1.1 204 No Content\r\n\r\n", "", True),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 1\r\n\r\nx",
         "x", True),
        (b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s"
         % (len(gzip.compress(b"zipped")), gzip.compress(b"zipped")), "zipped", True),
        (b"HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ncontent-length: %d\r\n\r\n%s"
         % (len(zlib.compress(b"deflated")), zlib.compress(b"deflated")), "deflated", True),
        (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=iso-8859-1\r\n"
         b"content-length: 4\r\n\r\ncaf\xe9", "caf\xe9", True),
        (b"HTTP/1.1 400 Bad\r\ncontent-length: 2\r\n\r\n\xff\xfe", "\ufffd\ufffd", True),
        (b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", "ok", False),
    ],
)  # fmt: skip
async def test_answers_framed_every_way(raw: bytes, text: str, reused: bool) -> None:
    pool = make_pool()
    async with Loopback([raw]) as server:
        response = await post(pool, f"{server.base}/")
        assert response.text == text
        await post(pool, f"{server.base}/")
        await pool.aclose()
    assert server.connections == (1 if reused else 2)


async def test_an_answer_that_ends_with_the_connection() -> None:
    async def until_close(seen: Seen) -> bytes:
        return b"HTTP/1.1 503 Busy\r\nretry-after: 7\r\nconnection: close\r\n\r\nbusy now"

    pool = make_pool()
    async with Loopback([until_close]) as server:
        response = await post(pool, f"{server.base}/")
        await pool.aclose()
    assert (response.status, response.text, response.headers["retry-after"]) == (
        503, "busy now", "7")  # fmt: skip


async def test_a_large_answer_is_cut_and_the_connection_stays_usable(monkeypatch) -> None:
    monkeypatch.setattr(pool_module, "BODY_LIMIT", 1000)
    pool = make_pool()
    async with Loopback([answer(400, b"x" * 50_000)]) as server:
        response = await post(pool, f"{server.base}/")
        assert (response.status, len(response.body)) == (400, 1000)
        await post(pool, f"{server.base}/")
        await pool.aclose()
    assert server.connections == 1


async def test_an_endless_head_is_a_transport_failure() -> None:
    endless = b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 200_000
    pool = make_pool()
    async with Loopback([endless]) as server:
        with pytest.raises(TransportFailure) as info:
            await post(pool, f"{server.base}/")
        await pool.aclose()
    assert info.value.kind == "RemoteProtocolError"
    assert pool.connections == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 4\r\n\r\nnope",
        b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 4\r\n\r\nnope",
    ],
)
async def test_a_broken_answer_is_a_transport_failure(raw: bytes) -> None:
    pool = make_pool()
    async with Loopback([raw]) as server:
        with pytest.raises(TransportFailure):
            await post(pool, f"{server.base}/")
        await pool.aclose()
    assert server.requests


async def test_bytes_after_the_answer_spoil_the_connection() -> None:
    pool = make_pool()
    async with Loopback([answer() + b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"]) as server:
        assert (await post(pool, f"{server.base}/")).status == 200
        await post(pool, f"{server.base}/")
        await pool.aclose()
    assert server.connections == 2


async def test_a_hang_up_before_the_answer_is_a_transport_failure() -> None:
    async def hang_up(seen: Seen) -> None:
        return None

    pool = make_pool()
    async with Loopback([hang_up]) as server:
        with pytest.raises(TransportFailure):
            await post(pool, f"{server.base}/")
        assert (await post(pool, f"{server.base}/")).status == 200
        await pool.aclose()


# ---- requests that are never sent -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("x-a", "1\r\nx-evil: 2"), ("x-a", "1\nx"), ("x-a", "a\x00b"), ("bad name", "1"),
     ("x-a:", "1")],
)  # fmt: skip
async def test_a_header_that_would_break_the_request_is_never_written(
    name: str, value: str
) -> None:
    pool = make_pool()
    async with Loopback() as server:
        with pytest.raises(InvalidRequest, match="invalid request: header"):
            await pool.request("POST", f"{server.base}/", {name: value}, b"{}")
        await pool.aclose()
    assert server.connections == 0


@pytest.mark.parametrize(
    ("url", "why"),
    [("ftp://hooks.test/in", "unsupported protocol 'ftp://'"), ("hooks.test/in", "missing"),
     ("http://[::1/x", "invalid URL")],
)  # fmt: skip
async def test_an_invalid_url_is_never_sent(url: str, why: str) -> None:
    pool = make_pool()
    with pytest.raises(InvalidRequest, match=r"^invalid URL: ") as info:
        await post(pool, url)
    assert why in info.value.reason
    await pool.aclose()


async def test_stored_framing_headers_are_replaced_by_the_request_s_own() -> None:
    pool = make_pool()
    async with Loopback() as server:
        stored = {"Content-Length": "99", "transfer-encoding": "chunked", "connection": "close",
                  "host": "other.test"}  # fmt: skip
        await pool.request("POST", f"{server.base}/", stored, b"abc")
        await pool.aclose()
    seen = server.requests[0]
    assert (seen.headers["content-length"], seen.body) == ("3", b"abc")
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"  # the checked URL's host
    assert "transfer-encoding" not in seen.headers
    assert "connection" not in seen.headers


async def test_user_info_in_the_url_becomes_basic_auth_unless_the_row_has_its_own() -> None:
    pool = make_pool()
    async with Loopback() as server:
        url = f"http://us%40er:p%3Ass@127.0.0.1:{server.port}/"
        await pool.request("POST", url, {}, b"")
        await pool.request("POST", url, {"Authorization": "Bearer t"}, b"")
        await pool.aclose()
    assert server.requests[0].headers["authorization"] == "Basic dXNAZXI6cDpzcw=="  # us@er:p:ss
    assert server.requests[1].headers["authorization"] == "Bearer t"
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"


# ---- time and cancellation --------------------------------------------------------------


async def test_a_silent_receiver_times_out_and_its_connection_is_closed() -> None:
    done = asyncio.Event()

    async def silent(seen: Seen) -> None:
        await done.wait()  # no answer while the request waits
        return None

    pool = make_pool(timeout=0.2)
    async with Loopback([silent]) as server:
        with pytest.raises(TransportFailure) as info:
            await post(pool, f"{server.base}/")
        assert info.value.kind == "TimeoutError"
        assert pool.connections == 0
        assert (await post(pool, f"{server.base}/")).status == 200
        done.set()
        await pool.aclose()
    assert server.connections == 2


async def test_a_cancelled_request_closes_its_connection() -> None:
    gate = asyncio.Event()
    pool = make_pool()
    async with Loopback(gate=gate) as server:
        task = asyncio.ensure_future(post(pool, f"{server.base}/"))
        await until(lambda: server.in_flight == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.connections == 0
        gate.set()
        assert (await post(pool, f"{server.base}/")).status == 200
        await pool.aclose()
    assert server.connections == 2


# ---- TLS --------------------------------------------------------------------------------


def certificates(folder: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A CA, a certificate for `name` signed by it; the server's and the client's contexts."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(key, hashes.SHA256()))  # fmt: skip
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))  # fmt: skip
    pem = serialization.Encoding.PEM
    (folder / "leaf.pem").write_bytes(
        leaf.public_bytes(pem)
        + leaf_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "leaf.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(pem).decode())
    client.set_alpn_protocols(["http/1.1"])
    return server, client


async def test_tls_checks_the_certificate_for_the_name_not_the_address(tmp_path) -> None:
    server_ssl, client_ssl = certificates(tmp_path, "hooks.test")
    resolver = StubResolver({"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    policy = EgressPolicy.parse("127.0.0.1")
    pool = make_pool(policy, resolver, ssl_context=client_ssl)
    async with Loopback(ssl=server_ssl) as server:
        for _ in range(3):
            response = await post(pool, f"https://hooks.test:{server.port}/in")
            assert (response.status, response.text) == (200, "ok")
        assert server.connections == 1  # TLS once, then kept alive
        with pytest.raises(TransportFailure) as info:
            await post(pool, f"https://other.test:{server.port}/in")
        assert "Certificate" in info.value.kind or "SSL" in info.value.kind
        with pytest.raises(TransportFailure):  # the address is not the name either
            await post(pool, f"https://127.0.0.1:{server.port}/in")
        await pool.aclose()
    assert [r.headers["host"] for r in server.requests] == [f"hooks.test:{server.port}"] * 3


async def test_an_ipv6_loopback_literal_is_reached() -> None:
    try:
        server = await asyncio.start_server(lambda r, w: None, "::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    server.close()
    pool = make_pool(EgressPolicy.parse("::1"))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(answer())
        await writer.drain()
        writer.close()

    six = await asyncio.start_server(handle, "::1", 0)
    port = six.sockets[0].getsockname()[1]
    try:
        response = await post(pool, f"http://[::1]:{port}/")
    finally:
        six.close()
        await pool.aclose()
    assert response.status == 200

"""The egress policy at the connect seam (container/delivery/egress.py) and in the sender.

Every private, metadata or public target here is reached only through a stub resolver and
a network backend that records connection attempts and never opens a socket: a refused
host must fail before `connect_tcp` is called. The only real connections go to loopback
servers this test starts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
import orjson
import pytest

from config.egress import EgressPolicy
from config.storage import OutboxFilter
from container.delivery.egress import EgressRefused, EgressTransport, GuardedNetwork
from container.delivery.sender import Sender
from tests.container.delivery.loopback import StubResolver
from tests.container.delivery.support import ManualClock, row, settled
from tests.fake_platforms.payloads import NOW_MS
from tests.helpers import Recorder, serve_in_thread

pytestmark = pytest.mark.anyio

POOL = httpx.Limits(max_connections=4, max_keepalive_connections=4)




class TlsRecorder(httpcore.AsyncMockStream):
    def __init__(self, buffer: list[bytes], tls: list[str | None]) -> None:
        super().__init__(buffer)
        self.seen = tls

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:  # fmt: skip
        self.seen.append(server_hostname)
        return self


class RecordingNetwork(httpcore.AsyncNetworkBackend):
    """Records each connection attempt and answers it with a canned HTTP response from
    memory: no socket is ever opened."""

    def __init__(self, answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") -> None:
        self.connects: list[tuple[str, int]] = []
        self.tls: list[str | None] = []  # the names TLS was started for
        self.answer = answer

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # fmt: skip
        self.connects.append((host, port))
        return TlsRecorder([self.answer], self.tls)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> Any:  # fmt: skip
        raise AssertionError("no unix sockets")

    async def sleep(self, seconds: float) -> None:
        return None


def client(
    policy: EgressPolicy, resolver: StubResolver, network: RecordingNetwork
) -> httpx.AsyncClient:
    transport = EgressTransport(policy, limits=POOL, resolver=resolver, network=network)
    return httpx.AsyncClient(transport=transport, follow_redirects=False)  # fmt: skip


RESOLVED = {
    "intranet.example": ["10.0.0.5"],
    "router.example": ["192.168.1.1"],
    "cgnat.example": ["100.64.0.9"],
    "ula.example": ["fd00::1"],
    "linklocal.example": ["fe80::1"],
    "imds.example": ["169.254.169.254"],
    "imds6.example": ["fd00:ec2::254"],
    "mapped.example": ["::ffff:10.0.0.5"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "localhost": ["127.0.0.1", "::1"],
    "myhost": ["127.0.1.1"],  # a hosts-file name
    "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "empty.example": [],
}

REFUSED = [
    ("http://intranet.example/hook", "intranet.example resolves to 10.0.0.5, a private address"),
    ("https://router.example/", "router.example resolves to 192.168.1.1, a private address"),
    ("http://cgnat.example/", "cgnat.example resolves to 100.64.0.9, a shared (CGNAT) address"),
    ("http://ula.example/", "ula.example resolves to fd00::1, a unique-local address"),
    ("http://linklocal.example/", "linklocal.example resolves to fe80::1, a link-local address"),
    ("http://imds.example/", "imds.example resolves to 169.254.169.254, a cloud metadata address"),
    ("http://imds6.example/", "imds6.example resolves to fd00:ec2::254, a cloud metadata address"),
    ("http://mapped.example/", "mapped.example resolves to ::ffff:a00:5, an IPv4-mapped form "
                               "of 10.0.0.5, a private address"),
    ("http://nat64.example/", "nat64.example resolves to 64:ff9b::a9fe:a9fe, a NAT64 form of "
                              "169.254.169.254, a cloud metadata address"),
    ("http://rebind.example/", "rebind.example resolves to 127.0.0.1, a loopback address"),
    ("http://localhost:8000/", "localhost resolves to 127.0.0.1, a loopback address"),
    ("http://myhost/", "myhost resolves to 127.0.1.1, a loopback address"),
    ("http://metadata.google.internal/computeMetadata/v1/",
     "metadata.google.internal is a cloud metadata host name"),
    ("http://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
    ("http://[::1]:8000/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is ::ffff:7f00:1, an IPv4-mapped form of "
                                   "127.0.0.1, a loopback address"),
    ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address"),
    ("http://10.1.2.3/", "10.1.2.3 is a private address"),
    ("http://192.168.0.10/", "192.168.0.10 is a private address"),
    ("http://[fd00::1]/", "fd00::1 is a unique-local address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
    ("http://2130706433/", "2130706433 is 127.0.0.1, a loopback address"),
    ("http://0x7f000001/", "0x7f000001 is 127.0.0.1, a loopback address"),
    ("http://0177.0.1/", "0177.0.1 is 127.0.0.1, a loopback address"),
    ("http://0x7f.0.0.1/", "0x7f.0.0.1 is 127.0.0.1, a loopback address"),
    ("http://127.1/", "127.1 is 127.0.0.1, a loopback address"),
    ("http://0xa9fea9fe/", "0xa9fea9fe is 169.254.169.254, a cloud metadata address"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_a_refused_target_fails_before_any_connection(url: str, reason: str) -> None:
    resolver, network = StubResolver(RESOLVED), RecordingNetwork()
    async with client(EgressPolicy(), resolver, network) as http:
        with pytest.raises(EgressRefused) as info:
            await http.post(url, content=b"{}")
    assert info.value.reason == f"egress refused: {reason} (allow it with TAGWIRE_EGRESS_ALLOW)"
    assert network.connects == []
    assert len(resolver.lookups) <= 1  # a literal or a metadata name is never looked up
    if "metadata.google" in url or "//[" in url or url.split("/")[2][0].isdigit():
        assert resolver.lookups == []


async def test_a_number_that_is_no_address_is_refused_without_a_lookup() -> None:
    resolver, network = StubResolver(RESOLVED), RecordingNetwork()
    async with client(EgressPolicy(), resolver, network) as http:
        for url in ("http://1.2.3.4.5/", "http://08.1/", "http://256.1/", "http://a.0x10/"):
            with pytest.raises(EgressRefused, match="reads as a number but is no IP address"):
                await http.get(url)
        # a.b.c.d with a part httpx cannot read is an invalid URL (dead, never sent)
        for url in ("http://0177.0.0.1/", "http://256.0.0.1/", "http://1.2.3.999/"):
            with pytest.raises(httpx.InvalidURL):
                await http.get(url)
    assert network.connects == []
    assert resolver.lookups == []


async def test_a_public_target_is_connected_by_the_checked_address() -> None:
    """One lookup, then the connection goes to the address that was checked, never to the
    name again: no second lookup can answer differently."""
    resolver, network = StubResolver(RESOLVED), RecordingNetwork()
    async with client(EgressPolicy(), resolver, network) as http:
        response = await http.post("http://public.example/in", content=b"{}")
    assert (response.status_code, response.text) == (200, "ok")
    assert resolver.lookups == ["public.example"]
    assert network.connects == [("93.184.216.34", 80)]


async def test_tls_checks_the_certificate_for_the_name_not_the_address() -> None:
    resolver, network = StubResolver(RESOLVED), RecordingNetwork()
    async with client(EgressPolicy(), resolver, network) as http:
        assert (await http.get("https://public.example/")).status_code == 200
    assert network.connects == [("93.184.216.34", 443)]
    assert network.tls == ["public.example"]


async def test_the_next_address_is_tried_when_one_fails() -> None:
    class FirstFails(RecordingNetwork):
        async def connect_tcp(self, host: str, port: int, *args: Any) -> Any:
            if not self.connects:
                self.connects.append((host, port))
                raise httpcore.ConnectError("refused")
            return await super().connect_tcp(host, port, *args)

    resolver, network = StubResolver(RESOLVED), FirstFails()
    async with client(EgressPolicy(), resolver, network) as http:
        assert (await http.get("https://public.example/")).status_code == 200
    assert [host for host, _ in network.connects] == [
        "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "url", "connected"),
    [
        ("10.0.0.0/8", "http://intranet.example/", "10.0.0.5"),
        ("intranet.example", "http://intranet.example/", "10.0.0.5"),
        ("*.example", "http://intranet.example/", "10.0.0.5"),
        ("127.0.0.1", "http://2130706433:8000/", "127.0.0.1"),
        ("127.0.0.1", "http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("169.254.169.254", "http://169.254.169.254/", "169.254.169.254"),
        ("metadata.google.internal", "http://metadata.google.internal/", "169.254.169.254"),
    ],
)
async def test_the_operator_allows_named_hosts_and_ranges(
    setting: str, url: str, connected: str
) -> None:
    resolver = StubResolver({**RESOLVED, "metadata.google.internal": ["169.254.169.254"]})
    network = RecordingNetwork()
    async with client(EgressPolicy.parse(setting), resolver, network) as http:
        assert (await http.get(url)).status_code == 200
    assert [host for host, _ in network.connects] == [connected]


async def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    resolver, network = StubResolver(RESOLVED), RecordingNetwork()
    async with client(EgressPolicy(), resolver, network) as http:
        for url in ("http://nowhere.example/", "http://empty.example/"):
            with pytest.raises(httpx.ConnectError, match="did not resolve"):
                await http.get(url)
    assert network.connects == []


async def test_the_guard_refuses_unix_sockets() -> None:
    guard = GuardedNetwork(EgressPolicy(), StubResolver({}), RecordingNetwork())
    with pytest.raises(EgressRefused):
        await guard.connect_unix_socket("/run/docker.sock")


# ---- in the sender ----------------------------------------------------------------------


def hook_row(key: str, url: str) -> Any:
    return row((url, {"content-type": "application/json"}, {"event": key}),
               tag=f"hook-{key}", event_id=key, platform="webhook")  # fmt: skip


async def outcomes(store) -> dict[str, tuple[str, int | None, str]]:
    entries = await store.history(OutboxFilter(), 100, 0)
    return {e.tag_id: (e.outcome, e.status, e.response) for e in entries}


async def run(sender: Sender, store) -> dict[str, int]:
    sender.start()
    try:
        return await settled(store)
    finally:
        await sender.stop(5)


async def test_the_sender_dead_letters_a_refused_row_with_the_reason(store) -> None:
    resolver, network = StubResolver(RESOLVED), RecordingNetwork()
    await store.enqueue([hook_row("a", "http://intranet.example/hook"),
                         hook_row("b", "http://169.254.169.254/latest/meta-data/"),
                         hook_row("c", "http://public.example/in")], NOW_MS)  # fmt: skip
    transport = EgressTransport(EgressPolicy(), limits=POOL, resolver=resolver, network=network)
    sender = Sender(store, concurrency=2, timeout=5, max_attempts=5, batch_flush_ms=0,
                    clock=ManualClock().clock, transport=transport)  # fmt: skip
    assert await run(sender, store) == {"dead": 2, "sent": 1}
    found = await outcomes(store)
    assert found["hook-a"] == ("dead", None, "egress refused: intranet.example resolves to "
                               "10.0.0.5, a private address (allow it with TAGWIRE_EGRESS_ALLOW)")
    assert found["hook-b"] == ("dead", None, "egress refused: 169.254.169.254 is a cloud "
                               "metadata address (allow it with TAGWIRE_EGRESS_ALLOW)")
    assert found["hook-c"] == ("sent", 200, "ok")
    assert network.connects == [("93.184.216.34", 80)]  # fmt: skip


async def test_a_redirect_is_not_followed(store) -> None:
    """The sender does not follow redirects: a 3xx is the answer, and the place it points
    to is never connected to (even were it allowed, each hop would pass the guard)."""
    resolver = StubResolver(RESOLVED)
    network = RecordingNetwork(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/"
                               b"\r\nContent-Length: 5\r\n\r\nmoved")  # fmt: skip
    await store.enqueue([hook_row("a", "http://public.example/in")], NOW_MS)
    transport = EgressTransport(EgressPolicy(), limits=POOL, resolver=resolver, network=network)
    sender = Sender(store, concurrency=1, timeout=5, max_attempts=5, batch_flush_ms=0,
                    clock=ManualClock().clock, transport=transport)  # fmt: skip
    assert await run(sender, store) == {"dead": 1}
    assert (await outcomes(store))["hook-a"] == ("dead", 302, "moved")
    assert network.connects == [("93.184.216.34", 80)]
    assert resolver.lookups == ["public.example"]


async def test_a_stored_answer_is_capped(store) -> None:
    body = b"x" * 100_000
    network = RecordingNetwork(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s"
                               % (len(body), body))  # fmt: skip
    await store.enqueue([hook_row("a", "http://public.example/in")], NOW_MS)
    transport = EgressTransport(EgressPolicy(), limits=POOL, resolver=StubResolver(RESOLVED),
                                network=network)  # fmt: skip
    sender = Sender(store, concurrency=1, timeout=5, max_attempts=5, batch_flush_ms=0,
                    clock=ManualClock().clock, transport=transport)  # fmt: skip
    assert await run(sender, store) == {"dead": 1}
    assert (await outcomes(store))["hook-a"] == ("dead", 400, "x" * 500)


async def test_a_loopback_receiver_is_refused_by_default_and_reached_once_allowed(
    store,
) -> None:
    """Real connections, to a loopback server only: the default policy refuses it before
    connecting (the server sees nothing), and `TAGWIRE_EGRESS_ALLOW` opens it."""
    recorder = Recorder()
    with serve_in_thread(recorder) as base:
        port = httpx.URL(base).port
        await store.enqueue([hook_row("a", f"{base}/in"),
                             hook_row("b", f"http://localhost:{port}/in")], NOW_MS)  # fmt: skip
        sender = Sender(store, concurrency=1, timeout=5, max_attempts=5, batch_flush_ms=0,
                        clock=ManualClock().clock)  # fmt: skip
        assert await run(sender, store) == {"dead": 2}
        assert recorder.requests == []
        found = await outcomes(store)
        assert found["hook-a"] == ("dead", None, "egress refused: 127.0.0.1 is a loopback "
                                   "address (allow it with TAGWIRE_EGRESS_ALLOW)")  # fmt: skip
        assert found["hook-b"][2].startswith("egress refused: localhost resolves to ")

        await store.enqueue([hook_row("c", f"{base}/in"),
                             hook_row("d", f"http://localhost:{port}/in")], NOW_MS)  # fmt: skip
        allowed = EgressPolicy.parse("127.0.0.1,localhost")
        sender = Sender(store, concurrency=1, timeout=5, max_attempts=5, batch_flush_ms=0,
                        clock=ManualClock().clock, egress=allowed)  # fmt: skip
        assert await run(sender, store) == {"dead": 2, "sent": 2}
    assert [orjson.loads(r["body"]) for r in recorder.requests] == [{"event": "c"},
                                                                   {"event": "d"}]  # fmt: skip


async def test_a_closed_port_and_a_silent_one_read_the_same(store) -> None:
    """For an allowed target, the stored text tells no open port from a closed one."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts, never answers
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: refused
    try:
        await store.enqueue(
            [hook_row("open", f"http://127.0.0.1:{silent.getsockname()[1]}/"),
             hook_row("closed", f"http://127.0.0.1:{closed.getsockname()[1]}/")], NOW_MS,
        )  # fmt: skip
        sender = Sender(store, concurrency=2, timeout=0.5, max_attempts=5, batch_flush_ms=0,
                        clock=ManualClock().clock,
                        egress=EgressPolicy.parse("127.0.0.1"))  # fmt: skip
        assert await run(sender, store) == {"failed": 2}
    finally:
        silent.close()
        closed.close()
    found = await outcomes(store)
    assert found["hook-open"] == found["hook-closed"]
    assert found["hook-open"] == ("failed", None,
                                  "connection failed: no answer from the destination")  # fmt: skip

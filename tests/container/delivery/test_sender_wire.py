"""The sender on its production path (the keep-alive pool, no test transport) against
loopback receivers: connections reused, the per-destination bound seen on the wire,
transport failures, a filled secret that would break a header, and outcomes written in
groups."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from config.egress import EgressPolicy
from config.storage import Delivery, OutboxFilter
from container.delivery.destination import DestinationLimits
from container.delivery.outcomes import OutcomeWriter
from container.delivery.sender import TRANSPORT_FAILED, Sender
from container.secret_refs import MARK, Escape
from tests.container.delivery.loopback import Loopback, answer, until
from tests.container.delivery.support import ManualClock, row, settled
from tests.fake_platforms.payloads import NOW_MS

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[False, True], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    """Both loops: the node serves (and sends) on uvloop, the benchmarks on asyncio's own."""
    return "asyncio", {"use_uvloop": request.param}


JSON = {"content-type": "application/json"}


def hook_row(key: str, url: str, headers: dict[str, str] = JSON) -> Any:
    return row((url, headers, {"event": key}), tag=f"hook-{key}", event_id=key,
               platform="webhook")  # fmt: skip


def wire_sender(store, concurrency: int = 2, **options) -> Sender:
    options.setdefault("batch_flush_ms", 0)
    options.setdefault("egress", EgressPolicy.parse("127.0.0.1"))
    return Sender(store, concurrency=concurrency, timeout=5, max_attempts=5,
                  clock=ManualClock().clock, **options)  # fmt: skip


async def run(sender: Sender, store) -> dict[str, int]:
    sender.start()
    try:
        return await settled(store)
    finally:
        await sender.stop(5)


async def test_rows_share_kept_alive_connections(store) -> None:
    async with Loopback() as server:
        await store.enqueue([hook_row(f"k{i}", f"{server.base}/in") for i in range(40)], NOW_MS)
        assert await run(wire_sender(store, concurrency=2), store) == {"sent": 40}
    assert len(server.requests) == 40
    assert server.connections <= 2  # never more than the requests in flight
    assert sorted(orjson.loads(r.body)["event"] for r in server.requests) == sorted(
        f"k{i}" for i in range(40)
    )


async def test_the_destination_bound_holds_on_the_wire(store) -> None:
    gate = asyncio.Event()
    async with Loopback(gate=gate) as server:
        destination = f"127.0.0.1:{server.port}"
        await store.enqueue([hook_row(f"k{i}", f"{server.base}/in") for i in range(12)], NOW_MS)
        sender = wire_sender(store, concurrency=8,
                             limits={destination: DestinationLimits(concurrency=3)})  # fmt: skip
        sender.start()
        await until(lambda: server.in_flight == 3)
        for _ in range(20):  # give the other rows every chance to get in
            await asyncio.sleep(0)
        assert (server.in_flight, server.open) == (3, 3)
        gate.set()
        assert await settled(store) == {"sent": 12}
        await sender.stop(5)
    assert server.most == 3
    assert server.connections == 3


async def test_a_receiver_that_hangs_up_is_retried_with_the_one_text(store, caplog) -> None:
    async def hang_up(seen: Any) -> None:
        return None

    async with Loopback([hang_up]) as server:
        await store.enqueue([hook_row("a", f"{server.base}/in")], NOW_MS)
        with caplog.at_level(logging.INFO, logger="tagwire.delivery"):
            assert await run(wire_sender(store), store) == {"failed": 1}
    (entry,) = await store.history(OutboxFilter(), 10, 0)
    assert (entry.status, entry.response) == (None, TRANSPORT_FAILED)
    errors = [r.fields["error"] for r in caplog.records  # type: ignore[attr-defined]
              if r.getMessage() == "delivery transport error"]  # fmt: skip
    assert errors == ["RemoteProtocolError"]


async def test_answers_are_recorded_with_their_status_and_text(store) -> None:
    script = [answer(204, b""), answer(503, b"busy", "retry-after: 60"),
              answer(400, b'{"error":"bad"}'), answer(302, b"moved", "location: /x")]  # fmt: skip
    async with Loopback(script) as server:
        for key in "abcd":
            await store.enqueue([hook_row(key, f"{server.base}/{key}")], NOW_MS)
        sender = wire_sender(store, concurrency=1)
        assert await run(sender, store) == {"sent": 1, "failed": 1, "dead": 2}
    found = {e.tag_id: (e.outcome, e.status, e.response)
             for e in await store.history(OutboxFilter(), 10, 0)}  # fmt: skip
    assert found == {"hook-a": ("sent", 204, ""), "hook-b": ("failed", 503, "busy"),
                     "hook-c": ("dead", 400, '{"error":"bad"}'),
                     "hook-d": ("dead", 302, "moved")}  # fmt: skip
    assert server.connections == 1


class Secret:
    """Fills every reference with `value`."""

    def __init__(self, value: str) -> None:
        self.value = value

    def fill(self, text: str, container_id: str, escape: Escape) -> tuple[str, list]:
        if MARK not in text:
            return text, []
        return text.replace(f"{MARK}api", escape(self.value)), [(self.value, f"{MARK}api")]


@pytest.mark.parametrize("value", ["tok\r\nx-evil: 1", "tok\n", "tok\u20ac", "caf\u00e9"])
async def test_a_filled_secret_that_cannot_go_in_a_header_makes_the_row_dead(
    store, value: str
) -> None:
    """Not retried (it can never be sent), not stranded inflight, and never written: a
    line break would have started a header of the secret's choosing."""
    async with Loopback() as server:
        headers = {**JSON, "authorization": f"Bearer {MARK}api"}
        await store.enqueue([hook_row("a", f"{server.base}/in", headers)], NOW_MS)
        sender = wire_sender(store, secrets=Secret(value))
        assert await run(sender, store) == {"dead": 1}
    assert server.connections == 0  # nothing was written
    (entry,) = await store.history(OutboxFilter(), 10, 0)
    assert entry.response == (
        "invalid request: header 'authorization' holds a line break, a control character or "
        "a character that is not ASCII"
    )


# ---- outcomes in groups -----------------------------------------------------------------


class SlowRecords:
    """A store whose first `record` waits for `release`; every call's outcomes are kept."""

    def __init__(self) -> None:
        self.calls: list[list[Delivery]] = []
        self.release = asyncio.Event()

    async def record(self, deliveries: list[Delivery]) -> None:
        self.calls.append(deliveries)
        if len(self.calls) == 1:
            await self.release.wait()


async def test_outcomes_that_finish_during_a_write_share_the_next_one() -> None:
    store = SlowRecords()
    writer = OutcomeWriter(store)  # type: ignore[arg-type]
    writer.start()
    writer.add([Delivery(1, "sent", 200, "", 0, 0)])
    await until(lambda: len(store.calls) == 1)
    for i in range(2, 102):  # one request each, all finishing while the first write runs
        writer.add([Delivery(i, "sent", 200, "", 0, 0)])
    store.release.set()
    await writer.stop()
    assert [len(call) for call in store.calls] == [1, 100]

"""What many nodes on one PostgreSQL database rely on: a claim never hands one row to two
callers (`FOR UPDATE SKIP LOCKED`), a fire-once key is taken once however many connections
race for it, and an environment never points at an archived version."""

import asyncio

import pytest

from config.postgres_store import PostgresStore
from config.storage import RUN_DESTINATION, RUN_METHOD, FailedRun, StorageError
from tests.config.store.support import TTL, row, version

pytestmark = pytest.mark.anyio

ROWS = 400


@pytest.fixture
async def nodes(postgres_url, scratch_schema):
    """Two stores on one schema, as two nodes would be, with four connections each."""
    stores = [
        PostgresStore(postgres_url, schema=scratch_schema, min_size=4, max_size=4)
        for _ in range(2)
    ]
    for store in stores:
        await store.open()
    yield stores
    for store in stores:
        await store.close()


async def test_concurrent_claims_never_hand_one_row_to_two_callers(nodes):
    first, second = nodes
    await first.enqueue([row(None, event_id=str(i)) for i in range(ROWS)], 0)
    claimed: list[list[int]] = []

    async def claimer(store):
        while items := await store.claim(7, 0):
            claimed.append([item.id for item in items])

    await asyncio.gather(*(claimer(store) for store in nodes for _ in range(4)))
    ids = [outbox_id for batch in claimed for outbox_id in batch]
    assert len(ids) == len(set(ids)) == ROWS
    assert len(claimed) >= ROWS // 7  # many small claims, interleaved across both nodes
    assert await second.outbox_counts() == {"inflight": ROWS}


async def test_concurrent_run_claims_never_hand_one_run_to_two_callers(nodes):
    first, _ = nodes
    base = row(None, destination=RUN_DESTINATION)._replace(method=RUN_METHOD, url="")
    failures = [FailedRun(base._replace(event_id=str(i)), "busy", "lane full", 0)
                for i in range(100)]  # fmt: skip
    await first.enqueue([], 0, TTL, failures)
    claims = await asyncio.gather(*(store.claim_runs(3, 10) for store in nodes for _ in range(40)))
    ids = [item.id for items in claims for item in items]
    assert len(ids) == len(set(ids)) == 100


async def test_one_fire_once_key_raced_on_many_connections_is_taken_once(nodes):
    """Eight connections at once, each committing the same keys in another order."""
    keys = [f"event_id:k{i}" for i in range(20)]
    calls = []
    for n in range(8):
        order = keys[n:] + keys[:n] if n % 2 else list(reversed(keys))
        calls.append(nodes[n % 2].enqueue([row(key, event_id=f"{n}") for key in order], 1, TTL))
    assert sum(await asyncio.gather(*calls)) == len(keys)
    assert await nodes[0].outbox_counts() == {"pending": len(keys)}


async def test_archiving_and_publishing_one_version_at_once_never_leave_it_published(nodes):
    first, second = nodes
    for number in range(1, 21):
        await first.insert_version(version(number), "ana")
    await first.set_environment("demo", "live", 1, "publish", "ana", 4000)
    for number in range(2, 21):
        results = await asyncio.gather(
            first.archive_version("demo", number, "ana", 5000),
            second.set_environment("demo", "live", number, "publish", "bo", 5000),
            return_exceptions=True,
        )
        assert sum(isinstance(result, StorageError) for result in results) == 1
        (live,) = await first.list_environments("demo")
        archived = (await first.get_version("demo", live.version)).archived_at_ms
        assert archived is None, (number, results)

"""A starting node returns to pending the inflight rows of nodes that are gone (closed or
crashed), never the rows another live node is sending (config/postgres/liveness.py); a
running node's orphan sweep takes back a dead node's rows, never its own. The
starting-node rule is tested on both backends in tests/config/store/test_outbox.py."""

import asyncio

import psycopg
import pytest

from config.postgres_store import PostgresStore
from container.delivery.orphans import OrphanSweeper
from tests.config.store.support import row

pytestmark = pytest.mark.anyio


@pytest.fixture
async def open_node(postgres_url, scratch_schema):
    """Opens nodes (stores) on one schema; closes the ones still open at the end."""
    opened = []

    async def node():
        store = PostgresStore(postgres_url, schema=scratch_schema, min_size=1, max_size=2)
        await store.open()
        opened.append(store)
        return store

    yield node
    for store in opened:
        await store.close()


async def test_nodes_hold_distinct_keys_while_open(open_node):
    first, second = await open_node(), await open_node()
    assert first._node_key != second._node_key
    await first.close()
    assert first._node.key is None


async def crash(node, postgres_url) -> None:
    """The node's process is killed: its lock goes when its server process has gone
    (waited for, a bounded number of times)."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        (pid,) = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid::bigint = %s"
            " AND objsubid = 2",
            (node._node_key,),
        ).fetchone()
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(200):
            if not conn.execute("SELECT 1 FROM pg_locks WHERE pid = %s", (pid,)).fetchone():
                break
            await asyncio.sleep(0.01)


async def test_a_running_node_takes_back_a_dead_nodes_rows_and_never_its_own(
    open_node, postgres_url
):
    dead, live, sweeping = await open_node(), await open_node(), await open_node()
    await dead.enqueue([row(None, event_id=str(i)) for i in range(6)], 0)
    await dead.claim(2, 0)
    await live.claim(2, 0)
    await sweeping.claim(1, 0)
    woken = []
    sweeper = OrphanSweeper(sweeping, on_released=lambda: woken.append(True))
    assert await sweeper.sweep() == 0  # every claimer alive: nothing moves
    await crash(dead, postgres_url)
    assert await sweeper.sweep() == 2
    assert woken == [True]
    assert await sweeping.outbox_counts() == {"inflight": 3, "pending": 3}
    assert await sweeper.sweep() == 0  # the live node's and its own stay inflight


async def test_a_crashed_nodes_rows_are_taken_back(open_node, postgres_url):
    crashed, survivor = await open_node(), await open_node()
    await crashed.enqueue([row(None, event_id=str(i)) for i in range(3)], 0)
    await crashed.claim(3, 0)
    await crash(crashed, postgres_url)
    assert await survivor.release_inflight() == 3
    assert await survivor.outbox_counts() == {"pending": 3}

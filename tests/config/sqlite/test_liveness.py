"""Processes sharing one SQLite file (`serve --workers N`): each holds a node key of its
own; a starting process returns to pending only the rows of processes that are gone,
never those a live sibling is sending, and the orphan sweep takes back a SIGKILLed
process's rows (config/sqlite/liveness.py). The starting-node rule is tested on both
backends in tests/config/store/test_outbox.py."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from config.sqlite.liveness import STALE_STAGING_S, NodeLock
from config.sqlite.migrations import migrations
from config.sqlite_store import SQLiteStore
from config.storage import StorageError
from tests.config.store.support import query, row

pytestmark = pytest.mark.anyio


@pytest.fixture
async def open_node(tmp_path):
    """Opens stores (processes' nodes) on one file; closes the ones still open at the end."""
    opened = []

    async def node():
        store = SQLiteStore(tmp_path / "tagwire.db")
        await store.open()
        opened.append(store)
        return store

    yield node
    for store in opened:
        if store._node.key is not None:
            await store.close()


async def test_stores_hold_distinct_keys_while_open_and_drop_them_when_closed(open_node):
    first, second = await open_node(), await open_node()
    assert first._node_key != second._node_key
    assert sorted(first._node.live_keys()) == sorted([first._node_key, second._node_key])
    folder = first._node.folder
    await first.close()
    assert first._node.key is None
    assert os.listdir(folder) == [str(second._node_key)]


CLAIMER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from config.sqlite_store import SQLiteStore

    async def main():
        store = SQLiteStore(Path(sys.argv[1]))
        await store.open()
        claimed = await store.claim(3, 0)
        print(store._node_key, len(claimed), flush=True)
        time.sleep(60)

    asyncio.run(main())
    """
)


async def test_the_orphan_sweep_takes_back_a_killed_processs_rows_and_never_a_live_ones(
    open_node, tmp_path
):
    live, sweeping = await open_node(), await open_node()
    await live.enqueue([row(None, event_id=str(i)) for i in range(6)], 0)
    await live.claim(1, 0)
    child = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, str(tmp_path / "tagwire.db")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        key, claimed = map(int, child.stdout.readline().split())
        assert claimed == 3
        assert key in sweeping._node.live_keys()
        assert await sweeping.release_orphans() == 0  # everyone is alive
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert await sweeping.release_orphans() == 3
    assert key not in sweeping._node.live_keys()
    assert not (live._node.folder / str(key)).exists()  # the dead key's file is removed
    assert await sweeping.outbox_counts() == {"inflight": 1, "pending": 5}
    assert query(tmp_path / "tagwire.db", "SELECT DISTINCT claimed_by FROM outbox"
                 " WHERE state = 'inflight'") == [(live._node_key,)]  # fmt: skip


OPENER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from config.sqlite_store import SQLiteStore

    async def main():
        store = SQLiteStore(Path(sys.argv[1]))
        await store.open()
        print(await store.schema_version(), flush=True)
        await store.close()

    asyncio.run(main())
    """
)


def test_processes_migrating_one_new_file_at_once_apply_each_migration_once(tmp_path):
    path = tmp_path / "tagwire.db"
    children = [
        subprocess.Popen([sys.executable, "-c", OPENER, str(path)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    results = [child.communicate(timeout=60) for child in children]
    newest = str(migrations()[-1][0])
    outcomes = [(c.returncode, out.strip()) for c, (out, _) in zip(children, results, strict=True)]
    assert outcomes == [(0, newest)] * 4, [err for _, err in results]
    applied = query(path, "SELECT version FROM schema_migrations ORDER BY version")
    assert applied == [(number,) for number, _ in migrations()]


def test_a_lock_folder_that_cannot_be_written_is_a_storage_error(tmp_path):
    folder = tmp_path / "tagwire.db-nodes"
    folder.write_text("not a folder")
    with pytest.raises(StorageError, match=r"tagwire\.db-nodes"):
        NodeLock(tmp_path / "tagwire.db").acquire()


async def test_a_staging_file_left_by_a_process_killed_while_starting_is_removed(open_node):
    node = await open_node()
    folder = node._node.folder
    stale, fresh = folder / ".new-4242-dead", folder / ".new-4243-busy"
    stale.touch()
    fresh.touch()
    old = time.time() - STALE_STAGING_S - 1
    os.utime(stale, (old, old))
    assert node._node.live_keys() == [node._node_key]
    assert not stale.exists()
    assert fresh.exists()  # young: its process may still be giving it a key

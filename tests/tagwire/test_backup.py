"""`tagwire backup DEST`: a consistent copy of a SQLite store taken while it is written,
restoring it, and the arguments it refuses.

The command runs through `tagwire.cli.main`, as the installed `tagwire` does; the stores
are filled and read through the Store API.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

import tagwire.cli.backup as backup
from config.sqlite_store import SQLiteStore
from config.storage import OutboxFilter, OutboxRow
from tests.container.ops_fixtures import filled_database, now_ms, states
from tests.helpers import isolate_settings, on_store
from tests.helpers import run_cli as run

ALL_STATES = {"evt-F-0001": "dead", "evt-A-0001": "sent", "evt-B-0001": "dead",
              "evt-C-0001": "dead", "evt-D-0001": "held", "evt-E-0001": "pending"}  # fmt: skip


def outbox_row(event_id: str) -> OutboxRow:
    body = b'{"data": "' + b"x" * 2000 + b'"}'  # a page of its own, roughly: many pages
    return OutboxRow("shop", "hook", "hooks.example.com", "POST", "https://hooks.example.com/e",
                     b"{}", body, "lead", event_id, None, "webhook", now_ms(), None, None, None,
                     False)  # fmt: skip


class Writer:
    """A second connection to the database (a store on a thread and loop of its own, as a
    running node has) that commits rows when asked."""

    def __init__(self, path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.store = SQLiteStore(path)
        self.call(self.store.open())
        self.written = 0

    def call(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def write(self, count: int = 1) -> None:
        rows = [outbox_row(f"evt-W-{self.written + i:06d}") for i in range(count)]
        assert self.call(self.store.enqueue(rows, now_ms())) == count
        self.written += count

    def close(self) -> None:
        self.call(self.store.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=60)
        self.loop.close()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data dir of a node whose store holds the operator tools' outbox rows."""
    folder = tmp_path / "data"
    isolate_settings(monkeypatch, folder)
    filled_database(folder / "tagwire.db")
    return folder


def outbox_total(path: Path) -> int:
    async def work(store: SQLiteStore) -> int:
        return sum((await store.outbox_counts()).values())

    return on_store(path, work)


def event_ids(path: Path) -> set[str]:
    async def work(store: SQLiteStore) -> set[str]:
        return {e.event_id for e in await store.history(OutboxFilter(), 100_000, 0)}

    return on_store(path, work)


def test_backup_while_another_connection_writes_is_the_snapshot_it_began_with(
    tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "data"
    isolate_settings(monkeypatch, folder)
    source = folder / "tagwire.db"
    writer = Writer(source)
    steps = []
    try:
        writer.write(300)  # about 300 pages: with one page per step, about 300 steps

        def write_between_steps(status: int, remaining: int, total: int) -> None:
            steps.append(remaining)
            # A copy that is not made from one snapshot starts over after every commit
            # and never ends: fail instead of hanging.
            assert len(steps) < 5000, "the backup keeps restarting"
            writer.write()  # committed by the other connection before the next step

        monkeypatch.setattr(backup, "STEP_PAGES", 1)
        monkeypatch.setattr(backup, "_between_steps", write_between_steps)
        code, out, err = run(capsys, "backup", str(tmp_path / "copy.db"))
    finally:
        writer.close()
    assert (code, err) == (0, ""), err
    assert len(steps) > 100  # copied in many steps, with a commit after each
    assert writer.written == 300 + len(steps)
    assert "outbox rows     300\n" in out
    assert "integrity check ok" in out

    copy = tmp_path / "copy.db"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    # The copy opens with the store, at the source's schema, holding exactly the rows
    # committed before the backup began, whole.
    assert on_store(copy, lambda s: s.schema_version()) == on_store(
        source, lambda s: s.schema_version()
    )
    assert outbox_total(copy) == 300
    assert event_ids(copy) == {f"evt-W-{i:06d}" for i in range(300)}
    assert outbox_total(source) == 300 + len(steps)
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.db", "data"]  # no temp file


def test_output_names_source_size_schema_and_row_counts(data, tmp_path, capsys):
    code, out, _ = run(capsys, "backup", str(tmp_path / "b.db"))
    assert code == 0
    size = (tmp_path / "b.db").stat().st_size
    version = on_store(data / "tagwire.db", lambda s: s.schema_version())
    assert out.splitlines() == [
        f"backed up {data / 'tagwire.db'} (TAGWIRE_DATA_DIR) to {tmp_path / 'b.db'}",
        f"  size            {size:,} bytes",
        f"  schema version  {version}",
        "  outbox rows     6",
        "  versions rows   0",
        "  integrity check ok",
    ]


def test_restore_is_stop_copy_back_start(data, tmp_path, capsys):
    db = data / "tagwire.db"
    assert run(capsys, "backup", str(tmp_path / "b.db"))[0] == 0

    # After the backup the node goes on: a row queued, a row purged. Then the disk is lost.
    async def later(store: SQLiteStore) -> None:
        await store.enqueue([outbox_row("evt-LATER")], now_ms())
        await store.purge(OutboxFilter(states=("sent",)), dry_run=False)

    on_store(db, later)
    assert "evt-LATER" in states(db)
    assert "evt-A-0001" not in states(db)

    # Restore: the node is stopped (no store open), the copy goes back, the node starts.
    for name in ("tagwire.db", "tagwire.db-wal", "tagwire.db-shm"):
        (data / name).unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "b.db", db)
    os.chmod(db, 0o600)
    assert states(db) == ALL_STATES
    assert outbox_total(db) == 6


def test_existing_dest_is_refused_without_force(data, tmp_path, capsys):
    dest = tmp_path / "b.db"
    dest.write_bytes(b"an older backup")
    code, out, err = run(capsys, "backup", str(dest))
    assert code == 2
    assert out == ""
    assert err == f"tagwire: argument DEST: {dest} exists; pass --force to replace it\n"
    assert dest.read_bytes() == b"an older backup"

    code, out, err = run(capsys, "backup", "--force", str(dest))
    assert (code, err) == (0, "")
    assert "outbox rows     6" in out
    assert outbox_total(dest) == 6
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_missing_dest_is_an_argparse_error(data, capsys):
    code, _, err = run(capsys, "backup")
    assert code == 2
    assert err.splitlines()[-1] == (
        "tagwire backup: error: the following arguments are required: DEST"
    )


@pytest.mark.parametrize(
    ("dest", "reason"),
    [
        ("{tmp}", "{tmp} is a folder; name a file in it"),
        ("{tmp}/missing/b.db", "folder {tmp}/missing does not exist"),
        ("", "name a file to write the copy to"),
        ("{data}/tagwire.db", "{data}/tagwire.db is the node's database itself"),
    ],
)
def test_bad_dest_is_named(data, tmp_path, capsys, dest, reason):
    dest = dest.format(tmp=tmp_path, data=data)
    code, out, err = run(capsys, "backup", "--force", dest)
    assert code == 2
    assert out == ""
    assert err == f"tagwire: argument DEST: {reason.format(tmp=tmp_path, data=data)}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_unwritable_dest_folder_is_named(data, tmp_path, capsys):
    if os.geteuid() == 0:
        # root writes into any folder mode; sysfs takes no new files from anyone
        folder = Path("/sys")
        if not folder.is_dir():
            pytest.skip("running as root without /sys: no folder root cannot write in")
    else:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o500)
    code, out, err = run(capsys, "backup", str(folder / "b.db"))
    assert code == 2
    assert out == ""
    assert err.startswith(f"tagwire: argument DEST: cannot write in folder {folder}: ")
    assert len(err.splitlines()) == 1


def test_no_database_names_the_data_dir(tmp_path, monkeypatch, capsys):
    isolate_settings(monkeypatch, tmp_path / "empty")
    code, _, err = run(capsys, "backup", str(tmp_path / "b.db"))
    assert code == 2
    assert err.startswith(f"tagwire: TAGWIRE_DATA_DIR: no database at {tmp_path}/empty/tagwire.db;")
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "empty").exists()  # nothing made where there was nothing
    assert not (tmp_path / "b.db").exists()


def test_no_database_names_the_database_url(tmp_path, monkeypatch, capsys):
    isolate_settings(monkeypatch, tmp_path)
    monkeypatch.setenv("TAGWIRE_DATABASE_URL", f"sqlite:///{tmp_path}/other.db")
    code, _, err = run(capsys, "backup", str(tmp_path / "b.db"))
    assert code == 2
    assert err.startswith(f"tagwire: TAGWIRE_DATABASE_URL: no database at {tmp_path}/other.db;")


def test_postgresql_is_refused_with_the_pg_dump_hint(tmp_path, monkeypatch, capsys):
    isolate_settings(monkeypatch, tmp_path)
    monkeypatch.setenv("TAGWIRE_DATABASE_URL", "postgresql://tagwire@127.0.0.1:5432/tagwire")
    code, out, err = run(capsys, "backup", str(tmp_path / "b.db"))
    assert code == 2
    assert out == ""
    assert err.startswith("tagwire: TAGWIRE_DATABASE_URL names a PostgreSQL database: ")
    assert "pg_dump" in err
    assert "docs/operations.md#backup-and-restore" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "b.db").exists()


def test_a_file_that_is_not_a_tagwire_database_is_refused(tmp_path, monkeypatch, capsys):
    isolate_settings(monkeypatch, tmp_path)
    conn = sqlite3.connect(tmp_path / "tagwire.db")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    code, _, err = run(capsys, "backup", str(tmp_path / "b.db"))
    assert code == 1
    assert err == "tagwire: the database has no schema_migrations table: not a tagwire database\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tagwire.db"]

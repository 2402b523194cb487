"""`tagwire backup DEST`: a consistent copy of the node's SQLite database, taken while the
node runs.

The copy is made with SQLite's online backup API (`sqlite3.Connection.backup`), a few
thousand pages per step, inside one read transaction on the source. The store is in WAL
mode, so that read transaction never blocks the node's writers, and because it holds one
snapshot from the first page to the last, rows the node commits meanwhile neither restart
the copy nor end up half in it: the copy is the database as it was when the backup began.
(The node's checkpoints cannot pass that snapshot until the copy is done, so its `-wal`
file may grow for that long.)

The copy is written to a new 0600 file next to DEST (`config.file_modes`), checked there
(`PRAGMA integrity_check`, the same schema version and the same outbox and versions row
counts as the snapshot it was copied from) and only then renamed to DEST, so DEST is never
a half-written file. An existing DEST is replaced only with `--force`.

PostgreSQL is refused: `pg_dump` backs it up (docs/operations.md#backup-and-restore).
Bad arguments and a missing database exit 2 with one line naming what is wrong.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.file_modes import private_file
from config.settings import Settings
from tagwire.cli.common import CommandError, UsageError, out

__all__ = ["STEP_PAGES", "add_backup_command"]

STEP_PAGES = 1024  # pages copied per backup step (4 MiB at SQLite's default page size)
STEP_PAUSE_S = 0.001  # between steps, so the node's own disk reads and writes go first
BUSY_TIMEOUT_MS = 5000
COUNTED_TABLES = ("outbox", "versions")


def add_backup_command(commands: Any) -> None:
    backup = commands.add_parser(
        "backup",
        help="copy the node's SQLite database to a file, safely while the node runs",
        description="Copy the node's SQLite database (TAGWIRE_DATA_DIR/tagwire.db or "
        "TAGWIRE_DATABASE_URL's file) to DEST with SQLite's online backup, while the node "
        "runs. The copy is checked (integrity check, schema version, row counts) and "
        "written 0600. For PostgreSQL use pg_dump.",
    )
    backup.add_argument("dest", metavar="DEST", type=Path, help="file to write the copy to")
    backup.add_argument("--force", action="store_true", help="replace DEST if it exists")
    backup.set_defaults(run=_backup)


@dataclass(frozen=True)
class Snapshot:
    """What a database held: its schema version and the rows of the counted tables."""

    schema_version: int
    rows: dict[str, int]


def _source(settings: Settings) -> tuple[Path, str]:
    """The database file to copy and the setting that names it."""
    setting = "TAGWIRE_DATABASE_URL" if settings.database_url else "TAGWIRE_DATA_DIR"
    if settings.postgres:
        raise UsageError(
            "TAGWIRE_DATABASE_URL names a PostgreSQL database: tagwire backup copies the "
            "SQLite file only; back up PostgreSQL with pg_dump (pg_dump --format=custom "
            "--file=tagwire.dump DATABASE), see docs/operations.md#backup-and-restore"
        )
    path = settings.sqlite_path
    if not path.is_file():
        raise UsageError(
            f"{setting}: no database at {path}; set it to the node's (a node's database "
            "is made by 'tagwire serve' or 'tagwire migrate')"
        )
    return path, setting


def _check_dest(dest: Path, force: bool, source: Path) -> None:
    """DEST is a file name in an existing folder we can write to, not the source, and new
    unless --force."""
    if str(dest) == "" or dest.name == "":
        raise UsageError("argument DEST: name a file to write the copy to")
    if dest.is_dir():
        raise UsageError(f"argument DEST: {dest} is a folder; name a file in it")
    folder = dest.parent
    if not folder.is_dir():
        raise UsageError(f"argument DEST: folder {folder} does not exist")
    if dest.exists() or dest.is_symlink():
        with contextlib.suppress(OSError):
            if dest.samefile(source):
                raise UsageError(f"argument DEST: {dest} is the node's database itself")
        if not force:
            raise UsageError(f"argument DEST: {dest} exists; pass --force to replace it")
        if not dest.is_file():
            raise UsageError(f"argument DEST: {dest} is not a regular file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"argument DEST: cannot write in folder {folder}: permission denied")


def _snapshot(conn: sqlite3.Connection) -> Snapshot:
    try:
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    except sqlite3.OperationalError:
        raise CommandError(
            "the database has no schema_migrations table: not a tagwire database"
        ) from None
    rows = {}
    for table in COUNTED_TABLES:
        try:
            rows[table] = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        except sqlite3.OperationalError:
            rows[table] = 0  # an older schema without the table
    return Snapshot(int(row[0]), rows)


def _between_steps(status: int, remaining: int, total: int) -> None:
    """Called by the backup after each step: a short pause while pages remain."""
    if remaining:
        time.sleep(STEP_PAUSE_S)


def _remove(path: Path) -> None:
    for name in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


def _copy(source: Path, temp: Path) -> tuple[Snapshot, Snapshot, str]:
    """Copy `source` into `temp` from one snapshot; (what the source held, what the copy
    holds, the copy's integrity check)."""
    src = sqlite3.connect(f"{source.absolute().as_uri()}?mode=rw", uri=True, isolation_level=None)
    try:
        src.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # One read transaction for the whole copy: in WAL mode it never blocks the node,
        # and the backup reads every page from this one snapshot.
        src.execute("BEGIN")
        before = _snapshot(src)
        dst = sqlite3.connect(temp, isolation_level=None)
        try:
            src.backup(dst, pages=STEP_PAGES, progress=_between_steps)
            check = "; ".join(str(r[0]) for r in dst.execute("PRAGMA integrity_check"))
            after = _snapshot(dst)
        finally:
            dst.close()
        src.execute("COMMIT")
    finally:
        src.close()
    return before, after, check


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    source, setting = _source(settings)
    dest: Path = args.dest
    _check_dest(dest, args.force, source)
    temp = dest.with_name(f".{dest.name}.tagwire-backup-{os.getpid()}")
    _remove(temp)
    try:
        private_file(temp)  # 0600 before SQLite writes a page into it
    except OSError as exc:
        raise UsageError(
            f"argument DEST: cannot write in folder {dest.parent}: {exc.strerror}"
        ) from None
    try:
        try:
            before, after, check = _copy(source, temp)
        except sqlite3.Error as exc:
            raise CommandError(f"backup of {source} failed: {exc}") from None
        if check != "ok":
            raise CommandError(f"the copy failed its integrity check: {check}; DEST not written")
        if after != before:
            raise CommandError(
                f"the copy does not match the source (source {before}, copy {after}); "
                "DEST not written"
            )
        os.replace(temp, dest)
    except BaseException:
        _remove(temp)
        raise
    size = dest.stat().st_size
    out(f"backed up {source} ({setting}) to {dest}")
    out(f"  size            {size:,} bytes")
    out(f"  schema version  {after.schema_version}")
    for table in COUNTED_TABLES:
        out(f"  {table + ' rows':<15} {after.rows[table]:,}")
    out("  integrity check ok")
    return 0

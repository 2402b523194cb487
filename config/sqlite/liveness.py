"""Which processes sharing one SQLite file are alive: each open store holds an exclusive
`flock` on a file of its own in `<database>-nodes/`, named by its node key, and stamps the
rows it claims with that key.

`tagwire serve --workers N` runs N processes on one database, each with its own sender. A
worker that starts again after a crash must return to pending only the rows of processes
that are gone, never those a sibling is sending at that moment. The kernel drops a
process's locks when it dies, however it dies (SIGKILL included), so a key file that can
be locked belongs to a process that is gone; the one that finds it removes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import time
from pathlib import Path

from config.file_modes import PRIVATE_FILE, make_private_dir
from config.storage import StorageError

__all__ = ["ORPHANED", "RELEASABLE", "NodeLock"]

# Parameters of the two conditions below: ?1 this process's key, ?2 `live_keys()` as JSON.
_LIVE = "(SELECT value FROM json_each(?2))"
# True for an inflight row that a starting process may return to pending: its own, or one
# whose claimer is gone (or was claimed before claims were stamped).
RELEASABLE = f"(claimed_by IS NULL OR claimed_by = ?1 OR claimed_by NOT IN {_LIVE})"
# True for an inflight row of another process that is gone, which a running process may
# take back at any time (never its own: it may be sending it).
ORPHANED = f"(claimed_by <> ?1 AND claimed_by NOT IN {_LIVE})"
# How many random keys to try before giving up (a key file that exists is skipped).
_TRIES = 16
# A new lock file's name until it has its key; one left by a process killed while it
# started (SIGTERM before its handlers were set) is removed once it is this old.
STAGING = ".new-"
STALE_STAGING_S = 60.0


class NodeLock:
    """This store's node key, held as a lock on `<database>-nodes/<key>` while it is open."""

    def __init__(self, database: Path) -> None:
        self.folder = database.with_name(database.name + "-nodes")
        self.key: int | None = None
        self._fd: int | None = None

    def acquire(self) -> None:
        """Lock a new file, then give it a key no other process has: the file is locked
        before its name is a key, so no one can take it for a dead process's."""
        staging = self.folder / f"{STAGING}{os.getpid()}-{secrets.token_hex(4)}"
        fd = self._create(staging)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for _ in range(_TRIES):
                key = secrets.randbelow(2**31 - 1) + 1
                try:
                    os.link(staging, self.folder / str(key))
                except FileExistsError:
                    continue
                self.key, self._fd = key, fd
                return
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot create a node lock in {self.folder}: {exc}") from exc
        finally:
            os.unlink(staging)
        os.close(fd)
        raise StorageError(f"no free node key in {self.folder} after {_TRIES} tries")

    def _create(self, staging: Path) -> int:
        """Open a new file in the folder, making the folder first; again when the last
        process to leave removed the folder in between."""
        for _ in range(_TRIES):
            make_private_dir(self.folder)
            try:
                return os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError(f"cannot create a node lock in {self.folder}: {exc}") from exc
        raise StorageError(f"cannot create a node lock in {self.folder}: it keeps disappearing")

    def live_keys(self) -> list[int]:
        """The keys of the processes holding their lock now, this one's included; the
        files of processes that are gone are removed on the way."""
        live = []
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            names = []
        for name in names:
            if name.startswith(STAGING):
                _drop_stale_staging(self.folder / name)
            elif name.isdigit():
                key = int(name)
                if key == self.key or _held(self.folder / name):
                    live.append(key)
        return live

    def release(self) -> None:
        """Remove the key file, then unlock it (closing drops the lock); the last process
        to leave removes the folder."""
        if self._fd is not None:
            fd, key, self._fd, self.key = self._fd, self.key, None, None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.folder / str(key))
            os.close(fd)
            with contextlib.suppress(OSError):  # not empty: other processes are open
                os.rmdir(self.folder)


def _held(path: Path) -> bool:
    """Whether a live process holds the lock on `path`; a file whose owner is gone is
    removed while locked, so a process still opening it finds it gone."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return False
    finally:
        os.close(fd)


def _drop_stale_staging(path: Path) -> None:
    """Remove a staging file whose process is gone: old, and its lock free."""
    try:
        if time.time() - path.stat().st_mtime < STALE_STAGING_S:
            return
    except FileNotFoundError:
        return
    _held(path)  # removes the file when its lock can be taken

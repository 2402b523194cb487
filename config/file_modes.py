"""Who may read what tagwire keeps on disk: the data folder is its user's only (0700) and
so are the files in it (0600). They hold client IPs and user agents in the outbox, token
hashes, the reference-signing key and, for the demo, a private signing key.

The rule for what exists already:
- a folder tagwire did not just create is the operator's: it is never changed, and when
  other users can reach into it, a warning names it, its mode and the fix;
- a file tagwire keeps (the SQLite database and its `-wal` and `-shm` files) is tightened
  to 0600 when other users can read it, and a warning says so. They are tagwire's own
  files, and an older release left them 0644.

New files are created 0600 from the start. SQLite creates the `-wal` and `-shm` files later,
with the mode of the database file, so creating the database file 0600 covers them. No
umask is changed: it belongs to the whole process and its other threads.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "check_private_dir",
    "make_private_dir",
    "private_file",
    "tighten_file",
]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

log = logging.getLogger("tagwire.files")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_private_dir(path: Path) -> bool:
    """Create the folder 0700 (missing parents as the umask says); False when it existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        return False
    os.chmod(path, PRIVATE_DIR)  # the umask may have taken off more, or less
    return True


def check_private_dir(path: Path) -> None:
    """Create the folder 0700 when it is missing; warn, and change nothing, when it exists
    and other users can reach into it."""
    if make_private_dir(path):
        return
    mode = _mode(path)
    if mode & 0o077:
        log.warning(
            "data folder is accessible to other users",
            extra={
                "fields": {
                    "path": str(path),
                    "mode": f"{mode:04o}",
                    "fix": f"chmod 700 {path}",
                }
            },
        )


def private_file(path: Path) -> None:
    """Create the file empty and 0600 when it is missing; tighten it to 0600, with a
    warning, when it exists and other users can read or write it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        try:
            os.fchmod(fd, PRIVATE_FILE)  # the umask may have taken bits off
        finally:
            os.close(fd)
        return
    tighten_file(path)


def tighten_file(path: Path) -> None:
    """Tighten an existing file to 0600, with a warning, when other users can read or
    write it; a missing file is left missing."""
    try:
        mode = _mode(path)
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    fields = {"path": str(path), "mode": f"{mode:04o}"}
    try:
        os.chmod(path, PRIVATE_FILE)
    except OSError as exc:
        log.warning(
            "data file is accessible to other users",
            extra={"fields": {**fields, "error": exc.strerror, "fix": f"chmod 600 {path}"}},
        )
        return
    log.warning(
        "data file was accessible to other users; now 0600",
        extra={"fields": {**fields, "now": f"{PRIVATE_FILE:04o}"}},
    )

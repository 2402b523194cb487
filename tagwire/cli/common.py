"""What every `tagwire` command shares: its errors, its output, the store it opens.

Kept apart from `tagwire.cli` so that command modules (`ops`, `tokens`) can
raise the same errors without importing the module that imports them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.settings import Settings
from config.signing import SigningKeyError, load_private_key
from config.sqlite_store import SQLiteStore
from config.storage import Store

__all__ = [
    "PASSPHRASE_ENV",
    "CommandError",
    "UsageError",
    "load_signer",
    "out",
    "subcommands",
    "table",
    "with_store",
]

T = TypeVar("T")

PASSPHRASE_ENV = "TAGWIRE_SIGNING_KEY_PASSPHRASE"  # noqa: S105 (a variable name)


class CommandError(Exception):
    """A command cannot go on; the message says why and what to do."""


class UsageError(CommandError):
    """The command line itself is wrong (exit status 2)."""


def out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """Rows as aligned columns under their headers; columns numbered in `right` (counts,
    statuses) are right-aligned."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def with_store(
    settings: Settings, work: Callable[[Store], Awaitable[T]], *, create: bool = False
) -> T:
    """Open the node's store from the settings (as `tagwire migrate` does), run `work`,
    close it. Every call is a short transaction, so this is safe while a node runs on the
    same SQLite file (WAL: readers never block it, writers wait at most the busy timeout).

    Without `create`, a missing database is an error: it almost always means the command
    is looking at the wrong TAGWIRE_DATA_DIR, and an empty new database would hide that.
    """
    path = settings.sqlite_path
    if not create and not path.exists():
        raise CommandError(
            f"no database at {path}; set TAGWIRE_DATA_DIR (or TAGWIRE_DATABASE_URL) to the "
            "node's, or run 'tagwire migrate' to create one"
        )

    async def run() -> T:
        store = SQLiteStore(path)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def load_signer(settings: Settings) -> Ed25519PrivateKey | None:
    """The control plane's signing key from TAGWIRE_SIGNING_KEY_FILE (and the passphrase
    from TAGWIRE_SIGNING_KEY_PASSPHRASE when the key is encrypted), or None if unset."""
    path = settings.signing_key_file
    if path is None:
        return None
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise CommandError(
            f"TAGWIRE_SIGNING_KEY_FILE {path}: cannot read: {exc.strerror}"
        ) from None
    try:
        return load_private_key(pem, passphrase.encode("utf-8") if passphrase else None)
    except SigningKeyError as exc:
        raise CommandError(f"TAGWIRE_SIGNING_KEY_FILE {path}: {exc}") from None


def subcommands(parser: argparse.ArgumentParser, dest: str) -> Any:
    """The sub-command slot of `parser`: one is required, and help lists them as COMMAND."""
    return parser.add_subparsers(dest=dest, required=True, metavar="COMMAND")

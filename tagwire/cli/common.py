"""What every `tagwire` command shares: its errors, its output, the store it opens, the
actor it acts as, and how the control plane's refusals become exit codes.

Kept apart from `tagwire.cli` so that command modules (`ops`, `tokens`) can
raise the same errors without importing the module that imports them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from admin_ui.audit import Actor, actor_name, os_user
from admin_ui.containers import check_container_id
from admin_ui.errors import ActionError, FieldError
from config.publishing import PublishError
from config.settings import Settings
from config.signing import SigningKeyError, load_private_key
from config.storage import Store
from config.store_factory import make_store

__all__ = [
    "PASSPHRASE_ENV",
    "CommandError",
    "UsageError",
    "actor",
    "argument_type",
    "cli_actor",
    "command_error",
    "container_id",
    "load_signer",
    "out",
    "subcommands",
    "table",
    "when",
    "with_store",
]

T = TypeVar("T")

PASSPHRASE_ENV = "TAGWIRE_SIGNING_KEY_PASSPHRASE"  # noqa: S105 (a variable name)


class CommandError(Exception):
    """A command cannot go on; the message says why and what to do."""


class UsageError(CommandError):
    """The command line itself is wrong (exit status 2)."""


def command_error(exc: ActionError | PublishError) -> CommandError:
    """A refusal of the control plane as the command's error: bad input exits 2, any
    other refusal (unknown container, no such token, nothing to roll back) exits 1."""
    if isinstance(exc, FieldError):
        return UsageError(str(exc))
    return CommandError(str(exc))


def argument_type(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a check that raises a FieldError, PublishError or ValueError
    with its reason, so a bad value exits 2 naming the argument and the rule."""

    def convert(text: str) -> T:
        try:
            return check(text)
        except FieldError as exc:
            raise argparse.ArgumentTypeError(exc.reason) from None
        except (PublishError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = check.__name__
    return convert


container_id = argument_type(check_container_id)


def actor(args: argparse.Namespace) -> str:
    """Who makes a container or secret change: --actor, else TAGWIRE_ACTOR, else login."""
    try:
        return actor_name(args.actor)
    except FieldError as exc:
        raise UsageError(f"--actor: {exc.reason}") from None


def cli_actor() -> Actor:
    """The OS user running an outbox or token command, for the audit log."""
    return Actor(who=os_user(), via="cli")


def when(ms: int) -> str:
    """A table cell's time, to the second in UTC."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


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
    A refusal of the control plane in `work` becomes the command's error (`command_error`).
    """
    path = settings.sqlite_path
    if not create and not settings.postgres and not path.exists():
        raise CommandError(
            f"no database at {path}; set TAGWIRE_DATA_DIR (or TAGWIRE_DATABASE_URL) to the "
            "node's, or run 'tagwire migrate' to create one"
        )

    async def run() -> T:
        store = make_store(settings)
        await store.open()
        try:
            return await work(store)
        except (ActionError, PublishError) as exc:
            raise command_error(exc) from None
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

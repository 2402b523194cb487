"""`tagwire secrets key|set|list|delete`: platform tokens, stored encrypted, outside versions.

A tag names its secret (`access_token: meta-token`); the value lives in the store,
encrypted with AES-256-GCM under `TAGWIRE_SECRETS_KEY`, bound to its container and name.
Setting a secret again rotates it: nodes read the new value within their reload interval,
with no new container version. Values are read from standard input or an environment
variable, never from the command line where `ps` and shell history would keep them, and
no command prints one back.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import time
from typing import Any

import orjson

from config.secret_box import SecretBox, generate_key
from config.settings import Settings
from config.storage import Store, StoredSecret
from tagwire.cli.common import CommandError, UsageError, out, subcommands, table, with_store
from tagwire.cli.versions import actor, when

__all__ = ["add_secrets_commands"]

# The rules tags and documents use: a secret nobody can name is a mistake, not a secret.
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
CONTAINER = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
VALUE_LIMIT = 16_384


def _box(settings: Settings) -> SecretBox:
    if not settings.secrets_key:
        raise CommandError(
            "TAGWIRE_SECRETS_KEY is not set: make a key with `tagwire secrets key` and give "
            "the same one to the control plane and every node"
        )
    return SecretBox.from_text(settings.secrets_key)


def _name(text: str) -> str:
    if not NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a secret name: 1 to 64 lower-case letters, digits, '_' and "
            "'-', starting with a letter or digit (the value of a tag's secret parameter)"
        )
    return text


def _container(text: str) -> str:
    if not CONTAINER.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a container id: 1 to 64 lower-case letters, digits, '_' and "
            "'-', starting with a letter or digit"
        )
    return text


def _value(args: argparse.Namespace) -> str:
    if args.from_env:
        value = os.environ.get(args.from_env)
        if value is None:
            raise UsageError(f"--from-env {args.from_env}: the environment variable is not set")
    elif sys.stdin is not None and sys.stdin.isatty():
        value = getpass.getpass(f"value of {args.name}: ")
    else:
        value = (
            sys.stdin.read().removesuffix("\n").removesuffix("\r") if sys.stdin is not None else ""
        )
    if not value:
        raise UsageError("the secret value is empty (give it on stdin or with --from-env)")
    if len(value) > VALUE_LIMIT:
        raise UsageError(f"the secret value is {len(value)} characters; at most {VALUE_LIMIT}")
    return value


def _key(args: argparse.Namespace, settings: Settings) -> int:
    out(generate_key())
    sys.stderr.write(
        "set this as TAGWIRE_SECRETS_KEY on the control plane and every node; keep it "
        "secret: whoever has it and the database can read every stored token\n"
    )
    return 0


def _set(args: argparse.Namespace, settings: Settings) -> int:
    box = _box(settings)
    value = _value(args)
    who = actor(args)
    nonce, ciphertext = box.seal(args.container, args.name, value)

    async def work(store: Store) -> None:
        if args.container not in await store.list_containers():
            sys.stderr.write(
                f"note: container {args.container!r} has no workspace or version here yet\n"
            )
        await store.put_secret(
            StoredSecret(
                container_id=args.container,
                name=args.name,
                nonce=nonce,
                ciphertext=ciphertext,
                key_id=box.key_id,
                updated_at_ms=int(time.time() * 1000),
                updated_by=who,
            )
        )

    with_store(settings, work, create=True)
    out(f"stored secret {args.name!r} of {args.container!r} (key {box.key_id})")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> list[StoredSecret]:
        return await store.list_secrets(args.container)

    secrets = with_store(settings, work)
    records = [
        {
            "container": s.container_id,
            "name": s.name,
            "updated_at_ms": s.updated_at_ms,
            "updated_by": s.updated_by,
            "key_id": s.key_id,
        }
        for s in secrets
    ]
    if args.json:
        out(orjson.dumps(records).decode())
        return 0
    rows = [
        [r["container"], r["name"], when(r["updated_at_ms"]), r["updated_by"], r["key_id"]]
        for r in records
    ]
    out(table(["CONTAINER", "NAME", "UPDATED", "BY", "KEY"], rows, right=set()))
    return 0


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    who = actor(args)

    async def work(store: Store) -> bool:
        return await store.delete_secret(args.container, args.name, who, int(time.time() * 1000))

    if not with_store(settings, work):
        raise CommandError(f"container {args.container!r} has no secret {args.name!r}")
    out(f"deleted secret {args.name!r} of {args.container!r}")
    return 0


def add_secrets_commands(commands: Any) -> None:
    """Register `tagwire secrets` on the top-level subparsers."""
    secrets = commands.add_parser(
        "secrets",
        help="manage encrypted tag secrets (platform tokens)",
        description="Manage tag secrets. See docs/secrets.md.",
    )
    sub = subcommands(secrets, "secrets_command")
    key = sub.add_parser(
        "key",
        help="print a new TAGWIRE_SECRETS_KEY",
        description="Print a new random AES-256 key for TAGWIRE_SECRETS_KEY.",
    )
    key.set_defaults(run=_key)
    put = sub.add_parser(
        "set",
        help="store or rotate a secret (value from stdin or --from-env)",
        description="Store NAME for CONTAINER, encrypted. The value comes from standard "
        "input (a prompt on a terminal) or from the environment variable --from-env names.",
    )
    put.add_argument("container", type=_container, metavar="CONTAINER")
    put.add_argument("name", type=_name, metavar="NAME")
    put.add_argument("--from-env", metavar="VAR", help="read the value from this variable")
    put.add_argument("--actor", help="who does this, for the audit log")
    put.set_defaults(run=_set)
    listing = sub.add_parser(
        "list",
        help="list secret names (never values)",
        description="List stored secrets: names, who set them, when.",
    )
    listing.add_argument("container", nargs="?", metavar="CONTAINER")
    listing.add_argument("--json", action="store_true", help="one JSON array")
    listing.set_defaults(run=_list)
    delete = sub.add_parser("delete", help="delete a secret",
                            description="Delete NAME of CONTAINER.")  # fmt: skip
    delete.add_argument("container", type=_container, metavar="CONTAINER")
    delete.add_argument("name", type=_name, metavar="NAME")
    delete.add_argument("--actor", help="who does this, for the audit log")
    delete.set_defaults(run=_delete)

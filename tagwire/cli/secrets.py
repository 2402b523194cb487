"""`tagwire secrets key|set|list|delete`: platform tokens, stored encrypted, outside versions.

A tag names its secret (`access_token: meta-token`); the value lives in the store,
encrypted with AES-256-GCM under `TAGWIRE_SECRETS_KEY`, bound to its container and name.
Setting a secret again rotates it: nodes read the new value within their reload interval,
with no new container version. The actions are `admin_ui.secrets`; this module reads the
value from standard input or an environment variable, never from the command line where
`ps` and shell history would keep it, and no command prints one back.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

import orjson

from admin_ui.errors import FieldError, NotConfigured
from admin_ui.secrets import (
    check_secret_name,
    check_secret_value,
    delete_secret,
    secret_box,
    secret_records,
    set_secret,
)
from config.secret_box import generate_key
from config.settings import Settings
from tagwire.cli.common import (
    UsageError,
    actor,
    argument_type,
    command_error,
    container_id,
    out,
    subcommands,
    table,
    when,
    with_store,
)

__all__ = ["add_secrets_commands"]

_secret_name = argument_type(check_secret_name)


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
    try:
        return check_secret_value(value)
    except FieldError as exc:
        hint = " (give it on stdin or with --from-env)" if not value else ""
        raise UsageError(exc.reason + hint) from None


def _key(args: argparse.Namespace, settings: Settings) -> int:
    out(generate_key())
    sys.stderr.write(
        "set this as TAGWIRE_SECRETS_KEY on the control plane and every node; keep it "
        "secret: whoever has it and the database can read every stored token\n"
    )
    return 0


def _set(args: argparse.Namespace, settings: Settings) -> int:
    try:
        box = secret_box(settings.secrets_key)
    except NotConfigured as exc:
        raise command_error(exc) from None
    value = _value(args)
    who = actor(args)
    done = with_store(
        settings,
        lambda store: set_secret(store, box, args.container, args.name, value, who),
        create=True,
    )
    if not done.container_known:
        sys.stderr.write(
            f"note: container {args.container!r} is not in the store yet (no workspace or "
            "version); nodes use the secret once its document is imported and published\n"
        )
    out(f"stored secret {args.name!r} of {args.container!r} (key {done.key_id})")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    records = with_store(settings, lambda store: secret_records(store, args.container))
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
    with_store(settings, lambda store: delete_secret(store, args.container, args.name, who))
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
        "input (a prompt on a terminal) or from the environment variable --from-env names. "
        "The container may be imported later; a note says so.",
    )
    put.add_argument(
        "container",
        type=container_id,
        metavar="CONTAINER",
        help="the container whose tags use the secret",
    )
    put.add_argument(
        "name",
        type=_secret_name,
        metavar="NAME",
        help="the name a tag's secret parameter gives (meta-token)",
    )
    put.add_argument("--from-env", metavar="VAR", help="read the value from this variable")
    put.add_argument("--actor", help="who does this, for the audit log")
    put.set_defaults(run=_set)
    listing = sub.add_parser(
        "list",
        help="list secret names (never values)",
        description="List stored secrets: names, who set them, when.",
    )
    listing.add_argument(
        "container",
        nargs="?",
        metavar="CONTAINER",
        help="only this container's secrets (default: all)",
    )
    listing.add_argument("--json", action="store_true", help="one JSON array")
    listing.set_defaults(run=_list)
    delete = sub.add_parser("delete", help="delete a secret",
                            description="Delete NAME of CONTAINER.")  # fmt: skip
    delete.add_argument(
        "container",
        type=container_id,
        metavar="CONTAINER",
        help="the container the secret belongs to",
    )
    delete.add_argument("name", type=_secret_name, metavar="NAME", help="the secret's name")
    delete.add_argument("--actor", help="who does this, for the audit log")
    delete.set_defaults(run=_delete)

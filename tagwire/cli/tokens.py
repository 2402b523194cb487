"""`tagwire tokens create|list|revoke`: API tokens, shown once, stored only as a hash.

A token belongs to one container (it may call the Fire API for it) or, created with
`--admin`, to the admin API; admin tokens are stored under the container id `*`, which no
container can have. The token itself goes alone to stdout, so `TOKEN=$(tagwire tokens
create ...)` works; everything said about it goes to stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any

import orjson

from admin_ui.outbox_ops import Actor, audit, iso, now_ms, os_user
from config.settings import Settings
from config.storage import Store, TokenRecord
from config.tokens import ADMIN_CONTAINER, hash_token, new_token
from tagwire.cli.common import CommandError, out, subcommands, table, with_store

__all__ = ["add_tokens_commands"]

# The container id rule of container documents: `*` (admin) can never be a container.
_CONTAINER = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Names show up in logs and audit lines: plain, short.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _matching(pattern: re.Pattern[str], rule: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r} {rule}")
        return text

    return check


_container_id = _matching(
    _CONTAINER, "is not a container id (1-64 of a-z, 0-9, '_', '-', starting with a-z or 0-9)"
)
_token_name = _matching(
    _NAME,
    "is not a token name (1-64 of A-Z, a-z, 0-9, '_', '.', '-', starting with one "
    "of A-Z, a-z, 0-9)",
)


def _owner(args: argparse.Namespace) -> str:
    return ADMIN_CONTAINER if args.admin else args.container


def _describe(container_id: str, name: str) -> str:
    if container_id == ADMIN_CONTAINER:
        return f"admin token {name!r}"
    return f"token {name!r} of container {container_id!r}"


def _create(args: argparse.Namespace, settings: Settings) -> int:
    container_id = _owner(args)
    token = new_token()

    who = os_user()

    async def work(store: Store) -> int:
        token_id = await store.create_token(container_id, args.name, hash_token(token), now_ms())
        await store.add_audit(who, "token.create", container_id, {"name": args.name}, now_ms())
        return token_id

    with_store(settings, work, create=True)
    audit(Actor(who, "cli"), "token create", {"container": container_id, "name": args.name})
    sys.stderr.write(
        f"created {_describe(container_id, args.name)}. It is shown only this once: tagwire "
        "keeps only its hash and cannot show it again. Store it in a secret manager now.\n"
    )
    sys.stderr.flush()
    out(token)
    return 0


def _ms(value: int | None) -> str | None:
    return None if value is None else iso(value)


def _seconds(stamp: str | None) -> str:
    """An ISO time from `iso`, to the second, for a table cell."""
    return "-" if stamp is None else stamp[:19] + "Z"


def _record(token: TokenRecord) -> dict[str, Any]:
    return {
        "container": token.container_id,
        "name": token.name,
        "admin": token.container_id == ADMIN_CONTAINER,
        "state": "revoked" if token.revoked_at is not None else "live",
        "created_at": iso(token.created_at),
        "last_used_at": _ms(token.last_used_at),
        "revoked_at": _ms(token.revoked_at),
    }


def _list(args: argparse.Namespace, settings: Settings) -> int:
    container_id = ADMIN_CONTAINER if args.admin else args.container
    records = [
        _record(token)
        for token in with_store(settings, lambda store: store.list_tokens(container_id))
    ]
    if args.json:
        out(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode())
    elif not records:
        out("no tokens")
    else:
        rows = [
            [
                r["container"] + (" (admin)" if r["admin"] else ""),
                r["name"],
                r["state"],
                _seconds(r["created_at"]),
                _seconds(r["last_used_at"]),
                _seconds(r["revoked_at"]),
            ]
            for r in records
        ]
        out(table(["container", "name", "state", "created", "last used", "revoked"], rows, set()))
    return 0


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    container_id = _owner(args)
    who = os_user()

    async def work(store: Store) -> bool:
        revoked = await store.revoke_token(container_id, args.name)
        if revoked:
            await store.add_audit(who, "token.revoke", container_id, {"name": args.name}, now_ms())
        return revoked

    revoked = with_store(settings, work)
    audit(
        Actor(who, "cli"),
        "token revoke",
        {"container": container_id, "name": args.name, "revoked": revoked},
    )
    if not revoked:
        raise CommandError(
            f"no live {_describe(container_id, args.name)}; see 'tagwire tokens list'"
        )
    out(f"revoked {_describe(container_id, args.name)}; requests with it now get 403")
    return 0


def _add_owner(parser: argparse.ArgumentParser, required: bool) -> None:
    owner = parser.add_mutually_exclusive_group(required=required)
    owner.add_argument(
        "--container",
        type=_container_id,
        metavar="ID",
        help="the container whose Fire API the token may call",
    )
    owner.add_argument(
        "--admin",
        action="store_true",
        help="an admin token: the outbox and history API, no container",
    )


def add_tokens_commands(commands: Any) -> None:
    """Register `tagwire tokens create|list|revoke` on the top-level subparsers."""
    tokens = commands.add_parser(
        "tokens",
        help="create, list and revoke API tokens",
        description="Fire API tokens (one container each) and admin API tokens (--admin). "
        "Only a hash of each token is stored. See docs/fire-api.md and docs/operations.md.",
    )
    actions = subcommands(tokens, "tokens_command")

    create = actions.add_parser(
        "create",
        help="make a token and print it once",
        description="Make a token and print it once on stdout (notes go to stderr).",
    )
    _add_owner(create, required=True)
    create.add_argument(
        "--name",
        type=_token_name,
        required=True,
        metavar="NAME",
        help="what calls with it (unique among live tokens of the owner)",
    )
    create.set_defaults(run=_create)

    listing = actions.add_parser(
        "list",
        help="tokens and when they were last used (never the tokens)",
        description="List tokens, revoked ones included. Tokens and hashes are never shown.",
    )
    _add_owner(listing, required=False)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=_list)

    revoke = actions.add_parser(
        "revoke",
        help="revoke a token by name",
        description="Revoke a live token; requests with it get 403 from then on.",
    )
    _add_owner(revoke, required=True)
    revoke.add_argument(
        "--name", type=_token_name, required=True, metavar="NAME", help="the token's name"
    )
    revoke.set_defaults(run=_revoke)

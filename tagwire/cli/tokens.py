"""`tagwire tokens create|list|revoke`: API tokens, shown once, stored only as a hash.

The actions are `admin_ui.tokens`; this module reads the command line and prints. The
token itself goes alone to stdout, so `TOKEN=$(tagwire tokens create ...)` works;
everything said about it goes to stderr: the note, and the `tagwire.audit` log line
(JSON, like every log line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from admin_ui.people import check_client_id
from admin_ui.tokens import check_token_name, create_token, describe, revoke_token, token_records
from config.settings import Settings
from config.tokens import admin_owner
from tagwire.cli.common import (
    UsageError,
    argument_type,
    cli_actor,
    container_id,
    out,
    subcommands,
    table,
    with_store,
)

__all__ = ["add_tokens_commands"]

_token_name = argument_type(check_token_name)
_client_id = argument_type(check_client_id)


def _owner(args: argparse.Namespace) -> str | None:
    """The owner the arguments name: a container, `*` (--admin) or `*ID` (--admin
    --client ID); None when they name none (list: every token)."""
    if args.client is not None and not args.admin:
        raise UsageError(
            "--client: only an admin token is limited to a client; add --admin "
            "(a Fire API token belongs to one container: --container ID)"
        )
    if args.admin:
        return admin_owner(args.client)
    container: str | None = args.container
    return container


def _required_owner(args: argparse.Namespace) -> str:
    owner = _owner(args)
    assert owner is not None  # argparse requires --container or --admin here
    return owner


def _create(args: argparse.Namespace, settings: Settings) -> int:
    owner = _required_owner(args)
    if args.admin and args.document:
        raise UsageError("--document: an admin token belongs to no container; leave it out")
    files = [] if args.admin else [*settings.containers, *args.document]
    actor = cli_actor()
    # The one command that creates the database: tokens may be made before a node's
    # first start (admin tokens, tokens for file-served containers).
    token = with_store(
        settings, lambda store: create_token(store, owner, args.name, actor, files), create=True
    )
    sys.stderr.write(
        f"created {describe(owner, args.name)}. It is shown only this once: tagwire "
        "keeps only its hash and cannot show it again. Store it in a secret manager now.\n"
    )
    sys.stderr.flush()
    out(token)
    return 0


def _seconds(stamp: str | None) -> str:
    """An ISO time from `iso`, to the second, for a table cell."""
    return "-" if stamp is None else stamp[:19] + "Z"


def _list(args: argparse.Namespace, settings: Settings) -> int:
    owner = _owner(args)
    if args.admin and args.client is None:
        # --admin alone: every admin token, agency-wide and limited to a client.
        every = with_store(settings, lambda store: token_records(store, None))
        records = [record for record in every if record["admin"]]
    else:
        records = with_store(settings, lambda store: token_records(store, owner))
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
    owner = _required_owner(args)
    actor = cli_actor()
    with_store(settings, lambda store: revoke_token(store, owner, args.name, actor))
    out(f"revoked {describe(owner, args.name)}; requests with it now get 403")
    return 0


def _add_owner(parser: argparse.ArgumentParser, required: bool) -> None:
    owner = parser.add_mutually_exclusive_group(required=required)
    owner.add_argument(
        "--container",
        type=container_id,
        metavar="ID",
        help="the container whose Fire API the token may call",
    )
    owner.add_argument(
        "--admin",
        action="store_true",
        help="an admin token: the outbox, history and config APIs, no container",
    )
    parser.add_argument(
        "--client",
        type=_client_id,
        metavar="ID",
        help="with --admin: an admin token limited to this client's containers (the "
        "outbox and history APIs only; the config API needs an agency-wide admin token)",
    )


def add_tokens_commands(commands: Any) -> None:
    """Register `tagwire tokens create|list|revoke` on the top-level subparsers."""
    tokens = commands.add_parser(
        "tokens",
        help="create, list and revoke API tokens",
        description="Fire API tokens (one container each) and admin API tokens (--admin: "
        "agency-wide, or limited to one client's containers with --client ID). Only a hash "
        "of each token is stored. See docs/fire-api.md and docs/operations.md.",
    )
    actions = subcommands(tokens, "tokens_command")

    create = actions.add_parser(
        "create",
        help="make a token and print it once",
        description="Make a token and print it once: the token alone on stdout; the note "
        "and the audit log line (JSON) on stderr. --container must name a container the "
        "store knows (imported, or with a version) or one served from a document file: "
        "the files in TAGWIRE_CONTAINERS are read, and --document names others (for a "
        "node started with `tagwire serve --container FILE`). --admin --client ID must "
        "name a client the store holds (`tagwire clients create`).",
    )
    _add_owner(create, required=True)
    create.add_argument(
        "--name",
        type=_token_name,
        required=True,
        metavar="NAME",
        help="what calls with it (unique among live tokens of the owner)",
    )
    create.add_argument(
        "--document",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a container document a node serves from a file; --container may name its "
        "container (repeatable)",
    )
    create.set_defaults(run=_create)

    listing = actions.add_parser(
        "list",
        help="tokens and when they were last used (never the tokens)",
        description="List tokens, revoked ones included. Tokens and hashes are never shown. "
        "--admin lists every admin token (agency-wide and of clients); with --client ID, "
        "only that client's.",
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

"""`tagwire users create|list|reset-link` and `tagwire clients create|grant`: the admin UI's
people and clients from the command line, for the first owner and for scripts.

The actions are `admin_ui.people` and the store's account role, the same the admin UI
uses. A password is read from TAGWIRE_PASSWORD or, on a terminal, asked for twice; it is
never taken as an argument (it would stay in the shell history and `ps`).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

import orjson

from admin_ui.errors import FieldError
from admin_ui.people import People, check_client_id, check_email, check_name
from config.settings import Settings
from config.storage import ROLES, NameTaken, Store
from tagwire.cli.common import (
    CommandError,
    UsageError,
    argument_type,
    cli_actor,
    out,
    subcommands,
    table,
    with_store,
)

__all__ = ["PASSWORD_ENV", "add_users_commands"]

PASSWORD_ENV = "TAGWIRE_PASSWORD"  # noqa: S105 (the variable's name, not a password)


def _password() -> str:
    given = os.environ.get(PASSWORD_ENV)
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise UsageError(f"set {PASSWORD_ENV} or run on a terminal to type the password")
    first = getpass.getpass("password (12 characters or more): ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def _create(args: argparse.Namespace, settings: Settings) -> int:
    password = _password()
    actor = cli_actor().who

    async def create(store: Store) -> int:
        try:
            return await People(store).create_user(
                args.email, args.name, password, agency_admin=args.owner, actor=actor
            )
        except NameTaken:
            raise CommandError(f"a user with the email {args.email} exists already") from None
        except FieldError as exc:
            raise UsageError(str(exc)) from None

    user_id = with_store(settings, create, create=True)
    kind = "agency admin (every client)" if args.owner else "user (no client yet)"
    out(f"created {kind} {args.email} (id {user_id}); sign in at /admin/")
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    users = with_store(settings, lambda store: store.list_users())
    records = [{"id": u.id, "email": u.email, "name": u.name, "agency_admin": u.agency_admin,
                "disabled": u.disabled} for u in users]  # fmt: skip
    if args.json:
        out(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode())
    elif not records:
        out("no users; `tagwire users create EMAIL --name NAME --owner` makes the first")
    else:
        rows = [[str(r["id"]), str(r["email"]), str(r["name"]),
                 "yes" if r["agency_admin"] else "no"] for r in records]  # fmt: skip
        out(table(["id", "email", "name", "agency admin"], rows, set()))
    return 0


def _reset_link(args: argparse.Namespace, settings: Settings) -> int:
    actor = cli_actor().who

    async def create(store: Store) -> tuple[str, int]:
        try:
            return await People(store).create_reset(args.email, actor)
        except FieldError as exc:
            raise CommandError(str(exc)) from None

    token, _ = with_store(settings, create)
    base = args.base_url.rstrip("/")
    out(f"{base}/admin/reset/{token}")
    sys.stderr.write("the link works once, for 24 hours; it is not shown again\n")
    return 0


def _client_create(args: argparse.Namespace, settings: Settings) -> int:
    actor = cli_actor().who

    async def create(store: Store) -> None:
        try:
            await store.create_client(args.id, args.name, actor, People(store).clock())
        except NameTaken:
            raise CommandError(f"a client {args.id!r} exists already") from None

    with_store(settings, create, create=True)
    out(f"created client {args.id}")
    return 0


def _grant(args: argparse.Namespace, settings: Settings) -> int:
    actor = cli_actor().who

    async def grant(store: Store) -> None:
        user = await store.find_user(args.email)
        if user is None:
            raise CommandError(f"no user has the email {args.email}")
        if await store.get_client(args.client) is None:
            raise CommandError(f"no client {args.client!r}; `tagwire clients create` makes it")
        role = None if args.role == "none" else args.role
        await store.set_membership(user.id, args.client, role, actor, People(store).clock())

    with_store(settings, grant)
    out(f"{args.email}: {args.role} on client {args.client}")
    return 0


def _assign(args: argparse.Namespace, settings: Settings) -> int:
    actor = cli_actor().who

    async def assign(store: Store) -> None:
        if await store.get_client(args.client) is None:
            raise CommandError(f"no client {args.client!r}; `tagwire clients create` makes it")
        if args.container not in await store.list_containers():
            raise CommandError(f"no container {args.container!r} in the store")
        await store.assign_container(args.container, args.client, actor, People(store).clock())

    with_store(settings, assign)
    out(f"container {args.container} belongs to client {args.client}")
    return 0


def add_users_commands(commands: Any) -> None:
    """Register `tagwire users …` and `tagwire clients …` on the top-level subparsers."""
    users = commands.add_parser(
        "users",
        help="people who sign in to the admin UI",
        description="Admin UI users. Passwords come from TAGWIRE_PASSWORD or a terminal "
        "prompt. See docs/admin-ui.md.",
    )
    actions = subcommands(users, "users_command")
    create = actions.add_parser("create", help="make a user", description="Make a user.")
    create.add_argument(
        "email", type=argument_type(check_email), metavar="EMAIL", help="what they sign in with"
    )
    create.add_argument("--name", type=argument_type(check_name), required=True)
    create.add_argument(
        "--owner",
        action="store_true",
        help="an agency admin: owner of every client, manages people and clients",
    )
    create.set_defaults(run=_create)
    listing = actions.add_parser("list", help="list users", description="List users.")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(run=_list)
    reset = actions.add_parser(
        "reset-link",
        help="print a one-time password reset link",
        description="Print a link that sets a new password once, within 24 hours.",
    )
    reset.add_argument(
        "email", type=argument_type(check_email), metavar="EMAIL", help="whose password"
    )
    reset.add_argument(
        "--base-url", default="http://127.0.0.1:8000", help="the node's address, for the link"
    )
    reset.set_defaults(run=_reset_link)

    clients = commands.add_parser(
        "clients",
        help="the agency's clients and who may do what on them",
        description="Clients group containers; people get a role per client.",
    )
    client_actions = subcommands(clients, "clients_command")
    make = client_actions.add_parser("create", help="make a client", description="Make a client.")
    make.add_argument(
        "id", type=argument_type(check_client_id), metavar="ID", help="a short id, like acme"
    )
    make.add_argument("--name", type=argument_type(check_name), required=True)
    make.set_defaults(run=_client_create)
    grant = client_actions.add_parser(
        "grant", help="give a user a role on a client", description="Set a user's role."
    )
    grant.add_argument(
        "client", type=argument_type(check_client_id), metavar="CLIENT", help="the client's id"
    )
    grant.add_argument(
        "email", type=argument_type(check_email), metavar="EMAIL", help="the user's email"
    )
    grant.add_argument(
        "role", choices=[*ROLES, "none"], help="viewer, editor, publisher, owner, or none"
    )
    grant.set_defaults(run=_grant)
    assign = client_actions.add_parser(
        "assign",
        help="make a container belong to a client",
        description="A container belongs to one client; this moves it.",
    )
    assign.add_argument(
        "client", type=argument_type(check_client_id), metavar="CLIENT", help="the client's id"
    )
    assign.add_argument("container", metavar="CONTAINER", help="the container's id")
    assign.set_defaults(run=_assign)

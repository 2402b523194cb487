"""`tagwire import|export|version create|versions|publish|rollback|unpublish|archive|audit`.

The control plane's lifecycle of a container from the command line: a document file goes
into the workspace, the workspace is frozen into a signed version, and a version is
published to an environment, which every node serving that environment picks up within
its reload interval. The actions are `admin_ui.versions` (over `config.publishing`) and
`admin_ui.audit`; this module reads the command line and prints. Each change is written
to the audit log with the actor (`--actor`, else `TAGWIRE_ACTOR`, else the login name).
A container these commands name must be in the store: an unknown one exits 1 with the
same message from every command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import yaml

from admin_ui.audit import audit_entries, audit_limit, audit_record
from admin_ui.versions import Versions, listing_record
from config.publishing import check_env_name, check_version_number
from config.schema import load_document
from config.settings import Settings
from config.storage import Store
from tagwire.cli.common import (
    CommandError,
    actor,
    argument_type,
    container_id,
    load_signer,
    out,
    subcommands,
    table,
    when,
    with_store,
)

__all__ = ["add_version_commands"]

T = TypeVar("T")

_version = argument_type(check_version_number)
_env = argument_type(check_env_name)
_limit = argument_type(audit_limit)


def _run(
    settings: Settings,
    work: Callable[[Versions], Awaitable[T]],
    *,
    create: bool = False,
    signing: bool = False,
) -> T:
    """Run `work` on the node's store; the signing key is loaded only for new versions."""

    async def run(store: Store) -> T:
        return await work(Versions(store, signer=load_signer(settings) if signing else None))

    return with_store(settings, run, create=create)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    doc = load_document(args.file)  # DocumentError names the file and every issue
    who = actor(args)
    result = _run(
        settings, lambda versions: versions.import_document(doc, who, str(args.file)), create=True
    )
    if result.changed:
        out(f"imported {args.file} into the workspace of {result.container_id!r}")
    else:
        out(f"{args.file}: the workspace of {result.container_id!r} already holds this document")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    who = actor(args)
    doc = _run(settings, lambda versions: versions.export(args.container, args.ref, who))
    if args.format == "yaml":
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    else:
        text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if args.out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--out {args.out}: cannot write: {exc.strerror}") from None
        sys.stderr.write(f"wrote {args.container}@{args.ref} to {args.out}\n")
    return 0


def _version_create(args: argparse.Namespace, settings: Settings) -> int:
    who = actor(args)
    version = _run(
        settings,
        lambda versions: versions.create_version(args.container, who, args.note),
        signing=True,
    )
    out(
        f"created version {version.number} of {args.container!r} "
        f"(parent {version.parent or '-'}, signed by key {version.key_id})"
    )
    return 0


def _versions(args: argparse.Namespace, settings: Settings) -> int:
    listing = _run(settings, lambda versions: versions.listing(args.container, args.all))
    if args.json:
        out(orjson.dumps(listing_record(listing)).decode())
        return 0
    if not listing.versions:
        out(f"container {args.container!r} has no versions; `tagwire version create` makes one")
        return 0
    rows = [
        [
            str(v.number),
            when(v.created_at_ms),
            v.author,
            ",".join(listing.environments_of(v.number))
            or ("archived" if v.archived_at_ms else "-"),
            v.note.replace("\n", " ")[:60],
        ]
        for v in listing.versions
    ]
    out(table(["VERSION", "CREATED", "AUTHOR", "ENVIRONMENTS", "NOTE"], rows, right={0}))
    return 0


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    who = actor(args)
    previous = _run(
        settings, lambda versions: versions.publish(args.container, args.version, args.env, who)
    )
    was = f" (was version {previous})" if previous is not None else " (new environment)"
    out(f"published version {args.version} of {args.container!r} to {args.env}{was}")
    return 0


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    who = actor(args)
    previous = _run(
        settings, lambda versions: versions.rollback(args.container, args.env, args.to, who)
    )
    out(f"rolled {args.env} of {args.container!r} back to version {args.to} (was {previous})")
    return 0


def _unpublish(args: argparse.Namespace, settings: Settings) -> int:
    who = actor(args)
    version = _run(settings, lambda versions: versions.unpublish(args.container, args.env, who))
    out(f"deleted environment {args.env} of {args.container!r} (it ran version {version})")
    return 0


def _archive(args: argparse.Namespace, settings: Settings) -> int:
    who = actor(args)
    _run(settings, lambda versions: versions.archive(args.container, args.version, who))
    out(f"archived version {args.version} of {args.container!r}")
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    entries = with_store(settings, lambda store: audit_entries(store, args.container, args.limit))
    if args.json:
        for entry in entries:
            out(orjson.dumps(audit_record(entry)).decode())
        return 0
    rows = [
        [
            when(e.at_ms),
            e.actor,
            e.action,
            e.container_id or "-",
            orjson.dumps(e.detail).decode(),
        ]
        for e in entries
    ]
    out(table(["AT", "ACTOR", "ACTION", "CONTAINER", "DETAIL"], rows, right=set()))
    return 0


def _with_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor", help="who does this, for the audit log (default: TAGWIRE_ACTOR or login)"
    )


def _with_container(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "container",
        type=container_id,
        metavar="CONTAINER",
        help=f"the container {what} (its id; it must be in the store)",
    )


def add_version_commands(commands: Any) -> None:
    """Register the workspace, version and environment commands on the top-level parser."""
    imp = commands.add_parser(
        "import",
        help="load a container document into its workspace",
        description="Validate a container document (JSON or YAML) and make it the "
        "workspace (draft) of its container. Nothing changes when the file has any "
        "problem: every problem is listed with its JSON path. Exit 1 on an invalid file.",
    )
    imp.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        help="container document (.json, .yaml); its container.id names it",
    )
    _with_actor(imp)
    imp.set_defaults(run=_import)

    exp = commands.add_parser(
        "export",
        help="print a container document (workspace, version or environment)",
        description="Print the document at REF: 'workspace', a version number, or an "
        "environment name. Secrets are never in it: tags name them, values stay encrypted.",
    )
    _with_container(exp, "whose document to export")
    exp.add_argument(
        "ref",
        nargs="?",
        default="workspace",
        metavar="REF",
        help="workspace (default), a version number or an environment",
    )
    exp.add_argument(
        "--format", choices=["json", "yaml"], default="json", help="json (default) or yaml"
    )
    exp.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
    _with_actor(exp)
    exp.set_defaults(run=_export)

    version = commands.add_parser(
        "version", help="create container versions", description="Create container versions."
    )
    version_commands = subcommands(version, "version_command")
    create = version_commands.add_parser(
        "create",
        help="freeze the workspace into a new signed version",
        description="Freeze CONTAINER's workspace into the next numbered version, signed "
        "with TAGWIRE_SIGNING_KEY_FILE (passphrase from TAGWIRE_SIGNING_KEY_PASSPHRASE).",
    )
    _with_container(create, "whose workspace to freeze")
    create.add_argument("--note", required=True, help="why: shown in `tagwire versions`")
    _with_actor(create)
    create.set_defaults(run=_version_create)

    versions = commands.add_parser(
        "versions",
        help="list a container's versions and environments",
        description="List CONTAINER's versions, newest first, with the environments running each.",
    )
    _with_container(versions, "whose versions to list")
    versions.add_argument("--all", action="store_true", help="include archived versions")
    versions.add_argument("--json", action="store_true", help="one JSON object")
    versions.set_defaults(run=_versions)

    publish = commands.add_parser(
        "publish",
        help="point an environment at a version",
        description="Point ENV (default live) of CONTAINER at VERSION. Nodes serving that "
        "environment switch within their reload interval, without a restart.",
    )
    _with_container(publish, "whose version to publish")
    publish.add_argument(
        "version",
        type=_version,
        metavar="VERSION",
        help="the version number to run (see `tagwire versions`)",
    )
    publish.add_argument("--env", type=_env, default="live", help="environment (default: live)")
    _with_actor(publish)
    publish.set_defaults(run=_publish)

    rollback = commands.add_parser(
        "rollback",
        help="point an environment back at an earlier version",
        description="Point ENV of CONTAINER back at the version given by --to.",
    )
    _with_container(rollback, "whose environment to roll back")
    rollback.add_argument("--env", type=_env, default="live", help="environment (default: live)")
    rollback.add_argument(
        "--to", type=_version, required=True, metavar="VERSION", help="the version to run"
    )
    _with_actor(rollback)
    rollback.set_defaults(run=_rollback)

    unpublish = commands.add_parser(
        "unpublish",
        help="delete a named environment (not live)",
        description="Delete environment ENV of CONTAINER, such as a finished preview. Nodes "
        "stop serving it within their reload interval. live cannot be deleted.",
    )
    _with_container(unpublish, "whose environment to delete")
    unpublish.add_argument("--env", type=_env, required=True, help="environment to delete")
    _with_actor(unpublish)
    unpublish.set_defaults(run=_unpublish)

    archive = commands.add_parser(
        "archive",
        help="hide a version from the list (it is kept, never deleted)",
        description="Archive VERSION of CONTAINER: it stays in the store and the audit "
        "log but cannot be published. A version an environment runs cannot be archived.",
    )
    _with_container(archive, "whose version to archive")
    archive.add_argument(
        "version", type=_version, metavar="VERSION", help="the version number to archive"
    )
    _with_actor(archive)
    archive.set_defaults(run=_archive)

    audit = commands.add_parser(
        "audit",
        help="show who changed what, newest first",
        description="Show the audit log: imports, versions, publishes, rollbacks, "
        "archives, exports, secret, token and outbox changes, newest first.",
    )
    audit.add_argument("--container", metavar="CONTAINER", help="only this container")
    audit.add_argument("--limit", type=_limit, default=50, help="entries (default 50)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(run=_audit)

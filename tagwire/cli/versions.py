"""`tagwire import|export|version create|versions|publish|rollback|archive|audit`.

The control plane's lifecycle of a container from the command line: a document file goes
into the workspace, the workspace is frozen into a signed version, and a version is
published to an environment, which every node serving that environment picks up within
its reload interval. Each change is written to the audit log with the actor (`--actor`,
else `TAGWIRE_ACTOR`, else the login name).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import yaml

from config.publishing import ControlPlane, PublishError, check_env_name, check_version_number
from config.schema import load_document
from config.settings import Settings
from config.storage import Store
from tagwire.cli.common import (
    CommandError,
    UsageError,
    load_signer,
    out,
    subcommands,
    table,
    with_store,
)

__all__ = ["actor", "add_version_commands", "when"]

AUDIT_LIMIT = 10_000


def actor(args: argparse.Namespace) -> str:
    name = args.actor or os.environ.get("TAGWIRE_ACTOR") or getpass.getuser()
    if not name.strip() or len(name) > 200:
        raise UsageError("--actor: give a name of 1 to 200 characters")
    return name.strip()


def _control(settings: Settings, store: Store, *, signing: bool = False) -> ControlPlane:
    return ControlPlane(store, signer=load_signer(settings) if signing else None)


def _run(settings: Settings, work: Any, *, create: bool = False, signing: bool = False) -> Any:
    """Run `work(control)` on the node's store, turning control-plane refusals into
    command errors (exit 1) with their message."""

    async def run(store: Store) -> Any:
        try:
            return await work(_control(settings, store, signing=signing))
        except PublishError as exc:
            raise CommandError(str(exc)) from None

    return with_store(settings, run, create=create)


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _import(args: argparse.Namespace, settings: Settings) -> int:
    doc = load_document(args.file)  # DocumentError names the file and every issue

    async def work(control: ControlPlane) -> Any:
        return await control.import_document(doc, actor(args), str(args.file))

    result = _run(settings, work, create=True)
    if result.changed:
        out(f"imported {args.file} into the workspace of {result.container_id!r}")
    else:
        out(f"{args.file}: the workspace of {result.container_id!r} already holds this document")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    async def work(control: ControlPlane) -> dict[str, Any]:
        return await control.export(args.container, args.ref, actor(args))

    doc = _run(settings, work)
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
    async def work(control: ControlPlane) -> Any:
        return await control.create_version(args.container, actor(args), args.note)

    version = _run(settings, work, signing=True)
    out(
        f"created version {version.number} of {args.container!r} "
        f"(parent {version.parent or '-'}, signed by key {version.key_id})"
    )
    return 0


def _versions(args: argparse.Namespace, settings: Settings) -> int:
    async def work(control: ControlPlane) -> tuple[list[Any], list[Any]]:
        store = control.store
        return (
            await store.list_versions(args.container, args.all),
            await store.list_environments(args.container),
        )

    versions, environments = _run(settings, work)
    envs: dict[int, list[str]] = {}
    for environment in environments:
        envs.setdefault(environment.version, []).append(environment.name)
    if args.json:
        out(
            orjson.dumps(
                {
                    "container": args.container,
                    "environments": {e.name: e.version for e in environments},
                    "versions": [
                        {
                            "number": v.number,
                            "parent": v.parent,
                            "author": v.author,
                            "note": v.note,
                            "created_at_ms": v.created_at_ms,
                            "key_id": v.key_id,
                            "archived_at_ms": v.archived_at_ms,
                            "environments": envs.get(v.number, []),
                        }
                        for v in versions
                    ],
                }
            ).decode()
        )
        return 0
    if not versions:
        out(f"container {args.container!r} has no versions; `tagwire version create` makes one")
        return 0
    rows = [
        [
            str(v.number),
            when(v.created_at_ms),
            v.author,
            ",".join(envs.get(v.number, [])) or ("archived" if v.archived_at_ms else "-"),
            v.note.replace("\n", " ")[:60],
        ]
        for v in versions
    ]
    out(table(["VERSION", "CREATED", "AUTHOR", "ENVIRONMENTS", "NOTE"], rows, right={0}))
    return 0


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    async def work(control: ControlPlane) -> int | None:
        return await control.publish(args.container, args.version, args.env, actor(args))

    previous = _run(settings, work)
    was = f" (was version {previous})" if previous is not None else " (new environment)"
    out(f"published version {args.version} of {args.container!r} to {args.env}{was}")
    return 0


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    async def work(control: ControlPlane) -> int:
        return await control.rollback(args.container, args.env, args.to, actor(args))

    previous = _run(settings, work)
    out(f"rolled {args.env} of {args.container!r} back to version {args.to} (was {previous})")
    return 0


def _unpublish(args: argparse.Namespace, settings: Settings) -> int:
    async def work(control: ControlPlane) -> int:
        return await control.unpublish(args.container, args.env, actor(args))

    version = _run(settings, work)
    out(f"deleted environment {args.env} of {args.container!r} (it ran version {version})")
    return 0


def _archive(args: argparse.Namespace, settings: Settings) -> int:
    async def work(control: ControlPlane) -> None:
        await control.archive(args.container, args.version, actor(args))

    _run(settings, work)
    out(f"archived version {args.version} of {args.container!r}")
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    async def work(control: ControlPlane) -> list[Any]:
        return await control.store.audit_log(args.container, args.limit)

    entries = _run(settings, work)
    if args.json:
        for entry in entries:
            out(
                orjson.dumps(
                    {
                        "at_ms": entry.at_ms,
                        "actor": entry.actor,
                        "action": entry.action,
                        "container": entry.container_id,
                        "detail": entry.detail,
                    }
                ).decode()
            )
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


def _version(text: str) -> int:
    try:
        return check_version_number(text)
    except PublishError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limit(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= AUDIT_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to {AUDIT_LIMIT}")
    return int(text)


def _env(text: str) -> str:
    try:
        return check_env_name(text)
    except PublishError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _with_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actor", help="who does this, for the audit log (default: TAGWIRE_ACTOR or login)"
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
    imp.add_argument("file", type=Path, metavar="FILE")
    _with_actor(imp)
    imp.set_defaults(run=_import)

    exp = commands.add_parser(
        "export",
        help="print a container document (workspace, version or environment)",
        description="Print the document at REF: 'workspace', a version number, or an "
        "environment name. Secrets are never in it: tags name them, values stay encrypted.",
    )
    exp.add_argument("container", metavar="CONTAINER")
    exp.add_argument("ref", nargs="?", default="workspace", metavar="REF")
    exp.add_argument("--format", choices=["json", "yaml"], default="json")
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
    create.add_argument("container", metavar="CONTAINER")
    create.add_argument("--note", required=True, help="why: shown in `tagwire versions`")
    _with_actor(create)
    create.set_defaults(run=_version_create)

    versions = commands.add_parser(
        "versions",
        help="list a container's versions and environments",
        description="List CONTAINER's versions, newest first, with the environments running each.",
    )
    versions.add_argument("container", metavar="CONTAINER")
    versions.add_argument("--all", action="store_true", help="include archived versions")
    versions.add_argument("--json", action="store_true", help="one JSON object")
    versions.set_defaults(run=_versions)

    publish = commands.add_parser(
        "publish",
        help="point an environment at a version",
        description="Point ENV (default live) of CONTAINER at VERSION. Nodes serving that "
        "environment switch within their reload interval, without a restart.",
    )
    publish.add_argument("container", metavar="CONTAINER")
    publish.add_argument("version", type=_version, metavar="VERSION")
    publish.add_argument("--env", type=_env, default="live", help="environment (default: live)")
    _with_actor(publish)
    publish.set_defaults(run=_publish)

    rollback = commands.add_parser(
        "rollback",
        help="point an environment back at an earlier version",
        description="Point ENV of CONTAINER back at the version given by --to.",
    )
    rollback.add_argument("container", metavar="CONTAINER")
    rollback.add_argument("--env", type=_env, default="live", help="environment (default: live)")
    rollback.add_argument("--to", type=_version, required=True, metavar="VERSION")
    _with_actor(rollback)
    rollback.set_defaults(run=_rollback)

    unpublish = commands.add_parser(
        "unpublish",
        help="delete a named environment (not live)",
        description="Delete environment ENV of CONTAINER, such as a finished preview. Nodes "
        "stop serving it within their reload interval. live cannot be deleted.",
    )
    unpublish.add_argument("container", metavar="CONTAINER")
    unpublish.add_argument("--env", type=_env, required=True, help="environment to delete")
    _with_actor(unpublish)
    unpublish.set_defaults(run=_unpublish)

    archive = commands.add_parser(
        "archive",
        help="hide a version from the list (it is kept, never deleted)",
        description="Archive VERSION of CONTAINER: it stays in the store and the audit "
        "log but cannot be published. A version an environment runs cannot be archived.",
    )
    archive.add_argument("container", metavar="CONTAINER")
    archive.add_argument("version", type=_version, metavar="VERSION")
    _with_actor(archive)
    archive.set_defaults(run=_archive)

    audit = commands.add_parser(
        "audit",
        help="show who changed what, newest first",
        description="Show the audit log: imports, versions, publishes, rollbacks, "
        "archives, exports and secret changes, newest first.",
    )
    audit.add_argument("--container", metavar="CONTAINER", help="only this container")
    audit.add_argument("--limit", type=_limit, default=50, help="entries (default 50)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(run=_audit)

"""The control plane's lifecycle of a container: workspace → signed version → environment.

One class holds the rules every front end shares (the CLI now, the admin UI later): an
import replaces the workspace only when the whole document is valid; a version is the
workspace frozen, numbered and signed, never edited; publishing and rolling back only move
an environment's pointer to an existing, unarchived version. The store writes the audit
row of each change in the same transaction as the change itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.canonical import CanonicalError, canonical
from config.errors import DocumentError, Issue
from config.lua_check import template_issues
from config.schema import validate_document
from config.storage import AuditStore, StoredVersion, VersionConflict, VersionStore, Workspace
from config.versions import VersionRecord, seal

__all__ = [
    "ENV_NAME",
    "LIVE",
    "ControlPlane",
    "ControlPlaneStore",
    "Imported",
    "PublishError",
    "check_env_name",
    "check_version_number",
]

LIVE = "live"
ENV_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
NOTE_LIMIT = 2_000
MAX_VERSION = 2**53  # version numbers stay exact in JSON and in every store's integers


class PublishError(Exception):
    """A control-plane action that cannot be done as asked; the message says what to do."""


def check_env_name(name: str) -> str:
    if not ENV_NAME.fullmatch(name):
        raise PublishError(
            f"environment {name!r} is not a valid name: use 1 to 40 lower-case letters, "
            "digits and '-', starting with a letter or digit (e.g. live, staging, pr-12)"
        )
    return name


def check_version_number(value: object) -> int:
    """A version number: a whole number from 1 to 2^53, or ASCII digits spelling one."""
    number = value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_VERSION:
        raise PublishError(f"{value!r} is not a version number (1 to {MAX_VERSION})")
    return number


def _now_ms() -> int:
    return int(time.time() * 1000)


class ControlPlaneStore(VersionStore, AuditStore, Protocol):
    """The roles `ControlPlane` uses: versions and environments, and the audit log for
    the actions that change no row (exports)."""


@dataclass(frozen=True, slots=True)
class Imported:
    container_id: str
    changed: bool


class ControlPlane:
    """`signer` is needed only to create versions; `clock` gives milliseconds."""

    def __init__(
        self,
        store: ControlPlaneStore,
        *,
        signer: Ed25519PrivateKey | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock

    async def import_document(
        self, doc: object, actor: str, source: str = "<document>"
    ) -> Imported:
        """Replace the container's workspace with `doc`, or raise DocumentError listing
        every problem (with its JSON path) and leave the workspace as it was."""
        issues = validate_document(doc)
        if not issues:
            assert isinstance(doc, dict)
            try:
                canonical(doc)
            except CanonicalError as exc:
                issues = [Issue(exc.path.removeprefix("$."), exc.reason)]
            else:
                issues = template_issues(doc)
        if issues:
            raise DocumentError(issues, source)
        assert isinstance(doc, dict)
        container_id = doc["container"]["id"]
        body = orjson.dumps(doc)
        current = await self.store.get_workspace(container_id)
        # Canonical bytes, not ==: in Python 1 == 1.0 == True, in a condition they differ.
        if current is not None and canonical(orjson.loads(current.document)) == canonical(doc):
            return Imported(container_id, changed=False)
        await self.store.save_workspace(container_id, body, actor, self.clock(), {"source": source})
        return Imported(container_id, changed=True)

    async def workspace(self, container_id: str) -> Workspace:
        found = await self.store.get_workspace(container_id)
        if found is None:
            raise PublishError(
                f"container {container_id!r} has no workspace; `tagwire import FILE` creates it"
            )
        return found

    async def create_version(self, container_id: str, actor: str, note: str) -> StoredVersion:
        """Freeze the workspace as the next version, signed. Refuses a workspace that is
        the same as the latest version: a version nobody changed is noise in the history."""
        if self.signer is None:
            raise PublishError(
                "no signing key: set TAGWIRE_SIGNING_KEY_FILE to the private key made by "
                "`tagwire keys generate`"
            )
        if len(note) > NOTE_LIMIT:
            raise PublishError(f"--note: at most {NOTE_LIMIT} characters, got {len(note)}")
        if not note.strip():
            raise PublishError("--note: say why this version exists (it is shown in history)")
        document = orjson.loads((await self.workspace(container_id)).document)
        for _ in range(3):
            latest = await self.store.latest_version(container_id)
            if latest is not None and canonical(orjson.loads(latest.body)["document"]) == (
                canonical(document)
            ):
                raise PublishError(
                    f"the workspace of {container_id!r} is the same as version "
                    f"{latest.number}; change it (`tagwire import FILE`) before making a version"
                )
            number = 1 if latest is None else latest.number + 1
            record = VersionRecord(
                container_id=container_id,
                number=number,
                parent=None if latest is None else latest.number,
                author=actor,
                note=note,
                created_at_ms=self.clock(),
                document=document,
            )
            signed = seal(record, self.signer)
            version = StoredVersion(
                container_id=container_id,
                number=number,
                parent=record.parent,
                author=actor,
                note=note,
                created_at_ms=record.created_at_ms,
                body=signed.body,
                signature=signed.signature,
                key_id=signed.key_id,
                archived_at_ms=None,
            )
            try:
                await self.store.insert_version(version, actor)
            except VersionConflict:
                continue  # another author took this number: sign the next one
            return version
        raise PublishError(
            f"could not create a version of {container_id!r}: other versions kept being "
            "created at the same moment; try again"
        )

    async def publish(self, container_id: str, number: int, env: str, actor: str) -> int | None:
        """Point `env` at version `number`; returns the version it pointed at before."""
        return await self.store.set_environment(
            container_id,
            check_env_name(env),
            check_version_number(number),
            "publish",
            actor,
            self.clock(),
        )

    async def rollback(self, container_id: str, env: str, to: int, actor: str) -> int:
        """Point an existing environment at another version it ran or could run, recorded
        as a rollback (usually an earlier one)."""
        check_env_name(env)
        check_version_number(to)
        current = await self.environment_version(container_id, env)
        if current is None:
            raise PublishError(
                f"container {container_id!r} has no environment {env!r} to roll back; "
                f"publish a version to it first"
            )
        if to == current:
            raise PublishError(f"{env!r} of {container_id!r} already runs version {to}")
        await self.store.set_environment(container_id, env, to, "rollback", actor, self.clock())
        return current

    async def unpublish(self, container_id: str, env: str, actor: str) -> int:
        """Delete a named environment (a finished preview); returns the version it ran.
        `live` cannot be deleted: it is what the site runs, so it only ever moves."""
        if check_env_name(env) == LIVE:
            raise PublishError(
                "the live environment cannot be unpublished; publish or roll back to the "
                "version it should run instead"
            )
        current = await self.environment_version(container_id, env)
        if current is None or not await self.store.delete_environment(
            container_id, env, actor, self.clock()
        ):
            raise PublishError(f"container {container_id!r} has no environment {env!r}")
        return current

    async def environment_version(self, container_id: str, env: str) -> int | None:
        for environment in await self.store.list_environments(container_id):
            if environment.name == env:
                return environment.version
        return None

    async def archive(self, container_id: str, number: int, actor: str) -> None:
        await self.store.archive_version(
            container_id, check_version_number(number), actor, self.clock()
        )

    async def document(self, container_id: str, ref: str) -> dict[str, Any]:
        """The document at `ref`: `workspace`, a version number, or an environment name."""
        # Both bodies are JSON this store wrote: the workspace a document object, a version
        # the signed record that holds one.
        if ref == "workspace":
            workspace: dict[str, Any] = orjson.loads((await self.workspace(container_id)).document)
            return workspace
        if ref.isascii() and ref.isdigit():
            number = check_version_number(ref)
        else:
            found = await self.environment_version(container_id, check_env_name(ref))
            if found is None:
                raise PublishError(
                    f"container {container_id!r} has no environment {ref!r}; "
                    f"`tagwire versions {container_id}` lists environments"
                )
            number = found
        version = await self.store.get_version(container_id, number)
        if version is None:
            raise PublishError(
                f"container {container_id!r} has no version {number}; "
                f"`tagwire versions {container_id}` lists them"
            )
        document: dict[str, Any] = orjson.loads(version.body)["document"]
        return document

    async def export(self, container_id: str, ref: str, actor: str) -> dict[str, Any]:
        """The document at `ref`, audited: an export leaves the control plane."""
        doc = await self.document(container_id, ref)
        await self.store.add_audit(
            actor, "container.export", container_id, {"ref": ref}, self.clock()
        )
        return doc

"""Operator actions on a container's lifecycle (workspace, versions, environments) for
every front end.

The rules themselves are `config.publishing.ControlPlane`'s (what a valid import is, how
a version is signed, where an environment may point). `Versions` puts one rule in front
of each action that names an existing container: the container must be in the store,
so `tagwire versions typo` fails like `tagwire export typo` (UnknownContainer) instead
of listing nothing. It also shapes what listings return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from admin_ui.containers import require_container
from admin_ui.times import now_ms
from config.publishing import ControlPlane, ControlPlaneStore, Imported
from config.storage import Environment, StoredVersion

__all__ = ["VersionListing", "Versions", "listing_record"]


@dataclass(frozen=True, slots=True)
class VersionListing:
    """A container's versions, newest first, and its environments."""

    container_id: str
    versions: list[StoredVersion]
    environments: list[Environment]

    def environments_of(self, number: int) -> list[str]:
        """The names of the environments that run version `number`."""
        return [e.name for e in self.environments if e.version == number]


def listing_record(listing: VersionListing) -> dict[str, Any]:
    """The listing as operators read it (`tagwire versions --json`)."""
    return {
        "container": listing.container_id,
        "environments": {e.name: e.version for e in listing.environments},
        "versions": [
            {
                "number": v.number,
                "parent": v.parent,
                "author": v.author,
                "note": v.note,
                "created_at_ms": v.created_at_ms,
                "key_id": v.key_id,
                "archived_at_ms": v.archived_at_ms,
                "environments": listing.environments_of(v.number),
            }
            for v in listing.versions
        ],
    }


class Versions:
    """The lifecycle actions over one store; `signer` is needed only to create versions.
    Refusals are ControlPlane's PublishError, the store's version errors (UnknownVersion,
    VersionArchived, VersionInUse) and UnknownContainer."""

    def __init__(
        self,
        store: ControlPlaneStore,
        *,
        signer: Ed25519PrivateKey | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.control = ControlPlane(store, signer=signer, clock=clock)

    async def import_document(self, doc: object, actor: str, source: str) -> Imported:
        """Make `doc` its container's workspace; an import is how a container begins, so
        it is the one action that needs no known container."""
        return await self.control.import_document(doc, actor, source)

    async def export(self, container_id: str, ref: str, actor: str) -> dict[str, Any]:
        await self._known(container_id)
        return await self.control.export(container_id, ref, actor)

    async def document(self, container_id: str, ref: str) -> dict[str, Any]:
        """The document at `ref`, unaudited (for a diff that stays on this machine)."""
        await self._known(container_id)
        return await self.control.document(container_id, ref)

    async def create_version(self, container_id: str, actor: str, note: str) -> StoredVersion:
        await self._known(container_id)
        return await self.control.create_version(container_id, actor, note)

    async def listing(self, container_id: str, include_archived: bool) -> VersionListing:
        await self._known(container_id)
        return VersionListing(
            container_id,
            await self.store.list_versions(container_id, include_archived),
            await self.store.list_environments(container_id),
        )

    async def publish(self, container_id: str, number: int, env: str, actor: str) -> int | None:
        await self._known(container_id)
        return await self.control.publish(container_id, number, env, actor)

    async def rollback(self, container_id: str, env: str, to: int, actor: str) -> int:
        await self._known(container_id)
        return await self.control.rollback(container_id, env, to, actor)

    async def unpublish(self, container_id: str, env: str, actor: str) -> int:
        await self._known(container_id)
        return await self.control.unpublish(container_id, env, actor)

    async def archive(self, container_id: str, number: int, actor: str) -> None:
        await self._known(container_id)
        await self.control.archive(container_id, number, actor)

    async def _known(self, container_id: str) -> None:
        await require_container(self.store, container_id)

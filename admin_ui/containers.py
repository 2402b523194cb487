"""Which containers an action may name: ids written by the document rule, and known
either to the store (a workspace or a version) or from a document file a node serves.

An action that changes or reads one container asks `require_container` first, so a
typo fails the same way everywhere instead of creating a token, an empty listing or a
misleading "no workspace" for a container that never existed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from admin_ui.errors import FieldError, UnknownContainer
from config.schema import load_document
from config.storage import VersionStore

__all__ = ["CONTAINER_ID", "check_container_id", "require_container", "served_ids"]

# The container id rule of container documents: `*` (admin tokens) can never be one.
CONTAINER_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def check_container_id(text: str) -> str:
    if not CONTAINER_ID.fullmatch(text):
        raise FieldError(
            "container",
            f"{text!r} is not a container id: 1 to 64 lower-case letters, digits, '_' and "
            "'-', starting with a letter or digit",
        )
    return text


def served_ids(files: Sequence[Path]) -> set[str]:
    """The container ids of document files a node serves (`serve --container FILE`,
    TAGWIRE_CONTAINERS). A file that cannot be read or is invalid raises its
    DocumentError: the node would refuse to start with it too."""
    return {load_document(path)["container"]["id"] for path in files}


async def require_container(
    store: VersionStore, container_id: str, files: Sequence[Path] = (), hint: str = ""
) -> None:
    """Raise UnknownContainer (its message ending in `hint`) unless the store knows
    `container_id` or one of `files` is its document; the files are read only when the
    store does not know it."""
    check_container_id(container_id)
    known = await store.list_containers()
    if container_id in known or (files and container_id in served_ids(files)):
        return
    raise UnknownContainer(container_id, known, hint)

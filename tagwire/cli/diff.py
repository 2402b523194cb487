"""`tagwire diff A B`: what changed between two container documents.

A and B are each a document file, or `CONTAINER@REF` for a document in the store, where
REF is `workspace`, a version number or an environment name (`demo@workspace`,
`demo@3`, `demo@live`). Files are validated first, so the diff only ever describes
documents a node would accept. Exit 0 whenever the comparison ran, whether or not they
differ: "different" is the answer, not a failure (check `"equal"` in `--json` to script
on it). Exit 1 for an invalid or unreadable file or an unknown reference, 2 for a bad
command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from admin_ui.versions import Versions
from config.diff import diff_documents
from config.schema import load_document
from config.settings import Settings
from config.storage import Store
from tagwire.cli.common import UsageError, out, with_store

__all__ = ["add_diff_commands"]

_DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")


def _stored_ref(text: str) -> tuple[str, str] | None:
    container, at, ref = text.rpartition("@")
    if not at or Path(text).exists() or Path(text).suffix.lower() in _DOCUMENT_SUFFIXES:
        return None  # a file, even a missing one: load_document says it cannot be read
    if not container or not ref:
        raise UsageError(f"{text!r}: write CONTAINER@REF (REF: workspace, a version, an env)")
    return container, ref


def _documents(args: argparse.Namespace, settings: Settings) -> list[dict[str, Any]]:
    refs = [_stored_ref(text) for text in (args.old, args.new)]
    docs: list[dict[str, Any] | None] = [
        None if ref else load_document(Path(text))  # DocumentError: main() exits 1
        for text, ref in zip((args.old, args.new), refs, strict=True)
    ]
    if any(refs):

        async def work(store: Store) -> None:
            versions = Versions(store)
            for index, ref in enumerate(refs):
                if ref is not None:
                    docs[index] = await versions.document(*ref)

        with_store(settings, work)
    return [doc for doc in docs if doc is not None]


def _diff(args: argparse.Namespace, settings: Settings) -> int:
    old, new = _documents(args, settings)
    result = diff_documents(old, new)
    if args.json:
        out(orjson.dumps(result.to_json()).decode())
    else:
        out(result.to_text())
    return 0


def add_diff_commands(commands: Any) -> None:
    """Register `tagwire diff` on the top-level subparsers."""
    diff = commands.add_parser(
        "diff",
        help="show what changed between two container documents or versions",
        description="Compare two container documents: each a file (JSON or YAML) or "
        "CONTAINER@REF with REF one of workspace, a version number, an environment "
        "(demo@1, demo@workspace, demo@live). Container settings, and variables, "
        "triggers, templates and tags matched by id. Exit 0 when the comparison ran, "
        "whether or not they differ; 1 when a file is invalid or a reference unknown. "
        "See docs/diff.md.",
    )
    diff.add_argument("old", metavar="OLD", help="the earlier document")
    diff.add_argument("new", metavar="NEW", help="the later document")
    diff.add_argument(
        "--json", action="store_true", help="print the diff as one JSON object (for tools)"
    )
    diff.set_defaults(run=_diff)

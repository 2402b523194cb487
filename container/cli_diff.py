"""`tagwire diff OLD NEW`: what changed between two container document files.

Both files are validated first, so the diff only ever describes documents a node would
accept. Exit 0 whenever the comparison ran, whether or not the files differ: "different"
is the answer, not a failure (check `"equal"` in `--json` to script on it). Exit 1 for an
invalid or unreadable file, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson

from config.diff import diff_documents
from config.schema import load_document
from config.settings import Settings
from container.cli_common import out

__all__ = ["add_diff_commands"]


def _diff(args: argparse.Namespace, settings: Settings) -> int:
    # load_document raises DocumentError naming the file and every issue; main() exits 1.
    result = diff_documents(load_document(args.old), load_document(args.new))
    if args.json:
        out(orjson.dumps(result.to_json()).decode())
    else:
        out(result.to_text())
    return 0


def add_diff_commands(commands: Any) -> None:
    """Register `tagwire diff` on the top-level subparsers."""
    diff = commands.add_parser(
        "diff",
        help="show what changed between two container documents",
        description="Compare two container documents (JSON or YAML): container settings, "
        "and variables, triggers, templates and tags matched by id. Exit 0 when the "
        "comparison ran, whether or not they differ; 1 when a file is invalid. "
        "See docs/diff.md.",
    )
    diff.add_argument("old", type=Path, metavar="OLD", help="the earlier document")
    diff.add_argument("new", type=Path, metavar="NEW", help="the later document")
    diff.add_argument(
        "--json", action="store_true", help="print the diff as one JSON object (for tools)"
    )
    diff.set_defaults(run=_diff)

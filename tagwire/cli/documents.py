"""`tagwire validate`: check container documents before they are imported or served."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from config.lua_check import template_issues
from config.schema import DocumentError, load_document
from config.settings import Settings
from tagwire.cli.common import out

__all__ = ["add_validate_command"]


def add_validate_command(commands: Any) -> None:
    validate = commands.add_parser(
        "validate",
        help="check container documents",
        description="Check container documents (JSON or YAML). "
        "Exit 0 when all are valid, 1 when any is not.",
    )
    validate.add_argument(
        "file", nargs="+", type=Path, metavar="FILE", help="container document (JSON or YAML)"
    )
    validate.set_defaults(run=_validate)


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    failed = 0
    for path in args.file:
        try:
            doc = load_document(path)
        except DocumentError as exc:
            failed += 1
            for issue in exc.issues:
                sys.stderr.write(f"{path}: {issue}\n")
            continue
        problems = template_issues(doc)
        if problems:
            failed += 1
            for problem in problems:
                sys.stderr.write(f"{path}: {problem}\n")
            continue
        out(
            f"{path}: valid (container {doc['container']['id']!r}, {len(doc['tags'])} tags, "
            f"{len(doc['triggers'])} triggers)"
        )
    return 1 if failed else 0

"""`tagwire template test|run`: a template package's own tests, or one run on a hit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from config.secrets import env_secrets
from config.settings import Settings
from tags.errors import TemplateError
from tags.package import load_package
from tags.runtime import TagResult
from tags.testing import result_document, run_once, run_tests
from tagwire.cli.common import UsageError, out, subcommands
from tagwire.node import check_hit

__all__ = ["add_template_commands"]


def add_template_commands(commands: Any) -> None:
    template = commands.add_parser(
        "template", help="test and run tag templates", description="Test and run Lua tag templates."
    )
    actions = subcommands(template, "template_command")
    test = actions.add_parser(
        "test", help="run a template package's own tests",
        description="Run the tests in each template package (folder or .lua file). "
        "Exit 0 when all pass, 1 on any failure.",
    )  # fmt: skip
    test.add_argument("path", nargs="+", type=Path, metavar="PATH",
                      help="template folder or .lua file")  # fmt: skip
    test.set_defaults(run=_template_test)
    run = actions.add_parser(
        "run", help="run a template once on a hit and print the result as JSON",
        description='Run a template once and print {"pixels", "requests", "logs", "error"} '
        "as one JSON object. Exit 0 on success, 1 on a template error, 2 on bad input.",
    )  # fmt: skip
    run.add_argument("path", type=Path, metavar="PATH", help="template folder or .lua file")
    run.add_argument("--hit", type=Path, required=True, metavar="HIT.json",
                     help="a hit (schema v1) as JSON")  # fmt: skip
    run.add_argument("--params", type=Path, metavar="PARAMS.json", help="tag parameters")
    run.set_defaults(run=_template_run)


def _template_test(args: argparse.Namespace, settings: Settings) -> int:
    missing = [str(path) for path in args.path if not path.exists()]
    if missing:
        raise UsageError("no such template folder or .lua file: " + ", ".join(missing))
    failed = 0
    for path in args.path:
        try:
            package = load_package(path)
        except TemplateError as exc:
            sys.stderr.write(f"{path}: {exc}\n")
            failed += 1
            continue
        outcomes = run_tests(package, check_hit)
        if not outcomes:
            out(f"{path}: no tests in the package")
        for outcome in outcomes:
            out(f"{'PASS' if outcome.passed else 'FAIL'} {package.name}: {outcome.name}")
            if not outcome.passed:
                failed += 1
                out(outcome.diff)
    out("all tests passed" if not failed else f"{failed} failed")
    return 1 if failed else 0


def _read_json(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{what} {path}: invalid JSON: {exc}") from None


def _template_run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.path.exists():
        raise UsageError(f"{args.path}: no such template folder or .lua file")
    wire = _read_json(args.hit, "--hit")
    problems = check_hit(wire)
    if problems:
        raise UsageError(f"--hit {args.hit}: not a valid hit: " + "; ".join(problems))
    params = _read_json(args.params, "--params") if args.params else {}
    if not isinstance(params, dict):
        raise UsageError(f"--params {args.params}: must be a JSON object")
    try:
        package = load_package(args.path)
    except TemplateError as exc:
        result = TagResult(error=exc)
    else:
        result = run_once(
            package, wire, params, secrets=env_secrets(),
            allow_http_loopback=settings.allow_http_loopback,
        )  # fmt: skip
    out(orjson.dumps(result_document(result)).decode())
    return 1 if result.error else 0

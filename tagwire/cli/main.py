"""The `tagwire` command: the parser assembled from one module per command group, and the
one place where errors become exit codes (2 for bad usage or settings, 1 otherwise)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from config.schema import DocumentError
from config.settings import SettingsError, load_settings
from config.storage import StorageError
from tagwire import __version__
from tagwire.cli.backup import add_backup_command
from tagwire.cli.common import CommandError, UsageError, subcommands
from tagwire.cli.diff import add_diff_commands
from tagwire.cli.documents import add_validate_command
from tagwire.cli.fakes import add_fakes_command
from tagwire.cli.keys import add_keys_commands
from tagwire.cli.ops import add_history_command, add_outbox_commands
from tagwire.cli.secrets import add_secrets_commands
from tagwire.cli.serve import add_serve_commands
from tagwire.cli.templates import add_template_commands
from tagwire.cli.tokens import add_tokens_commands
from tagwire.cli.users import add_users_commands
from tagwire.cli.versions import add_version_commands
from tagwire.logs import configure_logging

__all__ = ["build_parser", "main"]

COMMAND_GROUPS = (
    add_serve_commands,
    add_validate_command,
    add_template_commands,
    add_fakes_command,
    add_outbox_commands,
    add_history_command,
    add_tokens_commands,
    add_users_commands,
    add_keys_commands,
    add_diff_commands,
    add_version_commands,
    add_secrets_commands,
    add_backup_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagwire",
        description="Self-hosted server-side tag manager. Settings come from TAGWIRE_* "
        "environment variables and an optional TOML file named by TAGWIRE_SETTINGS_FILE.",
    )
    parser.add_argument("--version", action="version", version=f"tagwire {__version__}")
    commands = subcommands(parser, "command")
    for add in COMMAND_GROUPS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    try:
        settings = load_settings(overrides=overrides)
        configure_logging(settings.log_level)
        return int(args.run(args, settings))
    except (SettingsError, DocumentError, StorageError, CommandError) as exc:
        sys.stderr.write(f"tagwire: {exc}\n")
        return 2 if isinstance(exc, SettingsError | UsageError) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

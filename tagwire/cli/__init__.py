"""The `tagwire` command: one module per command group, assembled in `main`."""

from tagwire.cli.main import build_parser, main

__all__ = ["build_parser", "main"]

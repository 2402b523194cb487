"""`tagwire fake-platforms`: the strict fake platform APIs, for a user's own tests and demos."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from typing import Any

import orjson

from config.settings import Settings
from tagwire.cli.common import UsageError, out

__all__ = ["add_fakes_command"]


def add_fakes_command(commands: Any) -> None:
    fakes = commands.add_parser(
        "fake-platforms",
        help="serve fake Meta, TikTok, LinkedIn, Google Ads and GA4 APIs for tests and demos",
        description="Serve strict fake platform APIs on a loopback address. Prints "
        '{"url", "base_urls"} as one JSON line when ready, then serves until SIGINT or '
        "SIGTERM. See docs/fake-platforms.md.",
    )
    fakes.add_argument("--host", dest="fake_host", default="127.0.0.1", metavar="HOST",
                       help="loopback address to bind (default: 127.0.0.1)")  # fmt: skip
    fakes.add_argument("--port", dest="fake_port", default=8100, type=_port, metavar="PORT",
                       help="port, 0 for a free one (default: 8100)")  # fmt: skip
    fakes.set_defaults(run=_fake_platforms)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def _fake_platforms(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the fake platforms until SIGINT or SIGTERM; their URLs go to stdout as JSON."""
    # Imported here so that only this command loads the test doubles.
    from fake_platforms import serve

    stop = threading.Event()
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in handled}
    try:
        with contextlib.ExitStack() as stack:
            try:
                running = stack.enter_context(serve(host=args.fake_host, port=args.fake_port))
            except ValueError as exc:
                raise UsageError(f"--host: {exc}") from None
            except OSError as exc:
                raise UsageError(
                    f"cannot listen on {args.fake_host}:{args.fake_port}: {exc.strerror}"
                ) from None
            out(orjson.dumps({"url": running.url, "base_urls": running.base_urls}).decode())
            sys.stderr.write(f"fake platforms ready; events page: {running.url}/_fake/\n")
            for name, url in running.base_urls.items():
                sys.stderr.write(f"  TAGWIRE_{name.upper()}={url}\n")
            sys.stderr.flush()
            while not stop.wait(0.2):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0

"""Run the fake platforms on a real uvicorn server in a background thread.

Tests and `tagwire fake-platforms` both use `serve`, so what a test exercises is the same
server the demo runs. The fakes accept fixed test credentials, so they bind to loopback
addresses only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from fake_platforms.accounts import FakeAccounts
from fake_platforms.app import FakePlatforms, base_urls
from fake_platforms.exchange import Clock

__all__ = ["FakeServer", "loopback_host", "serve"]

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class FakeServer:
    """A running fake: its base URL, tagwire's base-URL settings for it, and its state."""

    url: str
    base_urls: dict[str, str]
    platforms: FakePlatforms


def loopback_host(host: str) -> str:
    """The address to bind for `host`; ValueError unless it is a loopback address."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{host!r} is not an IP address; use 127.0.0.1, ::1 or localhost"
        ) from None
    if not address.is_loopback:
        raise ValueError(
            f"{host} is not a loopback address: the fake platforms accept fixed test "
            "credentials, so they only listen on 127.0.0.1, ::1 or localhost"
        )
    return str(address)


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def serve(
    accounts: FakeAccounts | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
) -> Iterator[FakeServer]:
    """Serve fresh fake platforms until the block ends (port 0 picks a free port).

    Raises ValueError for a non-loopback host and OSError when the port cannot be bound.
    """
    address = loopback_host(host)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not from 0 to 65535")
    platforms = FakePlatforms(accounts, clock)
    sock = _bind(address, port)
    config = uvicorn.Config(
        platforms.app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="fake-platforms", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake platforms server did not start")
            time.sleep(0.01)
        bound_port = sock.getsockname()[1]
        shown = f"[{address}]" if ":" in address else address
        url = f"http://{shown}:{bound_port}"
        yield FakeServer(url, base_urls(url), platforms)
    finally:
        platforms.release()
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()

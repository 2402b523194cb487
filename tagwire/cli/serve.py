"""`tagwire serve` and `tagwire migrate`: run a node, or bring its store's schema up to date.

A plain `serve` imports neither the demo nor the fake platforms: `--demo` loads them
through `tagwire.cli.demo_node` only when it is asked for.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from config.postgres_store import PostgresStore
from config.schema import apply_defaults, load_document
from config.secret_box import SecretBox
from config.secrets import env_secrets
from config.settings import Settings
from config.signing import SigningKeyError, load_public_key
from config.storage import StorageError
from config.store_factory import make_store, store_location
from container.config_source import HttpConfigSource
from container.containers import ContainerSet
from container.node_secrets import NodeSecrets
from container.pipeline import CompiledContainer
from container.reload import ConfigSource, ConfigWatcher, builder
from tags.errors import TemplateError
from tags.runtime import TemplateRuntime
from tagwire.cli.common import CommandError, UsageError, load_signer, out
from tagwire.cli.workers import STARTUP_FAILED, Supervisor
from tagwire.http_limits import HeadLimits, limited_httptools
from tagwire.logs import configure_logging
from tagwire.node import build_control_plane, build_node

__all__ = ["add_serve_commands"]

CONFIG_TIMEOUT_S = 10.0  # one request to the control plane's config API
MAX_WORKERS = 64
HTTP_DRAIN_S = 10  # how long open requests may take to finish when a node stops


def add_serve_commands(commands: Any) -> None:
    """`serve`, `admin` and `migrate`."""
    serve = commands.add_parser(
        "serve",
        help="run a node: /collect, the Fire API, the loader, delivery and the admin APIs",
        description="Run a node: /collect, the Fire API, the loader, the pipeline and the "
        "outbox sender, with the admin and config APIs over the same store.",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also serve the demo site, its container, a local receiver and the fake platforms",
    )
    serve.add_argument("--host", help="bind address (default: TAGWIRE_HOST or 127.0.0.1)")
    serve.add_argument("--port", help="port, 0 for a free one (default: TAGWIRE_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=_worker_count,
        default=1,
        metavar="N",
        help="processes serving the one socket, each with its own sender (default 1; "
        "use the machine's core count)",
    )
    serve.add_argument(
        "--container",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="container document to serve (repeatable)",
    )
    serve.set_defaults(run=_serve)

    admin = commands.add_parser(
        "admin",
        help="run a control-plane node: the admin UI and the admin and config APIs only",
        description="Run the control plane alone: the admin UI under /admin/ and the admin "
        "and config APIs, over the store; no /collect, loader or sender. Edge nodes pull "
        "published versions from it (TAGWIRE_CONFIG_URL).",
    )
    admin.add_argument("--host", help="bind address (default: TAGWIRE_HOST or 127.0.0.1)")
    admin.add_argument("--port", help="port, 0 for a free one (default: TAGWIRE_PORT or 8000)")
    admin.set_defaults(run=_admin)

    migrate = commands.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Apply pending schema migrations to the store.",
    )
    migrate.set_defaults(run=_migrate)


def _worker_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= count <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_WORKERS}, got {count}")
    return count


def _compile(
    docs: list[tuple[str, dict[str, Any]]], secrets: NodeSecrets, settings: Settings
) -> dict[str, CompiledContainer]:
    """Each container with a runtime of its own, whose secret lookup is the container's."""
    containers: dict[str, CompiledContainer] = {}
    for source, doc in docs:
        runtime = TemplateRuntime(
            secrets.lookup_for(doc["container"]["id"]),
            allow_http_loopback=settings.allow_http_loopback,
            deadline_ms=settings.tag_deadline_ms,
        )
        try:
            compiled = CompiledContainer.compile(apply_defaults(doc), runtime)
        except TemplateError as exc:
            raise CommandError(f"{source}: {exc}") from None
        if compiled.id in containers:
            raise CommandError(f"{source}: container id {compiled.id!r} is loaded twice")
        containers[compiled.id] = compiled
    return containers


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _address(sock: socket.socket) -> tuple[str, str, int]:
    """(host, the host as a URL shows it: an IPv6 address in brackets, port) of a bound
    socket."""
    host, port = sock.getsockname()[:2]
    return host, f"[{host}]" if ":" in host else host, port


def _check_remote(args: argparse.Namespace, settings: Settings) -> None:
    """A node that pulls from a control plane needs a token to ask with and a key to check
    what it gets; settings are parsed one at a time, so the pairs are checked here."""
    if not settings.config_token:
        raise UsageError(
            "TAGWIRE_CONFIG_URL is set but TAGWIRE_CONFIG_TOKEN is not: make an admin token "
            "with `tagwire tokens create --admin --name NAME` against the control plane's store"
        )
    if args.demo:
        raise UsageError("--demo serves its own store; unset TAGWIRE_CONFIG_URL to use it")
    if settings.signing_public_key_file is None:
        raise UsageError(
            "TAGWIRE_CONFIG_URL is set but TAGWIRE_SIGNING_PUBLIC_KEY_FILE is not: a node "
            "that pulls versions from a control plane checks each signature with the public key"
        )


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if settings.config_url:
        _check_remote(args, settings)
    files = [*settings.containers, *args.container]
    if files and (args.demo or settings.signing_public_key_file is not None):
        raise UsageError(
            "this node serves signed, published versions (TAGWIRE_SIGNING_PUBLIC_KEY_FILE "
            "or --demo), so it takes no container files: `tagwire import FILE`, "
            "`tagwire version create` and `tagwire publish` put a file into service"
        )
    if not files and not args.demo and settings.signing_public_key_file is None:
        raise CommandError(
            "no container to serve: set TAGWIRE_SIGNING_PUBLIC_KEY_FILE to serve published "
            "versions, pass --container FILE (or TAGWIRE_CONTAINERS) to serve files, or "
            "use --demo"
        )
    docs = [(str(path), load_document(path)) for path in files]
    if args.workers > 1:
        return _serve_workers(args, settings, docs)
    sock = _bind(settings.host, settings.port)
    try:
        server = _server(args, settings, docs, sock)
    except BaseException:
        sock.close()
        raise
    server.run(sockets=[sock])
    return 0 if server.started else 1


def _serve_workers(
    args: argparse.Namespace, settings: Settings, docs: list[tuple[str, dict[str, Any]]]
) -> int:
    """`--workers N`: the store's schema brought up to date once, then N workers on one
    socket under a supervisor (tagwire/cli/workers.py)."""
    if args.demo:
        raise UsageError("--demo runs in one process: leave out --workers")
    _migrate(args, settings)
    sock = _bind(settings.host, settings.port)
    try:
        _, display_host, port = _address(sock)
        out(f"tagwire listening on http://{display_host}:{port} with {args.workers} workers")
        # a worker's drain: open requests, then the sender's grace, then a margin
        grace = HTTP_DRAIN_S + settings.shutdown_grace_s + 5
        return Supervisor(
            args.workers, _worker, (args, settings, docs), sock, stop_grace_s=grace
        ).run()
    finally:
        sock.close()


def _worker(
    args: argparse.Namespace,
    settings: Settings,
    docs: list[tuple[str, dict[str, Any]]],
    sock: socket.socket,
    slot: int,
) -> None:
    """One worker process: a whole node on the supervisor's socket."""
    configure_logging(settings.log_level)
    try:
        server = _server(args, settings, docs, sock, announce=False)
    except (CommandError, StorageError) as exc:
        sys.stderr.write(f"tagwire: worker {slot}: {exc}\n")
        sys.exit(STARTUP_FAILED)
    server.run(sockets=[sock])
    sys.exit(0 if server.started else STARTUP_FAILED)


def _public_key(settings: Settings) -> Ed25519PublicKey:
    path = settings.signing_public_key_file
    assert path is not None
    try:
        return load_public_key(path.read_bytes())
    except OSError as exc:
        raise CommandError(
            f"TAGWIRE_SIGNING_PUBLIC_KEY_FILE {path}: cannot read: {exc.strerror}"
        ) from None
    except SigningKeyError as exc:
        raise CommandError(f"TAGWIRE_SIGNING_PUBLIC_KEY_FILE {path}: {exc}") from None


def _watcher(
    settings: Settings, source: ConfigSource, containers: ContainerSet, secrets: NodeSecrets
) -> ConfigWatcher:
    return ConfigWatcher(
        source,
        containers,
        _public_key(settings),
        builder(secrets, settings.allow_http_loopback, settings.tag_deadline_ms),
        interval_s=settings.reload_interval_s,
        environments=settings.environments,
        secrets=secrets,
        changes=source.config_changes if isinstance(source, PostgresStore) else None,
    )


def _server(
    args: argparse.Namespace,
    settings: Settings,
    docs: list[tuple[str, dict[str, Any]]],
    sock: socket.socket,
    *,
    announce: bool = True,
) -> uvicorn.Server:
    host, display_host, port = _address(sock)
    extra_routes = []
    secrets = env_secrets()
    banner = []
    if args.demo:
        # Imported here, not at the top, so that a production node never loads the demo
        # or the fake platforms (tests check sys.modules after a plain serve).
        from tagwire.cli.demo_node import prepare_demo

        demo = prepare_demo(settings, host, display_host, port, secrets)
        settings, secrets, extra_routes = demo.settings, demo.secrets, demo.routes
        banner = demo.banner
    store = make_store(settings)
    remote = None
    if settings.signing_public_key_file is not None:
        containers = ContainerSet()
        box = SecretBox.from_text(settings.secrets_key) if settings.secrets_key else None
        # Pulling from a control plane: versions and secrets come from there, while the
        # node's own store still holds its outbox, history and tokens.
        if settings.config_url:
            remote = HttpConfigSource(
                settings.config_url, settings.config_token, timeout=CONFIG_TIMEOUT_S
            )
        source = remote or store
        node_secrets = NodeSecrets(source, box, secrets)
        watcher = _watcher(settings, source, containers, node_secrets)
    else:
        node_secrets = NodeSecrets(None, None, secrets)
        containers = ContainerSet.of(_compile(docs, node_secrets, settings))
        watcher = None
    app = build_node(
        settings,
        store,
        containers,
        watcher=watcher,
        secrets=node_secrets,
        remote=remote,
        signer=load_signer(settings) if settings.admin_ui else None,
        extra_routes=extra_routes,
    )
    if announce:
        out(f"tagwire listening on http://{display_host}:{port}")
    for line in banner:
        out(line)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        # httptools, with limits on the request line and headers (431/414 before buffering)
        http=limited_httptools(
            HeadLimits(settings.max_url_bytes, settings.max_headers, settings.max_header_bytes)
        ),
        proxy_headers=False,  # tagwire resolves X-Forwarded-For itself, only for trusted proxies
        server_header=False,
        access_log=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=HTTP_DRAIN_S,
    )
    return uvicorn.Server(config)


def _admin(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.admin_ui:
        raise UsageError("TAGWIRE_ADMIN_UI is off: a control-plane node serves the admin UI")
    signer = load_signer(settings)
    sock = _bind(settings.host, settings.port)
    _, display_host, port = _address(sock)
    app = build_control_plane(settings, make_store(settings), signer)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=limited_httptools(
            HeadLimits(settings.max_url_bytes, settings.max_headers, settings.max_header_bytes)
        ),
        proxy_headers=False,
        server_header=False,
        access_log=False,
        log_config=None,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    out(f"tagwire admin listening on http://{display_host}:{port}/admin/")
    if signer is None:
        out("no TAGWIRE_SIGNING_KEY_FILE: versions cannot be created here until it is set")
    server.run(sockets=[sock])
    return 0 if server.started else 1


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        store = make_store(settings)
        await store.open()
        try:
            return await store.schema_version()
        finally:
            await store.close()

    version = asyncio.run(run())
    out(f"{store_location(settings)}: schema at version {version}")
    return 0

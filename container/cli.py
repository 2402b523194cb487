"""The `tagwire` command line: serve, migrate, validate, template test|run, fake-platforms,
outbox, history, tokens, keys, diff (the last five in `cli_ops`, `cli_tokens`, `cli_keys`
and `cli_diff`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from config.lua_check import template_issues
from config.schema import (
    DocumentError,
    apply_defaults,
    load_document,
    validate_document,
)
from config.secret_box import SecretBox
from config.secrets import env_secrets
from config.settings import Settings, SettingsError, load_settings
from config.signing import SigningKeyError, load_public_key
from config.sqlite_store import SQLiteStore
from config.storage import StorageError
from container.app import create_app
from container.cli_common import CommandError, UsageError, with_store
from container.cli_common import out as _out
from container.cli_diff import add_diff_commands
from container.cli_keys import add_keys_commands
from container.cli_ops import add_history_command, add_outbox_commands
from container.cli_secrets import add_secrets_commands
from container.cli_tokens import add_tokens_commands
from container.cli_versions import add_version_commands
from container.config_source import HttpConfigSource
from container.containers import ContainerSet
from container.demo import DemoReceiver, demo_document, demo_routes, demo_secrets
from container.demo.publish import DemoKeyError, demo_keys, publish_demo
from container.fake_platforms import FakePlatforms, base_urls, pixel_script_urls
from container.fake_platforms import serve as serve_fake_platforms
from container.hit import validate_hit
from container.logs import configure_logging
from container.node_secrets import NodeSecrets
from container.pipeline import CompiledContainer
from container.reload import ConfigSource, ConfigWatcher, builder
from tags.errors import TemplateError
from tags.package import load_package
from tags.runtime import TagResult, TemplateRuntime
from tags.testing import result_document, run_once, run_tests

__all__ = ["main"]


def _compile(
    docs: list[tuple[str, dict[str, Any]]], secrets: NodeSecrets, allow_http_loopback: bool
) -> dict[str, CompiledContainer]:
    """Each container with a runtime of its own, whose secret lookup is the container's."""
    containers: dict[str, CompiledContainer] = {}
    for source, doc in docs:
        runtime = TemplateRuntime(
            secrets.lookup_for(doc["container"]["id"]), allow_http_loopback=allow_http_loopback
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


CONFIG_TIMEOUT_S = 10.0  # one request to the control plane's config API


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
    sock = _bind(settings.host, settings.port)
    try:
        server = _server(args, settings, docs, sock)
    except BaseException:
        sock.close()
        raise
    server.run(sockets=[sock])
    return 0 if server.started else 1


def _falling_back(
    lookup: Callable[[str], str | None], defaults: dict[str, str]
) -> Callable[[str], str | None]:
    """A secret lookup that uses `defaults` for names the environment does not set."""
    return lambda name: lookup(name) or defaults.get(name)


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
        builder(secrets, settings.allow_http_loopback),
        interval_s=settings.reload_interval_s,
        environments=settings.environments,
        secrets=secrets,
    )


def _server(
    args: argparse.Namespace,
    settings: Settings,
    docs: list[tuple[str, dict[str, Any]]],
    sock: socket.socket,
) -> uvicorn.Server:
    host, port = sock.getsockname()[:2]
    display_host = f"[{host}]" if ":" in host else host
    extra_routes = []
    secrets = env_secrets()
    banner = []
    if args.demo:
        receiver_host = "127.0.0.1" if host in ("0.0.0.0", "::") else display_host  # noqa: S104
        doc = demo_document(f"http://{receiver_host}:{port}/demo/receiver")
        issues = validate_document(doc)
        if issues:
            raise CommandError("bundled demo container is invalid: " + "; ".join(map(str, issues)))
        # The demo's platform tags send to the fake platforms this node serves under /fake,
        # and the loader inserts the fakes' stand-in pixel libraries.
        platforms = FakePlatforms()
        extra_routes = demo_routes(DemoReceiver(), platforms)
        fakes = f"http://{receiver_host}:{port}/fake"
        try:
            keyed = demo_keys(settings)
        except DemoKeyError as exc:
            raise UsageError(str(exc)) from None
        settings = dataclasses.replace(
            keyed,
            allow_http_loopback=True,
            **base_urls(fakes),
            **pixel_script_urls(fakes),
        )
        secrets = _falling_back(secrets, demo_secrets())
        published = with_store(
            settings, lambda store: publish_demo(store, settings, doc), create=True
        )
        if published is not None:
            banner.append(f"published the bundled demo container as version {published} to live")
        banner.append(f"signing key:      {settings.signing_key_file} (TAGWIRE_SIGNING_KEY_FILE)")
    store = SQLiteStore(settings.sqlite_path)
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
        containers = ContainerSet.of(_compile(docs, node_secrets, settings.allow_http_loopback))
        watcher = None
    app = create_app(
        settings,
        store,
        containers,
        extra_routes,
        watcher=watcher,
        secrets=node_secrets,
        remote=remote,
    )
    _out(f"tagwire listening on http://{display_host}:{port}")
    if args.demo:
        _out(f"demo site:        http://{display_host}:{port}/demo/")
        _out(f"delivered events: http://{display_host}:{port}/demo/events")
        _out(f"fake platforms:   http://{display_host}:{port}/fake/_fake/")
    for line in banner:
        _out(line)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,  # tagwire resolves X-Forwarded-For itself, only for trusted proxies
        server_header=False,
        access_log=False,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    return uvicorn.Server(config)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def run() -> int:
        store = SQLiteStore(settings.sqlite_path)
        await store.open()
        try:
            return await store.schema_version()
        finally:
            await store.close()

    version = asyncio.run(run())
    _out(f"{settings.sqlite_path}: schema at version {version}")
    return 0


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
        _out(
            f"{path}: valid (container {doc['container']['id']!r}, {len(doc['tags'])} tags, "
            f"{len(doc['triggers'])} triggers)"
        )
    return 1 if failed else 0


def _check_hit(wire: object) -> list[str]:
    return [f"{field}: {reason}" for field, reason in validate_hit(wire)]


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
        outcomes = run_tests(package, _check_hit)
        if not outcomes:
            _out(f"{path}: no tests in the package")
        for outcome in outcomes:
            _out(f"{'PASS' if outcome.passed else 'FAIL'} {package.name}: {outcome.name}")
            if not outcome.passed:
                failed += 1
                _out(outcome.diff)
    passed = "all tests passed" if not failed else f"{failed} failed"
    _out(passed)
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
    problems = _check_hit(wire)
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
    _out(orjson.dumps(result_document(result)).decode())
    return 1 if result.error else 0


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
    stop = threading.Event()
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in handled}
    try:
        with contextlib.ExitStack() as stack:
            try:
                running = stack.enter_context(
                    serve_fake_platforms(host=args.fake_host, port=args.fake_port)
                )
            except ValueError as exc:
                raise UsageError(f"--host: {exc}") from None
            except OSError as exc:
                raise UsageError(
                    f"cannot listen on {args.fake_host}:{args.fake_port}: {exc.strerror}"
                ) from None
            _out(orjson.dumps({"url": running.url, "base_urls": running.base_urls}).decode())
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagwire",
        description="Self-hosted server-side tag manager. Settings come from TAGWIRE_* "
        "environment variables and an optional TOML file named by TAGWIRE_SETTINGS_FILE.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the data plane (/collect, delivery)",
        description="Run the data plane: /collect, the pipeline and the outbox sender.",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also serve the demo site, its container and a local receiver",
    )
    serve.add_argument("--host", help="bind address (default: TAGWIRE_HOST or 127.0.0.1)")
    serve.add_argument("--port", help="port, 0 for a free one (default: TAGWIRE_PORT or 8000)")
    serve.add_argument(
        "--container",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="container document to serve (repeatable)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser(
        "migrate",
        help="create or upgrade the database schema",
        description="Apply pending schema migrations to the store.",
    )
    migrate.set_defaults(run=_migrate)

    validate = commands.add_parser(
        "validate",
        help="check container documents",
        description="Check container documents (JSON or YAML). "
        "Exit 0 when all are valid, 1 when any is not.",
    )
    validate.add_argument("file", nargs="+", type=Path, metavar="FILE")
    validate.set_defaults(run=_validate)

    template = commands.add_parser("template", help="test and run tag templates",
                                   description="Test and run Lua tag templates.")  # fmt: skip
    template_commands = template.add_subparsers(dest="template_command", required=True,
                                                metavar="COMMAND")  # fmt: skip
    test = template_commands.add_parser(
        "test", help="run a template package's own tests",
        description="Run the tests in each template package (folder or .lua file). "
        "Exit 0 when all pass, 1 on any failure.",
    )  # fmt: skip
    test.add_argument("path", nargs="+", type=Path, metavar="PATH")
    test.set_defaults(run=_template_test)
    run = template_commands.add_parser(
        "run", help="run a template once on a hit and print the result as JSON",
        description='Run a template once and print {"pixels", "requests", "logs", "error"} '
        "as one JSON object. Exit 0 on success, 1 on a template error, 2 on bad input.",
    )  # fmt: skip
    run.add_argument("path", type=Path, metavar="PATH", help="template folder or .lua file")
    run.add_argument("--hit", type=Path, required=True, metavar="HIT.json",
                     help="a hit (schema v1) as JSON")  # fmt: skip
    run.add_argument("--params", type=Path, metavar="PARAMS.json", help="tag parameters")
    run.set_defaults(run=_template_run)

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

    add_outbox_commands(commands)
    add_history_command(commands)
    add_tokens_commands(commands)
    add_keys_commands(commands)
    add_diff_commands(commands)
    add_version_commands(commands)
    add_secrets_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    try:
        settings = load_settings(overrides=overrides)
        configure_logging(settings.log_level)
        return args.run(args, settings)
    except (SettingsError, DocumentError, StorageError, CommandError) as exc:
        sys.stderr.write(f"tagwire: {exc}\n")
        return 2 if isinstance(exc, SettingsError | UsageError) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""Shared test helpers: a valid hit, a container document, free ports."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import uvicorn

EMAIL_HASH = hashlib.sha256(b"jane.doe@example.com").hexdigest()

# The egress policy refuses loopback targets: a test node that delivers to a receiver or
# to the fake platforms on 127.0.0.1 allows exactly that address.
LOOPBACK_EGRESS = {"TAGWIRE_EGRESS_ALLOW": "127.0.0.1"}


def make_hit(**overrides: Any) -> dict[str, Any]:
    hit: dict[str, Any] = {
        "v": 1,
        "event": "lead",
        "event_id": "0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10",
        "ts": 1_763_900_000_000,
        "page": {
            "url": "https://www.example.com/en/thanks",
            "referrer": "",
            "title": "Thanks",
            "locale": "en-GB",
        },
        "consent": {
            "ad_storage": "granted",
            "analytics_storage": "granted",
            "ad_user_data": "granted",
            "ad_personalization": "denied",
            "source": "api",
        },
        "user": {"em": EMAIL_HASH},
        "click": {"fbclid": "IwAR2xyz", "gclid": "Cj0KCQ"},
        "data": {"value": 50, "currency": "EUR", "lead_id": "L-1001"},
        "custom": {"plan": "pro"},
    }
    hit.update(overrides)
    return hit


def make_document(url: str = "https://hooks.example.com/tagwire", **tag: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "container": {"id": "shop", "name": "Shop", "allowed_origins": ["https://www.example.com"]},
        "triggers": [
            {"id": "leads", "name": "Leads", "events": ["lead"]},
            {"id": "everything", "name": "All", "events": ["*"]},
            {"id": "tests", "name": "Test events", "events": ["test_*"]},
        ],
        "tags": [
            {
                "id": "hook",
                "name": "Webhook",
                "template": "webhook",
                "params": {"url": url, "event_names": {"lead": "Lead"}},
                "firing_triggers": ["leads"],
                "consent": {"gcm": ["ad_storage"]},
            }
        ],
    }
    doc["tags"][0].update(tag)
    return copy.deepcopy(doc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run an ASGI app on a real uvicorn server on 127.0.0.1; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


async def answer_lifespan(receive: Any, send: Any) -> None:
    """What a raw ASGI test app says to uvicorn's lifespan messages: ready, then stopped."""
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def read_body(receive: Any) -> bytes:
    """A request's whole body, however many messages it came in."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


class Recorder:
    """A fake destination that records requests and answers with scripted responses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.responses: list[tuple[int, dict[str, str], bytes]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        body = await read_body(receive)
        self.requests.append(
            {
                "path": scope["path"],
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body": body,
            }
        )
        status, headers, payload = self.responses.pop(0) if self.responses else (204, {}, b"")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@contextlib.contextmanager
def tagwire_process(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `tagwire serve ARGS` as a real process on a free port; yields its base URL."""
    port = free_port()
    full_env = {**os.environ, "TAGWIRE_LOG_LEVEL": "warning", **(env or {})}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tagwire",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *args,
        ],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"tagwire exited {process.returncode}: {process.stderr.read().decode()}"
                )
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("tagwire did not become ready in 20 s")
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def wait_until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)


def hit_record(wire: dict[str, Any] | None = None, **facts: Any) -> Any:
    """A variables.hit.Hit around a wire hit, with server facts overridable."""
    from variables.hit import Hit

    wire = make_hit() if wire is None else wire
    values: dict[str, Any] = {
        "container_id": "shop", "event": wire.get("event", ""),
        "event_id": wire.get("event_id", ""), "wire": wire, "event_time_ms": 1,
        "received_ms": 2, "client_ip": "203.0.113.5", "user_agent": "Mozilla/5.0",
        "client_id": None, "sec_gpc": False, "trace_id": "trace", "cookies": {}, "headers": [],
    }  # fmt: skip
    values.update(facts)
    return Hit(**values)


def json_values(
    *,
    allow_nan: bool = True,
    text: int | None = 20,
    width: int = 4,
    leaves: int = 20,
    extra: Sequence[Any] = (),
    keys: Any = None,
) -> Any:
    """Hypothesis strategy: any JSON-like value (what an attacker can put in a body).

    `extra` adds scalars worth trying (huge ints, tricky URLs); `keys` replaces the
    strategy for object keys (default: short text)."""
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=allow_nan)
    scalars |= st.text(max_size=text) if text is not None else st.text()
    if extra:
        scalars |= st.sampled_from(list(extra))
    key_strategy = st.text(max_size=8) if keys is None else keys
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=width) | st.dictionaries(key_strategy, inner, max_size=width)
        ),
        max_leaves=leaves,
    )


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Runs `tagwire ARGV` in-process: (exit code, stdout, stderr)."""
    from tagwire.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tagwire_cli(
    env: dict[str, str], *argv: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `tagwire ARGV` as its own process, as an operator would. Fails the test when
    the command fails."""
    result = subprocess.run([sys.executable, "-m", "tagwire", *argv], env=env,
                            input=stdin, capture_output=True, text=True, timeout=60,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def served_version(base: str, container_id: str = "shop", env: str = "live") -> int | None:
    """The version a running node reports in /readyz for one environment."""
    for item in httpx.get(f"{base}/readyz", timeout=5).json().get("environments", []):
        if (item["container"], item["env"]) == (container_id, env):
            return item["version"]
    return None


def isolate_settings(monkeypatch: Any, data_dir: Any) -> None:
    """No TAGWIRE_* setting from the machine running the tests leaks into a CLI call: only
    the data dir is set, to `data_dir`."""
    for name in list(os.environ):
        if name.startswith("TAGWIRE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TAGWIRE_DATA_DIR", str(data_dir))


def on_store(path: Any, work: Any) -> Any:
    """Opens the SQLite store at `path`, awaits `work(store)`, closes it; its result."""
    from config.sqlite_store import SQLiteStore

    async def run() -> Any:
        store = SQLiteStore(path)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())

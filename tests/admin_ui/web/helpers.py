"""A real admin UI over a real SQLite store, and a browser-like client that signs in,
reads each page's CSRF token and posts forms the way the pages do."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from admin_ui.people import People
from admin_ui.web import AdminUI
from config.sqlite_store import SQLiteStore
from config.storage import PreviewSession
from container.delivery.outbox import OutboxWriter
from container.node_secrets import NodeSecrets
from container.reload import builder
from container.trials import TrialRunner
from tagwire.node import check_hit

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_PRE = re.compile(r'name="pre" value="([^"]+)"')

DOCUMENT: dict[str, Any] = {
    "container": {"id": "shop", "name": "Shop", "domain": "www.example.com"},
    "variables": [],
    "triggers": [{"id": "leads", "name": "Leads", "events": ["lead"]}],
    "tags": [
        {
            "id": "hook",
            "name": "Webhook",
            "template": "webhook",
            "params": {"url": "https://hooks.example.com/in"},
            "firing_triggers": ["leads"],
        }
    ],
}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def with_store(path: Path, work: Any) -> Any:
    store = SQLiteStore(path)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def add_user(db: Path, email: str, *, admin: bool = False, name: str = "") -> int:
    async def work(store: SQLiteStore) -> int:
        return await People(store).create_user(
            email, name or email.split("@")[0], PASSWORD, agency_admin=admin, actor="test"
        )

    return int(run(with_store(db, work)))


def admin_app(
    db: Path,
    signer: Ed25519PrivateKey | None = None,
    secrets_key: str = "",
    test_fire: bool = False,
) -> Starlette:
    """The admin UI alone over the store; with `test_fire`, test fires run on a real
    pipeline and outbox writer over the same store (no sender: rows stay pending)."""
    store = SQLiteStore(db)
    writer = OutboxWriter(store, on_commit=lambda: None)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        writer.start()
        try:
            yield
        finally:
            await writer.stop()
            await store.close()

    secrets = NodeSecrets(None, None, lambda name: None)

    async def no_refresh() -> None:
        return None

    ui = AdminUI(
        store,
        signer=signer or Ed25519PrivateKey.generate(),
        secrets_key=secrets_key,
        check_hit=check_hit,  # as tagwire/node.py wires it
        test_fire=TrialRunner(builder(secrets, False), writer, no_refresh) if test_fire else None,
    )
    return Starlette(routes=[Mount("/admin", app=ui)], lifespan=lifespan)


@contextlib.contextmanager
def browser(db: Path, secrets_key: str = "", test_fire: bool = False) -> Iterator[TestClient]:
    app = admin_app(db, secrets_key=secrets_key, test_fire=test_fire)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/admin/signin")
    pre = _PRE.search(page.text)
    assert pre, page.text
    return client.post(
        "/admin/signin", data={"pre": pre.group(1), "email": email, "password": password}
    )


def csrf_of(client: TestClient, path: str = "/admin/clients") -> str:
    page = client.get(path)
    found = _CSRF.search(page.text)
    assert found, f"no CSRF token on {path}: {page.status_code} {page.text[:300]}"
    return found.group(1)


def post_form(client: TestClient, path: str, data: dict[str, str], csrf: str | None = None) -> Any:
    token = csrf_of(client) if csrf is None else csrf
    return client.post(path, data={"csrf": token, **data})


def add_preview_hit(db: Path, container: str, hit: dict) -> str:
    """A preview session of `container` with one traced hit; the hit's sample key."""
    session = f"s-{container}-0000000000000"

    async def work(store):
        await store.create_preview(PreviewSession(session, container, "workspace", b"{}", 1,
                                                  "dry_run", None, "ed", 1, 2**42))  # fmt: skip
        trace = {"v": 1, "at_ms": 5, "event": hit["event"], "hit": hit, "summary": "1 fired"}
        await store.add_traces([(session, 5, hit["event"], "fired", orjson.dumps(trace))], 10)
        [found] = await store.traces(session, 0, 1)
        return f"{session}:{found.id}"

    return run(with_store(db, work))


"""Helpers: the gtag intake in front of a real `/collect` endpoint, outbox writer and SQLite
store."""

from __future__ import annotations

import contextlib
import copy
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from config.schema import apply_defaults
from config.sqlite_store import SQLiteStore
from container.collect import CollectEndpoint
from container.containers import ContainerSet
from container.delivery.outbox import OutboxWriter
from container.gtag import GtagEndpoint, MeasurementProtocolEndpoint
from container.guards import Guards
from container.lanes import TagLanes
from container.pipeline import CompiledContainer
from tags.runtime import TemplateRuntime
from tests.helpers import make_document

TID = "G-TEST1234"
MP_SECRET = "mp-secret-value-1"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def gtag_document(**gtag: Any) -> dict[str, Any]:
    """A container taking TID, whose webhook tag sends every event (with ad_storage)."""
    doc = make_document(firing_triggers=["everything"])
    doc["container"]["gtag"] = {"measurement_ids": [TID], "mp_api_secret": "ga4-mp", **gtag}
    return copy.deepcopy(doc)


@contextlib.contextmanager
def intake(
    tmp_path: Path,
    docs: list[dict[str, Any]] | None = None,
    secrets: dict[tuple[str, str], str] | None = None,
    guards: Guards | None = None,
) -> Iterator[TestClient]:
    """A client for `/g/collect` and `/mp/collect` in front of `/collect` (which runs
    `guards`, None: no guard); the secret lookup answers from `secrets` (default:
    MP_SECRET for shop's `ga4-mp`)."""
    store = SQLiteStore(tmp_path / "tagwire.db")
    writer = OutboxWriter(store, on_commit=lambda: None)
    runtime = TemplateRuntime()
    compiled = [CompiledContainer.compile(apply_defaults(d), runtime)
                for d in docs or [gtag_document()]]  # fmt: skip
    containers = ContainerSet.of({c.id: c for c in compiled})
    lanes = TagLanes(workers=1)
    collect = CollectEndpoint(containers, writer, lanes, (), "", guards=guards)
    known = {("shop", "ga4-mp"): MP_SECRET} if secrets is None else secrets
    gtag = GtagEndpoint(collect, containers)
    mp = MeasurementProtocolEndpoint(collect, containers, lambda c, n: known.get((c, n)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        await store.open()
        lanes.start()
        writer.start()
        yield
        await writer.stop()
        await lanes.stop()
        await store.close()

    app = Starlette(
        routes=[Route("/g/collect", gtag, methods=["GET", "POST", "OPTIONS"]),
                Route("/mp/collect", mp, methods=["POST"])],
        lifespan=lifespan,
    )  # fmt: skip
    with TestClient(app, base_url="https://t.example.com", headers={"user-agent": CHROME}) as c:
        yield c


def outbox(tmp_path: Path) -> list[dict[str, Any]]:
    """The webhook bodies queued so far, oldest first."""
    conn = sqlite3.connect(tmp_path / "tagwire.db")
    try:
        rows = conn.execute("SELECT body FROM outbox ORDER BY id").fetchall()
    finally:
        conn.close()
    return [orjson.loads(body) for (body,) in rows]

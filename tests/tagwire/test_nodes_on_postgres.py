"""Two real nodes on one PostgreSQL database. Behind a round-robin client, one is killed
with SIGKILL under load and started again: every acknowledged hit reaches the receiver,
and the ones sent twice (the dead node's sends in flight, which the platforms' dedup keys
absorb) are counted and reported. A version published into the shared store is served
by both within the reload interval."""

from __future__ import annotations

import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from admin_ui.versions import Versions
from config.postgres_store import PostgresStore
from config.signing import generate_keypair, load_private_key
from tests.helpers import LOOPBACK_EGRESS, free_port, serve_in_thread

pytestmark = pytest.mark.e2e

HITS = 240
KILL_AT, RESTART_AT = 80, 160
GRANTED = {"ad_storage": "granted", "analytics_storage": "granted",
           "ad_user_data": "granted", "ad_personalization": "granted"}  # fmt: skip
SENDER_CONCURRENCY = 8  # the setting's default: the most sends one node has in flight


def receiver() -> tuple[Starlette, collections.Counter[str]]:
    """A webhook receiver that takes a moment per request, so a killed node has sends in
    flight; it counts every delivery by event id."""
    received: collections.Counter[str] = collections.Counter()

    async def take(request: Request) -> Response:
        await asyncio.sleep(0.05)
        received[json.loads(await request.body())["event_id"]] += 1
        return Response(status_code=204)

    return Starlette(routes=[Route("/in", take, methods=["POST"])]), received


def send_lead(client: httpx.Client, bases: list[str], index: int) -> tuple[str | None, int]:
    """One lead with a fresh event id, to each base in turn until one acknowledges it:
    (its event id, or None when none did; how many tries met a closed connection)."""
    event_id = str(uuid.uuid4())
    hit = {"v": 1, "event": "lead", "event_id": event_id, "consent": GRANTED,
           "data": {"lead_id": f"L-{index}"}}  # fmt: skip
    refused = 0
    for base in bases:
        try:
            answer = client.post(f"{base}/collect?id=shop", json=hit)
        except httpx.TransportError:
            refused += 1
            continue
        if answer.status_code in (200, 204):
            return event_id, refused
    return None, refused


def document(url: str) -> dict[str, Any]:
    return {
        "container": {"id": "shop", "name": "Shop", "allowed_origins": []},
        "triggers": [{"id": "leads", "name": "Leads", "events": ["lead"]}],
        "tags": [{"id": "hook", "name": "Webhook", "template": "webhook",
                  "params": {"url": url}, "firing_triggers": ["leads"],
                  "fire_once": "event_id"}],
    }  # fmt: skip


class Node:
    """One `tagwire serve` process on the shared database."""

    def __init__(self, doc: Path | None, env: dict[str, str], log: Path) -> None:
        """`doc` None: the node serves the versions published in the store."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:  # a file, not a pipe: a node must never block on its log
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tagwire", "serve",
                 *(["--container", str(doc)] if doc is not None else []),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, stdout=subprocess.DEVNULL, stderr=out,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "node not ready in 30 s"
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(20)


@pytest.fixture
def database_url(postgres_url: str, scratch_schema: str) -> str:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(scratch_schema)))
    return f"{postgres_url}?options=-csearch_path%3D{scratch_schema}"


def test_a_killed_node_loses_no_acknowledged_hit(tmp_path, database_url, capsys):
    app, received = receiver()
    with serve_in_thread(app) as base:
        doc = tmp_path / "shop.json"
        doc.write_text(json.dumps(document(f"{base}/in")))
        env = {**os.environ, **LOOPBACK_EGRESS, "TAGWIRE_DATABASE_URL": database_url,
               "TAGWIRE_ALLOW_HTTP_LOOPBACK": "on", "TAGWIRE_LOG_LEVEL": "warning",
               "TAGWIRE_DATA_DIR": str(tmp_path / "data"),
               "TAGWIRE_SPIKE_MIN_EVENTS": "1000000"}  # a test burst, not a bot spike  # fmt: skip
        log = tmp_path / "nodes.log"
        nodes = [Node(doc, env, log), Node(doc, env, log)]
        acknowledged: list[str] = []
        refused = 0
        try:
            with httpx.Client(timeout=5) as client:
                for index in range(HITS):
                    if index == KILL_AT:
                        nodes[0].stop(signal.SIGKILL)
                    if index == RESTART_AT:
                        nodes[0] = Node(doc, env, log)
                    # round robin; a try the other node refuses goes to this one
                    bases = [nodes[index % 2].base, nodes[(index + 1) % 2].base]
                    event_id, failed = send_lead(client, bases, index)
                    refused += failed
                    if event_id is not None:
                        acknowledged.append(event_id)
            deadline = time.monotonic() + 60  # the orphan sweep runs every 15 s
            while set(acknowledged) - set(received) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            for node in nodes:
                node.stop()
    missing = set(acknowledged) - set(received)
    twice = sum(count - 1 for count in received.values())
    with capsys.disabled():
        print(f"\n{len(acknowledged)} of {HITS} hits acknowledged ({refused} tries refused by "
              f"the killed node), {len(received)} delivered, {len(missing)} missing, "
              f"{twice} sent twice")  # fmt: skip
    assert len(acknowledged) == HITS
    assert not missing, f"acknowledged but never delivered: {sorted(missing)[:5]}"
    assert twice <= SENDER_CONCURRENCY, "more sent twice than one node can have in flight"


async def publish(url: str, doc: dict[str, Any], private_pem: bytes) -> int:
    """Import `doc` into the shared store, make a version and publish it to live, as the
    admin UI or `tagwire publish` on any node would; the version's number."""
    store = PostgresStore(url)
    await store.open()
    try:
        versions = Versions(store, signer=load_private_key(private_pem))
        await versions.import_document(doc, "test", "test")
        version = await versions.create_version(doc["container"]["id"], "test", "test")
        await versions.publish(doc["container"]["id"], version.number, "live", "test")
        return version.number
    finally:
        await store.close()


def live_version(node: Node) -> int | None:
    ready = httpx.get(f"{node.base}/readyz", timeout=5).json()
    found = [e["version"] for e in ready.get("environments", []) if e["env"] == "live"]
    return found[0] if found else None


def published(tmp_path: Path, database_url: str, reload_s: str) -> tuple[Any, ...]:
    """A first version published to live, and the settings of a node that serves the
    store's published versions, polling every `reload_s` seconds: (doc, private key,
    first version, env)."""
    private_pem, public_pem = generate_keypair()
    (tmp_path / "public.pem").write_bytes(public_pem)
    doc = document("https://hooks.example.com/in")
    first = asyncio.run(publish(database_url, doc, private_pem))
    env = {**os.environ, "TAGWIRE_DATABASE_URL": database_url, "TAGWIRE_LOG_LEVEL": "warning",
           "TAGWIRE_DATA_DIR": str(tmp_path / "data"), "TAGWIRE_RELOAD_INTERVAL_S": reload_s,
           "TAGWIRE_SIGNING_PUBLIC_KEY_FILE": str(tmp_path / "public.pem")}  # fmt: skip
    return doc, private_pem, first, env


def test_a_version_published_through_one_node_is_served_by_the_other(tmp_path, database_url):
    doc, private_pem, first, env = published(tmp_path, database_url, "0.5")
    log = tmp_path / "nodes.log"
    nodes = [Node(None, env, log), Node(None, env, log)]
    try:
        assert [live_version(n) for n in nodes] == [first, first]
        doc["tags"][0]["params"]["event_names"] = {"lead": "Lead"}
        second = asyncio.run(publish(database_url, doc, private_pem))
        deadline = time.monotonic() + 10  # well over the 0.5 s reload interval
        while [live_version(n) for n in nodes] != [second, second]:
            assert time.monotonic() < deadline, [live_version(n) for n in nodes]
            time.sleep(0.1)
    finally:
        for node in nodes:
            node.stop()


def test_a_publish_is_served_at_once_by_notification_not_at_the_next_poll(tmp_path, database_url):
    doc, private_pem, first, env = published(tmp_path, database_url, "120")
    node = Node(None, env, tmp_path / "nodes.log")
    try:
        assert live_version(node) == first
        time.sleep(1)  # the node is listening by now
        doc["tags"][0]["params"]["event_names"] = {"lead": "Lead"}
        second = asyncio.run(publish(database_url, doc, private_pem))
        deadline = time.monotonic() + 20  # far below the 120 s poll
        while live_version(node) != second:
            assert time.monotonic() < deadline, "not reloaded on the notification"
            time.sleep(0.05)
    finally:
        node.stop()

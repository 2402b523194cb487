"""`_fbc`/`_fbp` as the browser has them, in both of Meta's forms (four parts, or five with
the parameter builder's appendix), reach the Conversions API unchanged through /collect,
and the fake Meta takes them."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from config.schema import apply_defaults
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from container.app import create_app
from container.containers import ContainerSet
from container.node_secrets import NodeSecrets
from container.pipeline import CompiledContainer
from fake_platforms import FakeAccounts, FakePlatforms
from tags.runtime import TemplateRuntime
from tests.helpers import make_hit

PIXEL = "1234567890123456"


def document() -> dict[str, Any]:
    return {
        "container": {"id": "shop", "name": "Shop", "domain": "client.com"},
        "triggers": [{"id": "all", "name": "All", "events": ["*"]}],
        "tags": [
            {"id": "meta", "name": "Meta", "template": "meta", "firing_triggers": ["all"],
             "params": {"pixel_id": PIXEL, "access_token": "demo_meta_token",
                        "send_browser": False}},
        ],
    }  # fmt: skip


@pytest.fixture
def node(tmp_path):
    token = FakeAccounts().meta_access_token
    secrets = NodeSecrets(None, None, {"demo_meta_token": token}.get)
    container = CompiledContainer.compile(
        apply_defaults(document()), TemplateRuntime(secrets.lookup_for("shop"))
    )
    app = create_app(
        load_settings({"TAGWIRE_SENDER": "off"}),
        SQLiteStore(tmp_path / "tagwire.db"),
        ContainerSet.of({"shop": container}),
        secrets=secrets,
    )
    # a visitor's address, for the server event's client_ip_address
    with TestClient(app, base_url="https://t.client.com", client=("192.0.2.10", 50000)) as client:
        yield client, tmp_path / "tagwire.db"


@pytest.mark.parametrize(
    ("fbc", "fbp"),
    [
        ("fb.1.1763700000000.IwAR-fromCookie", "fb.1.1763000000000.1098115397"),
        ("fb.1.1763700000000.IwAR-fromCookie.AQIBAAEA", "fb.1.1763000000000.1098115397.Bg"),
    ],
)
def test_both_forms_pass_through_unchanged_and_the_fake_meta_takes_them(node, fbc, fbp):
    client, db = node
    client.cookies.set("_fbc", fbc, domain="t.client.com")
    client.cookies.set("_fbp", fbp, domain="t.client.com")
    response = client.post(
        "/collect?id=shop",
        content=orjson.dumps(make_hit(click={})),
        headers={
            "content-type": "text/plain",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0",
        },
    )
    assert response.status_code == 204, response.text
    assert response.headers.get_list("set-cookie")[1:] == []  # tw_id only: nothing rewritten
    conn = sqlite3.connect(db)
    [(body,)] = conn.execute("SELECT body FROM outbox WHERE tag_id = 'meta'").fetchall()
    conn.close()
    request = orjson.loads(body)
    user = request["data"][0]["user_data"]
    assert (user["fbc"], user["fbp"]) == (fbc, fbp)

    fakes = FakePlatforms()
    # the row holds a secret reference; the sender puts the token in when it sends
    request["access_token"] = fakes.accounts.meta_access_token
    with TestClient(fakes.app) as meta:
        answer = meta.post(f"/meta/v25.0/{PIXEL}/events", json=request)
    assert answer.status_code == 200, answer.text
    [record] = fakes.events("meta")
    assert (record["event"]["user_data"]["fbc"], record["event"]["user_data"]["fbp"]) == (fbc, fbp)

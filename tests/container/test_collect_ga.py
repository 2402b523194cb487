"""The server-set `_ga` (W2.8 part 4): the GA4 tag refreshes the browser's `_ga` or makes
one in Google's format, the answer sets it (not HttpOnly: gtag.js reads it) for 400 days
with analytics_storage at the container's domain, and the Measurement Protocol request
carries its client id, which the fake GA4 accepts."""

from __future__ import annotations

import re
import sqlite3
from http.cookies import SimpleCookie
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

GA = re.compile(r"GA1\.1\.([0-9]{9,10})\.([0-9]{10})")
TEXT = {"content-type": "text/plain", "origin": "https://www.client.com"}


def document() -> dict[str, Any]:
    """GA4 (server copy) and Meta (browser copy only, sets _fbp) on client.com."""
    return {
        "container": {"id": "shop", "name": "Shop", "domain": "client.com"},
        "triggers": [{"id": "all", "name": "All", "events": ["*"]}],
        "tags": [
            {"id": "ga4", "name": "GA4", "template": "ga4", "firing_triggers": ["all"],
             "params": {"measurement_id": "G-DEMO12345", "api_secret": "demo_ga4_secret"}},
            {"id": "meta", "name": "Meta", "template": "meta", "firing_triggers": ["all"],
             "params": {"pixel_id": "123456789", "access_token": "meta_token",
                        "send_server": False}},
        ],
    }  # fmt: skip


@pytest.fixture
def node(tmp_path):
    secrets = NodeSecrets(
        None, None, {"demo_ga4_secret": FakeAccounts().ga4_streams["G-DEMO12345"]}.get
    )
    runtime = TemplateRuntime(secrets.lookup_for("shop"))
    container = CompiledContainer.compile(apply_defaults(document()), runtime)
    app = create_app(
        load_settings({"TAGWIRE_SENDER": "off"}),
        SQLiteStore(tmp_path / "tagwire.db"),
        ContainerSet.of({"shop": container}),
        secrets=secrets,
    )
    with TestClient(app, base_url="https://t.client.com") as client:
        yield client, tmp_path / "tagwire.db"


def set_cookies(response) -> dict[str, Any]:
    out = {}
    for header in response.headers.get_list("set-cookie"):
        [(name, morsel)] = SimpleCookie(header).items()
        out[name] = morsel
    return out


def ga4_body(db, event_id: str) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    [(body,)] = conn.execute(
        "SELECT body FROM outbox WHERE tag_id = 'ga4' AND event_id = ?", (event_id,)
    ).fetchall()
    conn.close()
    return orjson.loads(body)


def test_a_first_visit_gets_a_ga_cookie_in_googles_format(node):
    client, db = node
    response = client.post("/collect?id=shop", content=orjson.dumps(make_hit()), headers=TEXT)
    assert response.status_code == 200, response.text
    cookies = set_cookies(response)
    ga = cookies["_ga"]
    match = GA.fullmatch(ga.value)
    assert match is not None, ga.value
    assert ga["max-age"] == "34560000"  # the template's two years, capped at 400 days
    assert ga["domain"] == "client.com"
    assert ga["secure"] is True
    assert not ga["httponly"]
    assert cookies["tw_id"]["httponly"] is True
    client_id = f"{match[1]}.{match[2]}"
    assert ga4_body(db, make_hit()["event_id"])["client_id"] == client_id

    # The fake GA4 takes the server copy as it is (and its validation server finds nothing).
    fakes = FakePlatforms()
    secret = fakes.accounts.ga4_streams["G-DEMO12345"]
    body = ga4_body(db, make_hit()["event_id"])
    with TestClient(fakes.app) as ga4:
        query = f"measurement_id=G-DEMO12345&api_secret={secret}"
        debug = ga4.post(f"/ga4/debug/mp/collect?{query}", json=body)
        assert debug.json()["validationMessages"] == []
        assert ga4.post(f"/ga4/mp/collect?{query}", json=body).status_code == 204
    [record] = [r for r in fakes.events("ga4") if r["view"] == "live"]
    assert record["event_id"] == make_hit()["event_id"]
    assert fakes.requests("ga4")[-1]["body"]["client_id"] == client_id


def test_the_browsers_ga_keeps_its_client_id_and_is_refreshed(node):
    client, db = node
    client.cookies.set("_ga", "GA1.2.987654321.1700000000", domain="t.client.com")
    response = client.post("/collect?id=shop", content=orjson.dumps(make_hit()), headers=TEXT)
    ga = set_cookies(response)["_ga"]
    assert (ga.value, ga["max-age"]) == ("GA1.2.987654321.1700000000", "34560000")
    assert ga4_body(db, make_hit()["event_id"])["client_id"] == "987654321.1700000000"


def test_the_hits_of_a_batch_share_one_new_ga(node):
    client, db = node
    hits = [make_hit(event_id=f"batch-ga-000{n}") for n in range(3)]
    response = client.post("/collect?id=shop", content=orjson.dumps(hits), headers=TEXT)
    [ga] = [h for h in response.headers.get_list("set-cookie") if h.startswith("_ga=")]
    client_ids = {ga4_body(db, h["event_id"])["client_id"] for h in hits}
    assert len(client_ids) == 1
    assert ga.startswith(f"_ga=GA1.1.{client_ids.pop()};")


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        ({"analytics_storage": "granted", "ad_storage": "denied", "ad_user_data": "granted"},
         {"tw_id", "_ga"}),
        ({"analytics_storage": "granted", "ad_storage": "granted", "ad_user_data": "granted",
          "gpc": True}, {"tw_id", "_ga"}),
        ({"analytics_storage": "denied", "ad_storage": "granted", "ad_user_data": "granted"},
         {"_fbp"}),
    ],
)  # fmt: skip
def test_ga_follows_analytics_storage_and_ad_cookies_ad_storage(node, consent, expected):
    client, _ = node
    hit = make_hit(consent=consent, click={})
    response = client.post("/collect?id=shop", content=orjson.dumps(hit), headers=TEXT)
    assert response.status_code in (200, 204), response.text
    assert set(set_cookies(response)) == expected

"""CRM events over real HTTP: Fire API → outbox → sender → the fake platforms.

An offline lead reaches Meta and TikTok the way each expects offline conversions (Meta's
`action_source`, TikTok's CRM event set), with the hashes the server made; a request
with a test_event_code lands in each platform's test view and nowhere live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from fake_platforms import serve
from tests.container.fire_api_helpers import (
    CRM_EVENT_SET,
    add_token,
    build_app,
    crm_event,
    fire_document,
)
from tests.helpers import LOOPBACK_EGRESS, serve_in_thread, wait_until
from variables.pii import hash_identifier

pytestmark = pytest.mark.e2e


@pytest.fixture
def node(tmp_path: Path):
    with serve() as fakes:
        db = tmp_path / "tagwire.db"
        token = add_token(db)
        env = {f"TAGWIRE_{name.upper()}": url for name, url in fakes.base_urls.items()}
        env |= LOOPBACK_EGRESS  # the fakes run on 127.0.0.1
        doc = fire_document()
        doc["tags"] = [t for t in doc["tags"] if t["template"] != "webhook"]  # 127.0.0.1 only
        app = build_app(db, doc, TAGWIRE_SENDER="on", **env)
        with serve_in_thread(app) as base:
            yield base, fakes.url, token


def fire(base: str, token: str, body: Any) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/events", content=orjson.dumps(body),
                      headers={"authorization": f"Bearer {token}",
                               "content-type": "application/json"})  # fmt: skip


def fake(fakes: str, what: str, **query: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{fakes}/_fake/{what}", params=query)
    assert response.status_code == 200, response.text
    return response.json()[what]


def test_a_phone_call_lead_reaches_meta_and_tiktok_as_an_offline_conversion(node) -> None:
    base, fakes, token = node
    response = fire(base, token, crm_event(event_id="crm-lead-000001"))
    assert response.status_code == 200, response.text

    def arrived() -> bool:
        return all(fake(fakes, "events", platform=p, view="live") for p in ("meta", "tiktok"))

    wait_until(arrived, timeout=20, what="the lead at Meta and TikTok")
    [meta] = fake(fakes, "events", platform="meta", view="live")
    assert meta["event_id"] == "crm-lead-000001"
    assert meta["event_name"] == "QualifiedLead"
    assert meta["event"]["action_source"] == "phone_call"
    user = meta["event"]["user_data"]
    assert user["em"] == [hash_identifier("meta", "email", "Zebulon.Quartz@Example.org")]
    assert user["ph"] == [hash_identifier("meta", "phone", "030 12345678", "DE")]
    [tiktok] = fake(fakes, "events", platform="tiktok", view="live")
    assert (tiktok["event_id"], tiktok["account"]) == ("crm-lead-000001", CRM_EVENT_SET)
    assert tiktok["event"]["user"]["phone"] == hash_identifier(
        "tiktok", "phone", "030 12345678", "DE"
    )
    [request] = [r for r in fake(fakes, "requests", platform="tiktok") if r["status"] == 200]
    assert request["body"]["event_source"] == "crm"
    assert [r for r in fake(fakes, "requests") if r["status"] >= 300] == []


def test_test_event_code_reaches_every_test_view_and_nothing_live(node) -> None:
    base, fakes, token = node
    response = fire(base, token, crm_event(test_event_code="FIRE42"))
    assert response.status_code == 200, response.text
    expected = {"meta": "FIRE42", "tiktok": "FIRE42", "ga4": "debug",
                "google_ads": "validate_only"}  # fmt: skip

    def in_test_views() -> bool:
        return all(fake(fakes, "events", platform=p, view="test", test_code=code)
                   for p, code in expected.items())  # fmt: skip

    wait_until(in_test_views, timeout=20, what="the test event in the test views")
    event_id = response.json()["events"][0]["event_id"]
    for platform, code in expected.items():
        [received] = fake(fakes, "events", platform=platform, view="test", test_code=code)
        assert received["event_id"] == ("L-4711" if platform == "google_ads" else event_id)
    assert fake(fakes, "events", view="live") == []
    # LinkedIn has no test mode: the event is not sent there at all
    assert fake(fakes, "requests", platform="linkedin") == []

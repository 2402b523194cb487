"""One lead, five platforms, over real HTTP: tagwire process → outbox → fake platform servers.

The fakes check each request as strictly as the real APIs, so a lead that lands in every
fake's live view was accepted by all five; the browser commands `/collect` answers with
carry the same ids as the server copies. Test fires land in the test views only.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from demo import demo_document, demo_secrets
from fake_platforms import serve
from tests.helpers import LOOPBACK_EGRESS, tagwire_process, wait_until

pytestmark = pytest.mark.e2e

PLATFORMS = ("meta", "tiktok", "linkedin", "google_ads", "ga4")
H = "0123456789abcdef" * 4


def lead(event_id: str, event: str = "lead") -> dict[str, Any]:
    return {
        "v": 1, "event": event, "event_id": event_id,
        "page": {"url": "http://127.0.0.1/demo/thanks", "referrer": "http://127.0.0.1/demo/lead"},
        "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                    "ad_user_data": "granted", "ad_personalization": "denied"},
        "user": {"em": H, "ph": H[::-1], "ph_d": "f" + H[1:]},
        "click": {"fbclid": "IwAR2F4-e2e", "gclid": "Cj0KCQiA-e2e", "li_fat_id": "li-e2e-1"},
        "data": {"value": 50, "currency": "EUR", "lead_id": f"L-{event_id}"},
    }  # fmt: skip


def container_document() -> dict[str, Any]:
    """The demo's five platform tags, plus test-mode copies that fire on `contact`."""
    doc = demo_document("http://127.0.0.1:9/unused")
    doc["container"]["id"] = "shop"
    doc["tags"] = [t for t in doc["tags"] if t["template"] in PLATFORMS]
    doc["triggers"].append({"id": "contacts", "name": "Contacts", "events": ["contact"]})
    test_modes = {"meta": {"test_event_code": "TEST4242"},
                  "tiktok": {"test_event_code": "TEST4242"},
                  "google_ads": {"validate_only": True,
                                 "conversion_actions": {"contact": "876543210"},
                                 "conversion_labels": {"contact": "DemoContactLabel"}},
                  "ga4": {"debug": True}}  # fmt: skip
    for tag in list(doc["tags"]):
        if tag["template"] in test_modes:
            copy = json.loads(json.dumps(tag))
            copy["id"] = f"{tag['id']}_test"
            copy["params"].update(test_modes[tag["template"]])
            copy["firing_triggers"] = ["contacts"]
            doc["tags"].append(copy)
    return doc


def fake_events(fakes_url: str, platform: str, **query: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{fakes_url}/_fake/events", params={"platform": platform, **query})
    assert response.status_code == 200, response.text
    return response.json()["events"]


@pytest.fixture
def node(tmp_path: Path):
    with serve() as fakes:
        (tmp_path / "shop.json").write_text(json.dumps(container_document()))
        env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data")}
        env |= {f"TAGWIRE_{name.upper()}": url for name, url in fakes.base_urls.items()}
        env |= LOOPBACK_EGRESS  # the fakes run on 127.0.0.1
        env |= {f"TAGWIRE_SECRET_{name.upper()}": value for name, value in demo_secrets().items()}
        with tagwire_process("--container", str(tmp_path / "shop.json"), env=env) as base:
            yield base, fakes.url


def post(base: str, hit: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base}/collect?id=shop", content=orjson.dumps(hit),
                      headers={"content-type": "text/plain"})  # fmt: skip


def test_a_lead_reaches_all_five_platforms_with_one_event_id(node, tmp_path) -> None:
    base, fakes = node
    response = post(base, lead("lead-e2e-0001"))
    assert response.status_code == 200, response.text
    pixels = response.json()["pixels"]
    assert {p["vendor"] for p in pixels} == {"meta", "tiktok", "linkedin", "gtag"}
    commands = [p for p in pixels if p["command"] != "set"]  # gtag's user_data carries no id
    assert all("lead-e2e-0001" in orjson.dumps(p).decode() for p in commands)

    def everywhere() -> bool:
        return all(fake_events(fakes, p, view="live") for p in PLATFORMS)

    wait_until(everywhere, timeout=20, what="the lead at all five fakes")
    # Google Ads keys an upload by order id: the lead id here, as in the gtag transaction_id
    expected = {p: "lead-e2e-0001" for p in PLATFORMS} | {"google_ads": "L-lead-e2e-0001"}
    for platform in PLATFORMS:
        (received,) = fake_events(fakes, platform, view="live")
        assert received["event_id"] == expected[platform], (platform, received)
    [ads_pixel] = [p for p in pixels if p["vendor"] == "gtag" and p["command"] == "event"]
    assert ads_pixel["args"][1]["transaction_id"] == "L-lead-e2e-0001"
    names = {p: fake_events(fakes, p, view="live")[0]["event_name"] for p in ("meta", "tiktok")}
    assert names == {"meta": "Lead", "tiktok": "SubmitForm"}
    requests = httpx.get(f"{fakes}/_fake/requests").json()["requests"]
    rejected = [r for r in requests if r["status"] >= 300]
    assert rejected == []
    # The tokens reached the platforms, yet the outbox holds only references to them.
    files = (tmp_path / "data").glob("tagwire.db*")
    stored = b"".join(path.read_bytes() for path in files if path.is_file())
    assert b"~tw-secret~shop~" in stored
    for value in demo_secrets().values():
        assert value.encode() not in stored


def test_the_outbox_names_where_each_request_really_went(node, tmp_path) -> None:
    """The fakes stand in for the platforms through base-URL settings: every row's
    destination names the fake's address, not the platform host nothing was sent to."""
    base, fakes = node
    assert post(base, lead("lead-e2e-where")).status_code == 200
    with sqlite3.connect(tmp_path / "data" / "tagwire.db") as conn:
        rows = dict(conn.execute("SELECT platform, destination FROM outbox").fetchall())
    fakes_host = fakes.removeprefix("http://")
    assert set(rows) >= {"meta", "tiktok", "linkedin", "google_ads", "ga4"}
    for platform in ("meta", "tiktok", "linkedin", "google_ads", "ga4"):
        assert rows[platform].startswith(fakes_host), (platform, rows[platform])


def test_test_fires_reach_the_test_views_and_not_live(node) -> None:
    base, fakes = node
    assert post(base, lead("contact-e2e-01", event="contact")).status_code == 200
    expected = {"meta": "TEST4242", "tiktok": "TEST4242", "google_ads": "validate_only",
                "ga4": "debug"}  # fmt: skip

    def in_test_views() -> bool:
        return all(fake_events(fakes, p, view="test", test_code=code)
                   for p, code in expected.items())  # fmt: skip

    wait_until(in_test_views, timeout=20, what="the test fires in the test views")
    for platform, code in expected.items():
        (received,) = fake_events(fakes, platform, view="test", test_code=code)
        order_id = platform == "google_ads"  # Google Ads keys uploads by order (lead) id
        assert received["event_id"] == ("L-" if order_id else "") + "contact-e2e-01"
    # the live tags do not fire on `contact`: nothing of the test fire is counted live
    assert {p: fake_events(fakes, p, view="live") for p in PLATFORMS} == {p: [] for p in PLATFORMS}


def outbox_states(data_dir: Path) -> dict[str, tuple[str, int, str]]:
    conn = sqlite3.connect(data_dir / "tagwire.db")
    try:
        rows = conn.execute("SELECT tag_id, state, attempts, last_response FROM outbox").fetchall()
    finally:
        conn.close()
    return {tag: (state, attempts, response or "") for tag, state, attempts, response in rows}


def test_a_tiktok_error_inside_http_200_is_retried_or_dead_lettered(node, tmp_path) -> None:
    base, fakes = node
    fail = {"platform": "tiktok", "mode": "server_error", "count": 1}
    assert httpx.post(f"{fakes}/_fake/fail", json=fail).status_code == 200
    assert post(base, lead("lead-e2e-0002")).status_code == 200
    wait_until(lambda: fake_events(fakes, "tiktok", view="live"), timeout=20,
               what="the lead at TikTok after one system error")  # fmt: skip
    state, attempts, _ = outbox_states(tmp_path / "data")["tiktok"]
    assert (state, attempts) == ("sent", 2)

    fail["mode"] = "auth"
    assert httpx.post(f"{fakes}/_fake/fail", json=fail).status_code == 200
    assert post(base, lead("lead-e2e-0003")).status_code == 200

    def dead() -> bool:
        return any(s == "dead" for s, _, _ in outbox_states(tmp_path / "data").values())

    wait_until(dead, timeout=20, what="the refused TikTok request in the dead letters")
    conn = sqlite3.connect(tmp_path / "data" / "tagwire.db")
    [(response,)] = conn.execute("SELECT last_response FROM outbox WHERE state = 'dead'").fetchall()
    conn.close()
    assert response.startswith("TikTok code 40105: ")
    assert [e["event_id"] for e in fake_events(fakes, "tiktok", view="live")] == ["lead-e2e-0002"]

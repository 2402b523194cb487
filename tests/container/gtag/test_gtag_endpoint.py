"""`/g/collect` in front of the real `/collect` endpoint: answers, refusals by line and
parameter, CORS, cookies, consent, and no 5xx for any malformed request."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from config.schema import apply_defaults
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from container.app import create_app
from container.containers import ContainerSet
from container.pipeline import CompiledContainer
from tags.runtime import TemplateRuntime
from tests.container.gtag.gtag_helpers import CHROME, TID, gtag_document, intake, outbox

FIXTURES = json.loads((Path(__file__).parent / "requests.json").read_text())["requests"]
BASE = (f"v=2&tid={TID}&cid=1234567890.1712345678&sid=1712345678&_p=99&_s=1&gcs=G111"
        "&gcd=13r3r3r3r5&dl=https%3A%2F%2Fwww.example.com%2Fshop")  # fmt: skip
TEXT = {"content-type": "text/plain;charset=UTF-8"}


def test_a_page_view_is_accepted_with_an_empty_204_and_queued(tmp_path) -> None:
    fixture = FIXTURES[0]
    with intake(tmp_path) as client:
        response = client.post(f"/g/collect?{fixture['query']}", headers=TEXT)
    assert (response.status_code, response.content) == (204, b"")
    [row] = outbox(tmp_path)
    assert row["event"] == "page_view"
    assert row["click"] == {"gclid": "Cj0KCQiA-test"}
    assert row["custom"]["ga_client_id"] == "1234567890.1712345678"
    assert row["client_id"]  # analytics_storage granted: the tw_id visitor id is used
    assert response.headers["set-cookie"].startswith("tw_id=")


def test_a_get_request_works_like_a_post_with_an_empty_body(tmp_path) -> None:
    with intake(tmp_path) as client:
        assert client.get(f"/g/collect?{BASE}&en=page_view").status_code == 204
    assert [r["event"] for r in outbox(tmp_path)] == ["page_view"]


def test_a_batch_queues_every_event_and_a_repeat_is_sent_once(tmp_path) -> None:
    fixture = FIXTURES[1]
    with intake(tmp_path) as client:
        for _ in range(2):
            response = client.post(f"/g/collect?{fixture['query']}", content=fixture["body"],
                                   headers=TEXT)  # fmt: skip
            assert response.status_code == 204
    rows = outbox(tmp_path)
    assert [r["event"] for r in rows] == ["add_to_cart", "purchase"]
    assert rows[1]["data"]["transaction_id"] == "T-1001"


def test_bad_lines_are_named_and_the_good_ones_around_them_kept(tmp_path) -> None:
    body = "en=page_view\nen=purchase&epn.value=abc\nen=Purchase\nen=purchase&cu=XYZ\nen=lead"
    with intake(tmp_path) as client:
        response = client.post(f"/g/collect?{BASE}", content=body, headers=TEXT)
    assert response.status_code == 207
    assert response.json() == {
        "accepted": [0, 4],
        "errors": [
            {"line": 1, "field": "epn.value", "reason": "not a number"},
            {"line": 2, "field": "en", "reason":
             "must be a canonical or custom event name matching [a-z0-9_]{1,40}"},
            {"line": 3, "field": "cu", "reason": "must be an active ISO 4217 code such as 'EUR'"},
        ],
    }  # fmt: skip
    assert [r["event"] for r in outbox(tmp_path)] == ["page_view", "Lead"]  # the hook renames


def test_nothing_accepted_is_a_400_listing_the_lines(tmp_path) -> None:
    with intake(tmp_path) as client:
        response = client.post(f"/g/collect?{BASE}", content="ep.a=1\nen=x&pr1=idA~qtmany",
                               headers=TEXT)  # fmt: skip
    assert response.status_code == 400
    assert [(e["line"], e["field"]) for e in response.json()["errors"]] == [(0, "en"), (1, "pr1")]
    assert outbox(tmp_path) == []


def test_denied_consent_is_accepted_but_fires_nothing(tmp_path) -> None:
    fixture = FIXTURES[3]
    with intake(tmp_path) as client:
        response = client.post(f"/g/collect?{fixture['query']}", content=fixture["body"],
                               headers=TEXT)  # fmt: skip
    assert response.status_code == 204
    assert "set-cookie" not in response.headers
    assert outbox(tmp_path) == []


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        (f"tid={TID}&en=x", 400, "v"),
        ("v=2&en=x", 400, "tid"),
        ("v=2&tid=UA-1234-1&en=x", 400, "tid"),
        ("v=2&tid=G-NOTHERE1&en=x", 404, "tid"),
    ],
)
def test_which_stream_is_checked_first(tmp_path, query, status, field) -> None:
    with intake(tmp_path) as client:
        response = client.post(f"/g/collect?{query}", headers=TEXT)
    assert response.status_code == status
    assert response.json()["errors"][0]["field"] == field


def test_a_measurement_id_listed_by_two_containers_is_refused(tmp_path) -> None:
    other = gtag_document()
    other["container"]["id"] = "shop2"
    with intake(tmp_path, docs=[gtag_document(), other]) as client:
        response = client.post(f"/g/collect?{BASE}&en=x", headers=TEXT)
    assert response.status_code == 409
    assert "'shop', 'shop2'" in response.json()["errors"][0]["reason"]


def test_the_origin_is_checked_by_collect_and_cors_passed_on(tmp_path) -> None:
    with intake(tmp_path) as client:
        allowed = client.post(f"/g/collect?{BASE}&en=page_view",
                              headers={**TEXT, "origin": "https://www.example.com"})  # fmt: skip
        refused = client.post(f"/g/collect?{BASE}&en=page_view",
                              headers={**TEXT, "origin": "https://evil.example"})  # fmt: skip
        all_bad = client.post(f"/g/collect?{BASE}", content="ep.a=1",
                              headers={**TEXT, "origin": "https://evil.example"})  # fmt: skip
        preflight = client.options(f"/g/collect?{BASE}",
                                   headers={"origin": "https://www.example.com",
                                            "access-control-request-method": "POST"})  # fmt: skip
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://www.example.com"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "Origin"
    assert all_bad.status_code == 403
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://www.example.com"
    assert len(outbox(tmp_path)) == 1


def test_the_ga_cookies_are_made_from_cid_and_sid_only_when_the_request_lacks_them(
    tmp_path,
) -> None:
    """The shipped ga4 template reads the client id from `_ga`: a request without the cookie
    (another site's subdomain, a GET pixel) still carries gtag's cid to it."""
    doc = gtag_document()
    doc["templates"] = [{
        "id": "cookie_echo",
        "lua": 'send_http{url = params.url, method = "POST", body = {ga = cookies.get("_ga"),'
               ' session = cookies.get("_ga_TEST1234")}}',
        "params": {"url": {"type": "string", "format": "url", "required": True}},
        "permissions": {"get_cookies": ["_ga", "_ga_TEST1234"],
                        "send_http": [{"url": "param:url", "methods": ["POST"]}]},
    }]  # fmt: skip
    doc["tags"][0].update(template="cookie_echo", params={"url": "https://hooks.example.com/c"},
                          fire_once="none")  # fmt: skip
    with intake(tmp_path, docs=[doc]) as client:
        client.post(f"/g/collect?{BASE}&en=page_view", headers=TEXT)
        client.post(f"/g/collect?{BASE}&en=page_view",
                    headers={**TEXT, "cookie": "_ga=GA1.1.111.222"})  # fmt: skip
    assert outbox(tmp_path) == [
        {"ga": "GA1.1.1234567890.1712345678", "session": "GS1.1.1712345678"},
        {"ga": "GA1.1.111.222", "session": "GS1.1.1712345678"},
    ]


@pytest.mark.parametrize(
    ("method", "headers", "body", "status", "field"),
    [
        ("POST", {"content-type": "application/json"}, b"en=x", 415, "Content-Type"),
        ("POST", TEXT, b"x" * 70_000, 413, "body"),
        ("HEAD", {}, b"", 405, "method"),
    ],
)
def test_unusable_requests(tmp_path, method, headers, body, status, field) -> None:
    with intake(tmp_path) as client:
        response = client.request(method, f"/g/collect?{BASE}&en=x", content=body,
                                  headers=headers)  # fmt: skip
    assert response.status_code == status
    if method != "HEAD":
        assert response.json()["errors"][0]["field"] == field


_LINE = st.lists(
    st.tuples(st.sampled_from(["en", "epn.value", "ep.x", "pr1", "cu", "dl", "gcs", "gcd",
                               "ep.event_id", "uid", "up.p", "tid", "v", "ul", "dt"]),
              st.text(max_size=12).map(quote) | st.sampled_from(["purchase", "G111", "EUR",
                                                                  "12.5", "idA~qt2", "%FF", "%"])),
    max_size=6,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))  # fmt: skip


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=_LINE, lines=st.lists(_LINE, max_size=4))
def test_no_malformed_request_gets_a_5xx(tmp_path, query, lines) -> None:
    with intake(tmp_path) as client:
        response = client.post(f"/g/collect?v=2&tid={TID}&{query}", content="\n".join(lines),
                               headers=TEXT)  # fmt: skip
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        errors = response.json()["errors"]
        assert errors
        assert all(e["field"] and e["reason"] for e in errors)


def test_the_node_app_serves_both_intakes(tmp_path) -> None:
    settings = load_settings({"TAGWIRE_SENDER": "off"})
    compiled = CompiledContainer.compile(apply_defaults(gtag_document()), TemplateRuntime())
    app = create_app(settings, SQLiteStore(tmp_path / "tagwire.db"),
                     ContainerSet.of({"shop": compiled}))  # fmt: skip
    with TestClient(app, base_url="https://t.example.com", headers={"user-agent": CHROME}) as c:
        assert c.get(f"/g/collect?{BASE}&en=page_view").status_code == 204
        assert c.post(f"/mp/collect?measurement_id={TID}", json={}).status_code == 400
        assert c.put(f"/g/collect?{BASE}&en=page_view").status_code == 405
    assert [r["event"] for r in outbox(tmp_path)] == ["page_view"]

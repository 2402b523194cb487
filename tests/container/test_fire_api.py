"""`POST /api/v1/events` over HTTP: tokens, bodies, hashing, idempotency, never a 500."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from config.tokens import ADMIN_CONTAINER, admin_owner, new_token
from container.fire_body import FIELDS, MAX_BODY_BYTES, derived_event_id
from tests.container.fire_api_helpers import (
    GRANTED,
    add_token,
    build_app,
    crm_event,
    fire_document,
    tokens,
)
from tests.helpers import json_values
from variables.pii import hash_identifier
from variables.user_variants import PLAIN_USER_FIELDS

URL = "/api/v1/events"
DAY_MS = 86_400_000


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tagwire.db"


@pytest.fixture
def token(db: Path) -> str:
    return add_token(db)


@pytest.fixture
def client(db: Path, token: str):
    app = build_app(db)
    with TestClient(app, base_url="https://t.example.com") as client:
        yield client


def post(client: TestClient, body: Any, token: str | None, **headers: str) -> Any:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    sent = {"content-type": "application/json", **headers}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    return client.post(URL, content=data, headers=sent)


def outbox(db: Path) -> list[tuple[str, str, bytes]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT tag_id, event_id, body FROM outbox ORDER BY id").fetchall()
    finally:
        conn.close()


def hook_bodies(db: Path) -> list[dict[str, Any]]:
    return [orjson.loads(body) for tag, _, body in outbox(db) if tag == "hook"]


def only_error(response: Any) -> dict[str, Any]:
    [error] = response.json()["errors"]
    return error


# --- tokens ---------------------------------------------------------------------------


def test_a_crm_event_is_committed_before_the_answer(client, db, token) -> None:
    response = post(client, crm_event(), token)
    assert response.status_code == 200, response.text
    event_id = derived_event_id("qualified_lead", "lead_id", "L-4711", None)
    [answer] = response.json()["events"]
    queued = ["ga4", "google_ads", "hook", "linkedin", "meta", "tiktok"]
    assert answer == {"index": 0, "event_id": event_id, "queued": queued}
    assert {row[1] for row in outbox(db)} == {event_id}


@pytest.mark.parametrize(
    "data",
    [{"value": 80, "currency": "USD"}, {"value": 10**9, "currency": "EUR"}],
    ids=["not the container's currency", "over value_max"],
)  # fmt: skip
def test_the_value_guard_stops_a_wrong_value_or_currency(client, db, token, data) -> None:
    response = post(client, crm_event(data=data), token)
    assert response.status_code == 200, response.text
    [answer] = response.json()["events"]
    assert answer["queued"] == [], "no tag fired for a conversion the value guard refused"
    assert outbox(db) == []


def test_missing_token_is_401_with_a_challenge(client) -> None:
    response = post(client, crm_event(), None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tagwire"'
    assert only_error(response)["field"] == "Authorization"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("Basic dXNlcjpwYXNz", "invalid_request"),
        ("Bearer", "invalid_request"),
        ("Bearer not-a-token", "invalid_token"),
        (f"Bearer {new_token()}", "invalid_token"),  # well formed, never issued
    ],
)
def test_bad_or_unknown_tokens_are_401(client, db, header, error) -> None:
    headers = {"authorization": header, "content-type": "application/json"}
    response = client.post(URL, content=orjson.dumps(crm_event()), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].endswith(f'error="{error}"')
    assert only_error(response)["field"] == "Authorization"
    assert outbox(db) == []


def test_revoked_token_is_403(client, db) -> None:
    revoked = add_token(db, name="old", revoked=True)
    response = post(client, crm_event(), revoked)
    assert response.status_code == 403
    assert "revoked" in only_error(response)["reason"]
    assert outbox(db) == []


@pytest.mark.parametrize("owner", [ADMIN_CONTAINER, admin_owner("shop")])
def test_an_admin_token_cannot_send_events(client, db, owner) -> None:
    """Agency-wide or limited to a client (even one named like the container)."""
    admin = add_token(db, owner, "ops")
    response = post(client, crm_event(), admin)
    assert response.status_code == 403
    error = only_error(response)
    assert error["field"] == "Authorization"
    assert "admin token 'ops' cannot send events" in error["reason"]
    assert outbox(db) == []


def test_token_of_another_container_is_403(client, db, token) -> None:
    response = post(client, [crm_event(), crm_event(container_id="other")], token)
    assert response.status_code == 403
    assert only_error(response) == {"index": 1, "field": "container_id",
                                    "reason": "this token belongs to container 'shop'"}  # fmt: skip
    assert outbox(db) == []
    assert post(client, crm_event(container_id="shop"), token).status_code == 200


def test_token_of_a_container_this_node_does_not_serve_is_404(client, db) -> None:
    elsewhere = add_token(db, container_id="blog")
    response = post(client, crm_event(), elsewhere)
    assert response.status_code == 404
    assert "'blog'" in only_error(response)["reason"]


def test_use_is_remembered_on_the_token(client, db, token) -> None:
    assert tokens(db)[0].last_used_at is None
    post(client, crm_event(), token)
    assert tokens(db)[0].last_used_at is not None


def test_only_post_is_answered(client) -> None:
    assert client.get(URL).status_code == 405
    response = client.options(URL, headers={"origin": "https://www.example.com"})
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers


# --- bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b"{", "application/json", 400, "body"),
        (b"\xff{}", "application/json", 400, "body"),
        (b"[]", "application/json", 400, "body"),
        (b"42", "application/json", 400, "body"),
        (b"[" + b"{}," * 50 + b"{}]", "application/json", 413, "body"),
        (b'{"a":"' + b"x" * MAX_BODY_BYTES + b'"}', "application/json", 413, "body"),
        (orjson.dumps(crm_event()), "text/plain", 415, "Content-Type"),
    ],
)
def test_bad_bodies_are_refused_as_a_whole(client, token, body, content_type, status, field):
    response = post(client, body, token, **{"content-type": content_type})
    assert response.status_code == status
    assert only_error(response)["field"] == field


def test_absurd_nesting_is_refused_before_it_is_fingerprinted(client, token) -> None:
    deep = b'{"event": "lead", "custom": ' + b"[" * 300 + b"]" * 300 + b"}"
    response = post(client, deep, token, **{"idempotency-key": "deep-1"})
    assert response.status_code == 400
    assert only_error(response) == {"field": "body", "reason": "nested too deeply to be events"}


def _ms(days: float) -> int:
    return int(time.time() * 1000 + days * DAY_MS)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event": "Qualified Lead"}, "event"),
        ({"event": None}, "event"),
        ({"action_source": "website-ish"}, "action_source"),
        ({"action_source": None}, "action_source"),
        ({"event_time": _ms(-8)}, "event_time"),  # older than 7 days
        ({"event_time": _ms(1)}, "event_time"),  # tomorrow
        ({"event_time": _ms(0) // 1000}, "event_time"),  # seconds
        ({"event_time": "2025-11-23T10:00:00"}, "event_time"),  # no zone
        ({"event_time": "yesterday"}, "event_time"),
        ({"event_time": 1.5e12}, "event_time"),
        ({"event_id": "short"}, "event_id"),
        ({"lead_id": "x" * 129}, "lead_id"),
        ({"lead_id": "L-1", "data": {"lead_id": "L-2"}}, "lead_id"),
        ({"user": {"email": "zebulon@@example.org"}}, "user.email"),
        ({"user": {"phone": "call me"}}, "user.phone"),
        ({"user": {"em": "a" * 64}}, "user.em"),  # hashed keys belong to /collect
        ({"user": ["zebulon@example.org"]}, "user"),
        ({"ip": "300.1.2.3"}, "ip"),
        ({"user_agent": "x" * 513}, "user_agent"),
        ({"client_id": "has space"}, "client_id"),
        ({"consent": {}}, "consent"),  # strict policy: no signal fires nothing
        ({"consent": {"ad_storage": "yes"}}, "consent.ad_storage"),
        ({"test_event_code": "has space"}, "test_event_code"),
        ({"data": {"value": "80"}}, "data.value"),
        ({"click": {"gclid": ""}}, "click.gclid"),
        ({"click": {"gclid": "jane@example.com"}}, "click.gclid"),  # not click-id-shaped
        ({"click": {"fbc": "fb.1.x y"}}, "click.fbc"),
        ({"page": {"url": "ftp://x"}}, "page.url"),
        ({"colour": "red"}, "colour"),
        ({"zebulon@example.org": 1}, "<unrecognised key>"),
    ],
)
def test_each_bad_field_is_named(client, db, token, overrides, field) -> None:
    response = post(client, crm_event(**overrides), token)
    assert response.status_code == 400, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert field in fields
    assert all(e["index"] == 0 for e in response.json()["errors"])
    assert outbox(db) == []


def test_event_id_is_required_without_a_lead_or_transaction_id(client, token) -> None:
    event = crm_event()
    del event["lead_id"]
    error = only_error(post(client, event, token))
    assert error["field"] == "event_id"
    event["data"] = {"transaction_id": "T-9"}
    expected = derived_event_id("qualified_lead", "transaction_id", "T-9", None)
    assert post(client, event, token).json()["events"][0]["event_id"] == expected


def test_a_batch_keeps_its_good_events(client, db, token) -> None:
    good = crm_event(event_id="crm-event-0001")
    other = crm_event(event_id="crm-event-0002", action_source="chat")
    response = post(client, [good, crm_event(event="Bad!"), other], token)
    assert response.status_code == 207
    body = response.json()
    assert [e["index"] for e in body["events"]] == [0, 2]
    assert body["errors"] == [{"index": 1, "field": "event", "reason": body["errors"][0]["reason"]}]
    assert {r[1] for r in outbox(db)} == {"crm-event-0001", "crm-event-0002"}


def test_event_time_in_iso_8601_and_a_little_ahead(client, db, token) -> None:
    an_hour_ago = int(time.time()) - 3600
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(an_hour_ago))
    assert post(client, crm_event(event_time=stamp), token).status_code == 200
    assert hook_bodies(db)[0]["event_time_ms"] == an_hour_ago * 1000
    post(client, crm_event(lead_id="L-4712", event_time=_ms(1 / 24 / 60)), token)  # +1 min
    assert hook_bodies(db)[1]["event_time_ms"] <= int(time.time() * 1000)  # clamped to now


def test_request_facts_come_from_the_body_not_the_connection(client, db, token) -> None:
    event = crm_event(ip="2001:DB8::1", user_agent="Mozilla/5.0 (CRM import)")
    post(client, event, token, **{"user-agent": "crm-sync/1.0", "x-forwarded-for": "9.9.9.9"})
    [hook] = hook_bodies(db)
    assert hook["client_ip"] == "2001:db8::1"
    assert hook["user_agent"] == "Mozilla/5.0 (CRM import)"
    assert hook["client_id"] == "1234567890.1763000000"
    post(client, crm_event(lead_id="L-4712"), token, **{"user-agent": "crm-sync/1.0"})
    assert hook_bodies(db)[1]["client_ip"] == ""
    assert hook_bodies(db)[1]["user_agent"] == ""


def test_consent_is_optional_under_the_basic_policy(db, token) -> None:
    app = build_app(db, fire_document(policy="basic"))
    event = crm_event()
    del event["consent"]
    with TestClient(app) as client:
        response = post(client, event, token)
    assert response.status_code == 200
    # absent signals count as granted; Google Ads still needs a click id or user data
    # it may use (ad_user_data unspecified), so it has nothing to upload
    assert response.json()["events"][0]["queued"] == ["ga4", "hook", "linkedin", "meta", "tiktok"]


# --- personal data --------------------------------------------------------------------

PLAIN = {"email": "Zebulon.Quartz@Example.org", "phone": "030 12345678",
         "first_name": "Zebulon", "last_name": "Quartzfeld", "city": "Wuppertal",
         "state": "Nordrhein-Westfalen", "zip": "9Q4X7Z", "country": "Germany",
         "external_id": "CRM-SECRET-77"}  # fmt: skip
NEEDLES = (
    "zebulon",
    "quartz",
    "wuppertal",
    "nordrhein",
    "9q4x7z",
    "crm-secret",
    "3012345678",
    "030 1234",
)


def test_plaintext_is_hashed_server_side_per_platform(client, db, token) -> None:
    assert post(client, crm_event(user=PLAIN), token).status_code == 200
    [hook] = hook_bodies(db)
    expected = {key: hash_identifier("meta", name, PLAIN[name], "DE") for key, name in (
        ("em", "email"), ("ph_d", "phone"), ("fn", "first_name"), ("ln", "last_name"),
        ("ct", "city"), ("st", "state"), ("zp", "zip"), ("country", "country"),
        ("external_id", "external_id"))}  # fmt: skip
    expected["ph"] = hash_identifier("tiktok", "phone", PLAIN["phone"], "DE")
    assert hook["user"] == expected
    meta = next(orjson.loads(b) for t, _, b in outbox(db) if t == "meta")
    assert meta["data"][0]["user_data"]["ph"] == [expected["ph_d"]]
    tiktok = next(orjson.loads(b) for t, _, b in outbox(db) if t == "tiktok")
    assert tiktok["data"][0]["user"]["phone"] == expected["ph"]


def test_hashed_values_pass_through(client, db, token) -> None:
    digest = "AB" * 32
    assert post(client, crm_event(user={"email": digest}), token).status_code == 200
    assert hook_bodies(db)[0]["user"] == {"em": digest.lower()}


def test_plaintext_is_never_stored_or_logged(client, db, token, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    good = crm_event(user=PLAIN, custom={"note": "call zebulon.quartz@example.org"})
    user = {**PLAIN, "email": "zebulon@@quartz.example", "zebulon@quartz.example": 1}
    bad = crm_event(lead_id="L-4712", user=user)
    assert post(client, [good, bad], token, **{"idempotency-key": "k-1"}).status_code == 207
    assert post(client, bad, token, **{"idempotency-key": "k-2"}).status_code == 400
    stored = b"".join(
        p.read_bytes() for p in db.parent.iterdir() if p.is_file() and p.name.startswith(db.name)
    )
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records).lower()
    for needle in NEEDLES:
        assert needle.encode() not in stored.lower(), needle
        assert needle not in logged, needle


# --- idempotency ----------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_answer(db, token) -> None:
    app = build_app(db, fire_document(fire_once="none"))
    with TestClient(app) as client:
        first = post(client, crm_event(), token, **{"idempotency-key": "crm-retry-1"})
        # the same body serialised another way is the same request
        again = orjson.dumps(crm_event(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
        second = post(client, again, token, **{"idempotency-key": "crm-retry-1"})
        fresh = post(client, crm_event(), token)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert "idempotent-replayed" not in fresh.headers
    assert len(outbox(db)) == 12  # fire-once is off: the retry did not run, the fresh one did


def test_error_answers_are_replayed_too(client, token) -> None:
    first = post(client, crm_event(event="Bad!"), token, **{"idempotency-key": "bad-1"})
    second = post(client, crm_event(event="Bad!"), token, **{"idempotency-key": "bad-1"})
    assert first.status_code == second.status_code == 400
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"


def test_the_same_key_with_another_body_is_422(client, db, token) -> None:
    assert post(client, crm_event(), token, **{"idempotency-key": "k"}).status_code == 200
    response = post(client, crm_event(lead_id="L-9"), token, **{"idempotency-key": "k"})
    assert response.status_code == 422
    assert only_error(response)["field"] == "Idempotency-Key"
    assert len(outbox(db)) == 6


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é"])
def test_a_malformed_key_is_400(client, token, key) -> None:
    response = client.post(URL, content=orjson.dumps(crm_event()),
                           headers={"authorization": f"Bearer {token}",
                                    "content-type": "application/json",
                                    "idempotency-key": key.encode("utf-8")})  # fmt: skip
    assert response.status_code == 400
    assert only_error(response)["field"] == "Idempotency-Key"


# --- junk -----------------------------------------------------------------------------

TRICKY = ["zebulon@example.org", "+49 30 12345678", "a" * 64, "2025-11-23T10:00:00Z", "",
          "phone_call", "qualified_lead", "L-1", 1_763_900_000_000, -1, 2**70, "\x00"]  # fmt: skip
VALUES = json_values(extra=TRICKY, leaves=12)
USERS = st.dictionaries(st.sampled_from(sorted(PLAIN_USER_FIELDS)), VALUES, max_size=4)
EVENTS = st.dictionaries(
    st.sampled_from(sorted(FIELDS)) | st.text(max_size=6),
    VALUES | USERS | st.just(GRANTED),
    max_size=8,
)
BODIES = EVENTS | st.lists(EVENTS, max_size=3) | json_values(extra=TRICKY)


@pytest.fixture(scope="module")
def junk_client(tmp_path_factory):
    db = tmp_path_factory.mktemp("fire-junk") / "tagwire.db"
    token = add_token(db)
    app = build_app(db, fire_document(policy="basic"))
    with TestClient(app) as client:
        yield client, token


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES, key=st.none() | st.text(alphabet="abc-", min_size=1, max_size=3))
def test_any_json_body_gets_a_4xx_naming_fields_never_a_500(junk_client, body, key) -> None:
    client, token = junk_client
    headers = {} if key is None else {"idempotency-key": key}
    # the standard library writes what orjson refuses (huge integers, NaN): the server must
    # refuse those too
    response = post(client, json.dumps(body).encode(), token, **headers)
    assert response.status_code in (200, 207, 400, 403, 413, 422), response.text
    answer = response.json()
    for error in answer.get("errors", []):
        assert isinstance(error["field"], str)
        assert isinstance(error["reason"], str)
    assert response.status_code >= 400 or answer["events"]

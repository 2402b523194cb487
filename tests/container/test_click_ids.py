"""Click ids that are not shaped like one are stripped from hits: never echoed into a
Set-Cookie header or an outbox row, counted and logged without the value."""

from __future__ import annotations

import itertools
import logging
import sqlite3

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from container.click_ids import strip_click_ids
from tests.container.test_collect import build_app
from tests.helpers import make_document, make_hit
from variables.hit import CLICK_FIELDS, click_id_shaped

# Real-looking ids from the platforms' docs and the field: each must pass.
REAL = [
    ("fbclid", "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"),
    ("fbclid", "IwZXh0bgNhZW0BMABhZGlkAasaXXXX_aem_AbCdEf-GhIjKl" + "x" * 300),
    ("gclid", "Cj0KCQiA-example"),
    ("gclid", "EAIaIQobChMI4c3x8Jz2_wIVx-J3Ch2Z_wAREAAYASAAEgKZ6vD_BwE"),
    ("gbraid", "0AAAAADKnKd3Nq0sXwJ9s7Xq7Ytd4F5bM1"),
    ("wbraid", "CjkKCAiA1fqrBhAJEikAz9W-Vl0j3TxHYGJ2t3E3Eg1rE0Y"),
    ("ttclid", "E.C.P.CsgBAmrTdtpQyzLrE3Qp6xRT1jKMFkYl"),
    ("ttp", "2Zc9uPK9dMvCcz0GYGr9GgKDoFE"),
    ("li_fat_id", "f2b8b5a4-5c1d-4e34-9b6a-1f6d0c1b9a77"),
    ("msclkid", "7b0c6a4f0f9c1b2a3d4e5f60718293a4"),
    ("fbc", "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890"),
    ("fbc", "fb.1.1700000000000.IwAR2F4-dbP0l7Mn1Iaw.AQ"),  # with a param builder appendix
    ("fbc", "fb.2.1700000000000.IwAR2F4.AQIBAAEA"),
    ("fbp", "fb.1.1596403881668.1116446470"),
    ("fbp", "fb.1.1700000000000.1116446470.Bg"),
]
BAD = [
    ("gclid", "jane.doe@example.com"),
    ("gclid", "has space"),
    ("fbclid", 'quo"te'),
    ("ttclid", "a;b=c"),
    ("msclkid", "a,b"),
    ("li_fat_id", "back\\slash"),
    ("wbraid", "x" * 513),
    ("gbraid", ""),
    ("fbc", "IwAR2F4-not-a-cookie"),
    ("fbp", "fb.1.1700000000000.jane@example.com"),
    ("gclid", "caf\u00e9"),
    ("gclid", "percent%40encoded"),
]


@pytest.mark.parametrize(("name", "value"), REAL)
def test_real_looking_ids_are_click_id_shaped(name: str, value: str) -> None:
    assert click_id_shaped(name, value)


@pytest.mark.parametrize(("name", "value"), BAD)
def test_others_are_not(name: str, value: str) -> None:
    assert not click_id_shaped(name, value)


def test_strip_removes_only_the_bad_values_and_logs_no_value(caplog) -> None:
    caplog.set_level(logging.INFO, logger="tagwire.click_ids")
    wire = {"click": {"gclid": "jane@example.com", "fbclid": "IwAR2xyz", "ttclid": 7,
                      "colour": "red@example.com"}}  # fmt: skip
    assert strip_click_ids("shop", "trace-1", wire) == ["gclid"]
    # the validator names the non-string and the unknown key
    assert wire == {"click": {"fbclid": "IwAR2xyz", "ttclid": 7, "colour": "red@example.com"}}
    [record] = caplog.records
    assert record.fields == {"container": "shop", "trace_id": "trace-1", "fields": ["click.gclid"]}
    assert "jane" not in caplog.text


@pytest.mark.parametrize("wire", [None, [], "x", {"click": None}, {"click": ["gclid"]}, {}])
def test_strip_leaves_what_is_not_a_click_object_to_the_validator(wire) -> None:
    assert strip_click_ids("shop", "t", wire) == []


# A tag that copies every click id it gets into a cookie and into its request.
ECHO = {
    "id": "echo",
    "lua": 'local c = event.get("click") or {}\n'
           'for k, v in pairs(c) do cookies.set("_c_" .. k, v) end\n'
           'send_http{url = "https://hooks.example.com/tagwire", body = {click = c}}',
    "permissions": {"read_event_data": ["click.*"],
                    "set_cookies": [f"_c_{name}" for name in sorted(CLICK_FIELDS)],
                    "send_http": [{"url": "https://hooks.example.com/tagwire"}]},
}  # fmt: skip


@pytest.fixture(scope="module")
def echo_node(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("clicks")
    doc = make_document(template="echo", params={})
    doc["templates"] = [ECHO]
    # many hits from one test client: no rate limit or spike hold
    limits = {"TAGWIRE_MAX_HITS_PER_IP_MINUTE": "100000",
              "TAGWIRE_MAX_HITS_PER_CLIENT_MINUTE": "100000",
              "TAGWIRE_SPIKE_MIN_EVENTS": "100000"}  # fmt: skip
    app = build_app(tmp_path, doc, **limits)
    with TestClient(app, base_url="https://t.example.com") as client:
        yield client, tmp_path / "tagwire.db"


TEXT = {"content-type": "text/plain"}
SERIALS = itertools.count()


def rows(db, event_id: str) -> list[bytes]:
    conn = sqlite3.connect(db)
    found = conn.execute("SELECT body FROM outbox WHERE event_id = ?", (event_id,)).fetchall()
    conn.close()
    return [body for (body,) in found]


def test_a_good_click_id_reaches_the_cookie_and_the_row(echo_node) -> None:
    client, db = echo_node
    hit = make_hit(event_id="click-good-0001", click={"gclid": "Cj0KCQiA-x", "gbraid": "a b"})
    response = client.post("/collect?id=shop", content=orjson.dumps(hit), headers=TEXT)
    assert response.status_code == 204, response.text
    set_cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("_c_gclid=Cj0KCQiA-x;") for c in set_cookies)
    assert not any(c.startswith("_c_gbraid=") for c in set_cookies)
    [body] = rows(db, "click-good-0001")
    assert orjson.loads(body)["click"] == {"gclid": "Cj0KCQiA-x"}
    metrics = client.get("/metrics").text
    assert 'tagwire_click_ids_stripped_total{container="shop",field="click.gbraid"} 1.0' in metrics


hostile = st.one_of(
    st.emails(),
    st.text(min_size=1, max_size=40).map(lambda t: t + " " + t),
    st.tuples(
        st.sampled_from(['"', ";", ",", "\\", "@", " ", "\t", "<"]), st.text(max_size=20)
    ).map(lambda p: f"Cj0{p[0]}{p[1]}"),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(CLICK_FIELDS)),
    value=hostile,
)
def test_hostile_click_ids_never_reach_a_cookie_or_a_row(echo_node, name, value) -> None:
    client, db = echo_node
    event_id = f"click-prop-{next(SERIALS):06d}"  # fire-once would drop a repeated one
    good = "fbclid" if name != "fbclid" else "gclid"
    hit = make_hit(event_id=event_id, click={name: value, good: "IwAR2-good"})
    response = client.post("/collect?id=shop", content=orjson.dumps(hit), headers=TEXT)
    assert response.status_code == 204, response.text
    set_cookies = response.headers.get_list("set-cookie")
    assert not any(c.startswith(f"_c_{name}=") for c in set_cookies)
    assert any(c.startswith(f"_c_{good}=IwAR2-good;") for c in set_cookies)
    [body] = rows(db, event_id)
    assert orjson.loads(body)["click"] == {good: "IwAR2-good"}

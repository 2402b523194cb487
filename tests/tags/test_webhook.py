import orjson

from tags.webhook import build_request
from tests.helpers import EMAIL_HASH, make_hit
from variables.hit import Hit

PARAMS = {"url": "https://hooks.example.com/x", "event_names": {"lead": "Lead"},
          "headers": {"x-api-key": "k"}, "include_client": False}  # fmt: skip


def hit():
    wire = make_hit()
    return Hit("shop", "lead", wire["event_id"], wire, 1_763_900_000_000, 1_763_900_000_500,
               "203.0.113.5", "Mozilla/5.0", "cid123456789012345", False, "trace")  # fmt: skip


def test_maps_event_and_carries_hashed_user_only():
    request = build_request(hit(), PARAMS)
    assert request.method == "POST"
    assert request.url == "https://hooks.example.com/x"
    assert request.headers == {"content-type": "application/json", "x-api-key": "k"}
    body = orjson.loads(request.body)
    assert body["event"] == "Lead"
    assert body["event_id"] == "0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10"
    assert body["event_time_ms"] == 1_763_900_000_000
    assert body["user"] == {"em": EMAIL_HASH}
    assert body["data"] == {"value": 50, "currency": "EUR", "lead_id": "L-1001"}
    assert "client_ip" not in body
    assert "user_agent" not in body


def test_unmapped_event_keeps_its_name_and_client_info_is_opt_in():
    h = hit()
    h.event = "subscribe"
    body = orjson.loads(build_request(h, {**PARAMS, "include_client": True}).body)
    assert body["event"] == "subscribe"
    assert body["client_ip"] == "203.0.113.5"
    assert body["user_agent"] == "Mozilla/5.0"

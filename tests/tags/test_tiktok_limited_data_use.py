"""TikTok Limited Data Use: the browser Pixel command carries it exactly when the Events
API event does (tags/templates/tiktok), so a visitor's restriction cannot be lost on the
copy that goes through the browser."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tags.package import shipped_template
from tags.testing import run_once

NOW_MS = 1763900000000
PARAMS = {"pixel_code": "CABC123DEF456GHI789J", "access_token": "tiktok_events"}
SERVER = {"event_time_ms": NOW_MS, "client_ip": "203.0.113.7", "user_agent": "UA"}
EVENTS = ["page_view", "lead", "view_content", "search", "purchase", "my_custom_event"]


def pixel_flag(pixel: dict[str, Any]) -> object:
    """The flag as ttq receives it: track(name, properties, options), page(properties)."""
    args = pixel["args"]
    properties = args[2] if pixel["command"] == "track" else (args[1] if len(args) > 1 else {})
    return properties.get("limited_data_use")


@given(
    event=st.sampled_from(EVENTS),
    ldu=st.none() | st.booleans(),
    data=st.fixed_dictionaries({}, optional={"search_string": st.just("shoes"),
                                             "transaction_id": st.just("T-1")}),
)  # fmt: skip
def test_the_pixel_carries_limited_data_use_when_the_server_event_does(
    event: str, ldu: bool | None, data: dict[str, str]
) -> None:
    params = dict(PARAMS) if ldu is None else {**PARAMS, "limited_data_use": ldu}
    wire = {"v": 1, "event": event, "event_id": "evt-ldu-000001",
            "page": {"url": "https://www.example.com/p"},
            "data": {**data, "value": 10, "currency": "EUR"}}  # fmt: skip
    result = run_once(shipped_template("tiktok"), wire, params,
                      secrets={"tiktok_events": "t"}, server=SERVER, now_ms=NOW_MS)  # fmt: skip
    [request] = result.requests
    [server_event] = orjson.loads(request["body"])["data"]
    [pixel] = result.pixels
    assert server_event["limited_data_use"] is bool(ldu)
    assert pixel_flag(pixel) == (True if ldu else None)
    if pixel["command"] == "track":  # the server's properties never carry the flag
        assert "limited_data_use" not in server_event.get("properties", {})
        assert {k: v for k, v in pixel["args"][2].items() if k != "limited_data_use"} == (
            server_event.get("properties", {})
        )

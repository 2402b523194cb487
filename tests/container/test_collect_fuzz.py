"""Thousands of generated bad requests at a real server: only 2xx/4xx, and it keeps answering."""

import string

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.schema import apply_defaults
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from container.app import create_app
from container.containers import ContainerSet
from container.pipeline import CompiledContainer
from tags.runtime import TemplateRuntime
from tests.helpers import json_values as json_values_strategy
from tests.helpers import make_document, make_hit, serve_in_thread

json_values = json_values_strategy(text=30, width=5, leaves=25)
sections = st.sampled_from(
    ["v", "event", "event_id", "ts", "page", "consent", "user", "click", "data", "custom", "extra"]
)
mutated_hits = st.builds(lambda k, v: make_hit(**{k: v}), sections, json_values)


def encode(value):
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):  # NaN/inf and huge ints: send the repr
        return repr(value).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(encode),
    mutated_hits.map(encode),
    st.lists(st.one_of(mutated_hits, json_values), min_size=1, max_size=60).map(encode),
)
header_text = st.text(alphabet=string.printable.strip() + " ", max_size=60).map(str.strip)
content_types = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "",
        ]
    ),
    header_text,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    settings_ = load_settings({"TAGWIRE_SENDER": "off", "TAGWIRE_TRUSTED_PROXIES": "127.0.0.1"})
    container = CompiledContainer.compile(apply_defaults(make_document()), TemplateRuntime())
    app = create_app(settings_, SQLiteStore(tmp / "t.db"), ContainerSet.of({"shop": container}))
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=bodies,
    content_type=content_types,
    container=st.sampled_from(["shop", "", "nope", "shop&id=x"]),
    cookie=header_text,
    forwarded=header_text,
    origin=st.one_of(st.none(), header_text),
)
def test_collect_only_answers_2xx_or_4xx(
    server, body, content_type, container, cookie, forwarded, origin
):
    headers = {
        "content-type": content_type,
        "cookie": f"tw_id={cookie}",
        "x-forwarded-for": forwarded,
    }
    if origin is not None:
        headers["origin"] = origin
    response = server.post(f"/collect?id={container}", content=body, headers=headers)
    assert 200 <= response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        assert response.json()["errors"], response.text


def test_server_still_answers_after_the_fuzzing(server):
    assert server.get("/healthz").status_code == 200
    response = server.post(
        "/collect?id=shop",
        content=orjson.dumps(make_hit(event_id="after-fuzz-1")),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 204

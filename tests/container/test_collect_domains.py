"""Two clients' containers on one node: each gets its cookies on its own site's domain,
and a page of another site is refused (container/site_domain.py)."""

from __future__ import annotations

import logging
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
from container.pipeline import CompiledContainer
from tags.runtime import TemplateRuntime
from tests.helpers import make_hit


def site_document(container_id: str, domain: str | None) -> dict[str, Any]:
    """A container whose Meta tag (browser copy only) sets `_fbp` on a first visit."""
    container: dict[str, Any] = {"id": container_id, "name": container_id}
    if domain is not None:
        container["domain"] = domain
    return {
        "container": container,
        "triggers": [{"id": "all", "name": "All", "events": ["*"]}],
        "tags": [
            {
                "id": "meta",
                "name": "Meta",
                "template": "meta",
                "params": {"pixel_id": "123456789", "access_token": "meta_token",
                           "send_server": False},
                "firing_triggers": ["all"],
            }
        ],
    }  # fmt: skip


@pytest.fixture
def node(tmp_path):
    """One node serving client A (alpha), client B (beta) and a container without a
    domain (plain), with a node-wide cookie domain of its own."""
    runtime = TemplateRuntime()
    docs = {
        "alpha": site_document("alpha", "client-a.example"),
        "beta": site_document("beta", "client-b.example"),
        "plain": site_document("plain", None),
    }
    containers = ContainerSet.of(
        {cid: CompiledContainer.compile(apply_defaults(doc), runtime) for cid, doc in docs.items()}
    )
    settings = load_settings({"TAGWIRE_SENDER": "off", "TAGWIRE_COOKIE_DOMAIN": "node.example"})
    app = create_app(settings, SQLiteStore(tmp_path / "tagwire.db"), containers)
    with TestClient(app, base_url="https://t.node.example") as client:
        yield client


def cookies(response) -> dict[str, dict[str, str]]:
    """Each Set-Cookie of the answer: name -> its attributes (value under "value")."""
    out = {}
    for header in response.headers.get_list("set-cookie"):
        [(name, morsel)] = SimpleCookie(header).items()
        out[name] = {"value": morsel.value, "domain": morsel["domain"],
                     "httponly": str(morsel["httponly"])}  # fmt: skip
    return out


def post(node: TestClient, host: str, container_id: str, origin: str | None = None, hit=None):
    """A hit for the container, sent to the node at `host` (the collector host of a site)."""
    headers = {"content-type": "text/plain", "host": host}
    if origin is not None:
        headers["origin"] = origin
    return node.post(
        f"/collect?id={container_id}",
        content=orjson.dumps(hit or make_hit(click={})),
        headers=headers,
    )


def test_two_clients_on_one_node_get_cookies_on_their_own_domains(node):
    a = post(node, "t.client-a.example", "alpha", "https://www.client-a.example")
    b = post(node, "t.client-b.example", "beta", "https://shop.client-b.example")
    for response, origin, domain in (
        (a, "https://www.client-a.example", "client-a.example"),
        (b, "https://shop.client-b.example", "client-b.example"),
    ):
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == origin
        set_cookies = cookies(response)
        assert set(set_cookies) == {"tw_id", "_fbp"}
        assert {c["domain"] for c in set_cookies.values()} == {domain}
        assert set_cookies["tw_id"]["httponly"] == "True"
        assert set_cookies["_fbp"]["httponly"] == ""


def test_a_container_without_a_domain_uses_the_nodes(node):
    response = post(node, "t.node.example", "plain", "https://t.node.example")
    assert response.status_code == 200
    assert {c["domain"] for c in cookies(response).values()} == {"node.example"}


@pytest.mark.parametrize(
    ("host", "container_id", "origin"),
    [
        ("t.client-a.example", "alpha", "https://www.client-b.example"),
        ("t.client-b.example", "beta", "https://www.client-a.example"),
        # a page served on client B's collector host posting to client A's container
        ("t.client-b.example", "alpha", "https://t.client-b.example"),
        ("t.client-a.example", "alpha", "https://client-a.example.evil.example"),
        ("t.client-a.example", "alpha", "null"),
    ],
)
def test_a_foreign_origin_is_refused(node, host, container_id, origin):
    response = post(node, host, container_id, origin)
    assert response.status_code == 403
    [error] = response.json()["errors"]
    assert error["field"] == "Origin"
    assert origin in error["reason"]
    assert "set-cookie" not in response.headers
    assert "access-control-allow-origin" not in response.headers


def test_a_preflight_follows_the_same_rule(node):
    host = {"host": "t.client-a.example"}
    ok = node.options("/collect?id=alpha", headers={**host, "origin": "https://client-a.example"})
    refused = node.options(
        "/collect?id=alpha", headers={**host, "origin": "https://client-b.example"}
    )
    assert ok.status_code == 204
    assert refused.status_code == 403


def test_a_host_outside_the_domain_gets_host_only_cookies_and_one_warning(node, caplog):
    caplog.set_level(logging.WARNING, logger="tagwire.collect")
    for event_id in ("host-only-0001", "host-only-0002"):
        response = post(node, "tagwire.internal", "alpha", hit=make_hit(event_id=event_id))
        assert response.status_code == 200
        assert {c["domain"] for c in cookies(response).values()} == {""}
    warnings = [r for r in caplog.records if "host-only" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].fields == {"container": "alpha", "host": "tagwire.internal",
                                  "domain": "client-a.example"}  # fmt: skip

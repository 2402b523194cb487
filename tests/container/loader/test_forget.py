"""`POST /forget`: the answer deletes tw_id and every cookie the container's tags may set,
at each domain the cookie may have been set for."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import orjson
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config.schema import apply_defaults, validate_document
from config.settings import Settings
from container.containers import ContainerSet
from container.loader import LoaderFiles, loader_scripts
from container.loader.forget import cookie_names, deletions
from container.pipeline import CompiledContainer
from tags.runtime import TemplateRuntime

DEMO = Path(__file__).parents[3] / "demo" / "container.json"
# What the demo's tags may set: Meta, TikTok, LinkedIn and Google Ads click and browser ids,
# and GA4's client id.
DEMO_COOKIES = ["tw_id", "_fbc", "_fbp", "ttclid", "li_fat_id", "_gcl_aw", "_gcl_gb", "_ga"]


@pytest.fixture(scope="module")
def demo() -> CompiledContainer:
    doc = orjson.loads(DEMO.read_bytes())
    assert validate_document(doc) == []
    return CompiledContainer.compile(apply_defaults(doc), TemplateRuntime())


@pytest.fixture(scope="module")
def client(demo: CompiledContainer) -> Iterator[TestClient]:
    files = LoaderFiles(
        ContainerSet.of({demo.id: demo}), loader_scripts(Settings()), cookie_domain="client.com"
    )
    with TestClient(Starlette(routes=files.routes()), base_url="http://t.client.com") as c:
        yield c


def deleted(response) -> list[tuple[str, str]]:
    """(name, domain) of each cookie the answer deletes; '' for host-only."""
    out = []
    for header in response.headers.get_list("set-cookie"):
        [(name, morsel)] = SimpleCookie(header).items()
        assert morsel.value == ""
        assert morsel["max-age"] == "0"
        assert morsel["path"] == "/"
        out.append((name, morsel["domain"]))
    return out


def test_cookie_names_are_tw_id_and_what_the_tags_may_set(demo: CompiledContainer) -> None:
    assert cookie_names(demo) == DEMO_COOKIES


def test_forget_deletes_each_cookie_host_only_and_at_each_parent_domain(
    client: TestClient,
) -> None:
    response = client.post("/forget?id=demo")
    assert response.status_code == 204
    assert response.headers["cache-control"] == "no-store"
    assert deleted(response) == [
        (name, domain) for name in DEMO_COOKIES for domain in ("", "client.com", "t.client.com")
    ]


def test_forget_needs_a_served_container_and_a_post(client: TestClient) -> None:
    unknown = client.post("/forget?id=nope")
    assert unknown.status_code == 404
    assert unknown.headers.get_list("set-cookie") == []
    assert client.get("/forget?id=demo").status_code == 405


def test_an_ip_host_gets_host_only_deletions() -> None:
    assert deletions(["tw_id"], "127.0.0.1") == ["tw_id=; Path=/; Max-Age=0; SameSite=Lax"]
    assert deletions(["tw_id"], "::1") == ["tw_id=; Path=/; Max-Age=0; SameSite=Lax"]


def test_the_configured_domain_is_deleted_even_when_the_host_is_another() -> None:
    assert deletions(["tw_id"], "tagwire.internal", ".client.com") == [
        "tw_id=; Path=/; Max-Age=0; SameSite=Lax",
        "tw_id=; Path=/; Max-Age=0; SameSite=Lax; Domain=client.com",
        "tw_id=; Path=/; Max-Age=0; SameSite=Lax; Domain=tagwire.internal",
    ]


def _site(container_id: str, domain: str, origins: list[str]) -> CompiledContainer:
    doc = orjson.loads(DEMO.read_bytes())
    doc["container"].update(id=container_id, domain=domain, allowed_origins=origins)
    return CompiledContainer.compile(apply_defaults(doc), TemplateRuntime())


@pytest.fixture(scope="module")
def two_sites() -> ContainerSet:
    """Two clients' containers on one node, each with its own site domain."""
    return ContainerSet.of(
        {
            "alpha": _site("alpha", "client-a.example", []),
            "beta": _site("beta", "client-b.example", ["https://partner.example"]),
        }
    )


def site_client(containers: ContainerSet, host: str) -> TestClient:
    files = LoaderFiles(containers, loader_scripts(Settings()), cookie_domain="node.example")
    return TestClient(Starlette(routes=files.routes()), base_url=f"https://{host}")


def test_forget_deletes_at_the_containers_domain(two_sites: ContainerSet) -> None:
    with site_client(two_sites, "t.client-a.example") as client:
        response = client.post(
            "/forget?id=alpha", headers={"origin": "https://www.client-a.example"}
        )
    assert response.status_code == 204
    domains = ("", "client-a.example", "node.example", "t.client-a.example")
    assert deleted(response) == [(name, d) for name in DEMO_COOKIES for d in domains]


@pytest.mark.parametrize(
    ("container_id", "origin"),
    [
        ("alpha", "https://www.client-b.example"),  # the other client's site
        ("alpha", "https://client-a.example.evil.example"),
        ("alpha", "https://t.client-b.example"),  # the node's own origin, but the other site
        ("beta", "https://www.client-a.example"),
        ("beta", "null"),
    ],
)
def test_forget_from_a_foreign_origin_is_refused(
    two_sites: ContainerSet, container_id: str, origin: str
) -> None:
    with site_client(two_sites, "t.client-b.example") as client:
        response = client.post(f"/forget?id={container_id}", headers={"origin": origin})
    assert response.status_code == 403
    [error] = response.json()["errors"]
    assert error["field"] == "Origin"
    assert origin in error["reason"]
    assert response.headers.get_list("set-cookie") == []


@pytest.mark.parametrize(
    "origin",
    ["https://client-b.example", "https://shop.client-b.example", "https://partner.example"],
)
def test_forget_from_the_site_or_a_listed_origin_is_answered(
    two_sites: ContainerSet, origin: str
) -> None:
    with site_client(two_sites, "t.client-b.example") as client:
        response = client.post("/forget?id=beta", headers={"origin": origin})
    assert response.status_code == 204
    assert ("_ga", "client-b.example") in deleted(response)


def test_forget_without_an_origin_is_answered_as_before(two_sites: ContainerSet) -> None:
    with site_client(two_sites, "t.client-b.example") as client:
        assert client.post("/forget?id=alpha").status_code == 204

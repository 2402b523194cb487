"""`GET /loader.js` and `GET /loader-consented.js` over HTTP: caching, gzip, bad input."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config.schema import apply_defaults, validate_document
from config.settings import Settings
from container.containers import ContainerSet
from container.loader import LoaderFiles, loader_scripts
from container.pipeline import CompiledContainer
from tags.runtime import TemplateRuntime
from tests.helpers import make_document


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    doc = make_document()
    assert validate_document(doc) == []
    container = CompiledContainer.compile(apply_defaults(doc), TemplateRuntime())
    files = LoaderFiles(ContainerSet.of({container.id: container}), loader_scripts(Settings()))
    with TestClient(Starlette(routes=files.routes())) as test_client:
        test_client.container_id = container.id  # type: ignore[attr-defined]
        yield test_client


def test_loader_is_served_gzipped_with_short_cache_and_etag(client: TestClient) -> None:
    response = client.get(
        f"/loader.js?id={client.container_id}", headers={"accept-encoding": "gzip"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["vary"] == "accept-encoding"
    assert response.headers["etag"].startswith('"')
    assert b"'use strict'" in response.content  # httpx decoded the gzip body


def test_loader_without_gzip_is_plain(client: TestClient) -> None:
    response = client.get(
        f"/loader.js?id={client.container_id}", headers={"accept-encoding": "identity"}
    )
    assert "content-encoding" not in response.headers
    assert response.content.startswith(b"(function(")


def test_gzip_refused_with_q_zero(client: TestClient) -> None:
    response = client.get(
        f"/loader.js?id={client.container_id}", headers={"accept-encoding": "br, gzip;q=0"}
    )
    assert "content-encoding" not in response.headers


def test_etag_revalidation_answers_304(client: TestClient) -> None:
    etag = client.get(f"/loader.js?id={client.container_id}").headers["etag"]
    for header in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        response = client.get(
            f"/loader.js?id={client.container_id}", headers={"if-none-match": header}
        )
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
    changed = client.get(f"/loader.js?id={client.container_id}", headers={"if-none-match": '"x"'})
    assert changed.status_code == 200


def test_versioned_url_is_immutable_and_outdated_one_is_not_pinned(client: TestClient) -> None:
    plain = client.get(f"/loader.js?id={client.container_id}")
    pinned_url = plain.headers["content-location"]
    version = plain.headers["etag"].strip('"')
    assert pinned_url == f"/loader.js?id={client.container_id}&v={version}"
    pinned = client.get(pinned_url)
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert pinned.content == plain.content
    outdated = client.get(f"/loader.js?id={client.container_id}&v=0000")
    assert outdated.status_code == 200
    assert outdated.headers["cache-control"] == "no-cache"


def test_head_has_headers_and_no_body(client: TestClient) -> None:
    response = client.head(
        f"/loader.js?id={client.container_id}", headers={"accept-encoding": "gzip"}
    )
    assert response.status_code == 200
    assert response.content == b""
    body = client.get(f"/loader.js?id={client.container_id}", headers={"accept-encoding": "gzip"})
    assert int(response.headers["content-length"]) == len(gzip.compress(body.content, 9))


@pytest.mark.parametrize(
    ("url", "status", "reason"),
    [
        ("/loader.js", 400, "required query parameter: the container id"),
        ("/loader.js?id=", 400, "required query parameter: the container id"),
        ("/loader.js?id=nope", 404, "unknown container 'nope'"),
        ("/loader.js?id=%00%ff", 404, "unknown container"),
    ],
)
def test_bad_container_ids_are_4xx_naming_the_field(
    client: TestClient, url: str, status: int, reason: str
) -> None:
    response = client.get(url)
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["field"] == "id"
    assert error["reason"].startswith(reason)


def test_consented_file_is_linked_from_the_loader_and_long_cached(client: TestClient) -> None:
    loader = client.get(f"/loader.js?id={client.container_id}").text
    start = loader.index("/loader-consented.js?v=")
    url = loader[start : loader.index('"', start)]
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert b"window.tagwire._" in response.content
    assert client.get("/loader-consented.js").headers["cache-control"] == "public, max-age=300"


def _compiled(env: str = "live", version: int | None = None, policy: str = "strict"):
    doc = make_document()
    doc["container"]["consent_policy"] = policy
    return CompiledContainer.compile(
        apply_defaults(doc), TemplateRuntime(), version=version, env=env
    )


def _inlined_query(text: str) -> str:
    start = text.index('"q":"') + len('"q":"')
    return text[start : text.index('"', start)]


@pytest.fixture
def environments() -> Iterator[tuple[TestClient, ContainerSet]]:
    containers = ContainerSet.of({"shop": _compiled()})
    containers.put("shop", "staging", _compiled("staging", 5))
    files = LoaderFiles(containers, loader_scripts(Settings()))
    with TestClient(Starlette(routes=files.routes())) as test_client:
        yield test_client, containers


def test_an_environments_loader_sends_its_hits_to_that_environment(environments) -> None:
    client, _ = environments
    live = client.get("/loader.js?id=shop")
    staging = client.get("/loader.js?id=shop&env=staging")
    assert _inlined_query(live.text) == "id=shop"
    assert client.get("/loader.js?id=shop&env=live").content == live.content
    assert _inlined_query(staging.text) == "id=shop&env=staging"
    assert staging.headers["etag"] != live.headers["etag"]
    version = staging.headers["etag"].strip('"')
    assert staging.headers["content-location"] == f"/loader.js?id=shop&env=staging&v={version}"
    pinned = client.get(staging.headers["content-location"])
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_a_swapped_in_version_gets_a_fresh_loader(environments) -> None:
    client, containers = environments
    before = client.get("/loader.js?id=shop&env=staging")
    containers.put("shop", "staging", _compiled("staging", 6, policy="basic"))
    after = client.get("/loader.js?id=shop&env=staging")
    assert after.headers["etag"] != before.headers["etag"]
    assert '"policy":"basic"' in after.text
    assert _inlined_query(after.text) == "id=shop&env=staging"
    assert client.get("/loader.js?id=shop").headers["etag"] != after.headers["etag"]


@pytest.mark.parametrize(
    ("url", "status", "field", "reason"),
    [
        ("/loader.js?id=shop&env=Staging", 400, "env", "must be an environment name"),
        ("/loader.js?id=shop&env=", 400, "env", "must be an environment name"),
        ("/loader.js?id=shop&env=pr-9", 404, "env", "container 'shop' has no environment 'pr-9'"),
        ("/loader.js?id=blog&env=staging", 404, "id", "unknown container 'blog'"),
    ],
)
def test_bad_or_unknown_environments_are_4xx_naming_the_field(
    environments, url: str, status: int, field: str, reason: str
) -> None:
    client, _ = environments
    response = client.get(url)
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert error["reason"].startswith(reason)


def test_the_containers_default_country_is_in_the_loader_it_serves() -> None:
    from tests.container.loader.test_bundle import inlined

    doc = make_document()
    doc["container"]["default_country"] = "DE"
    assert validate_document(doc) == []
    container = CompiledContainer.compile(apply_defaults(doc), TemplateRuntime())
    files = LoaderFiles(ContainerSet.of({container.id: container}), loader_scripts(Settings()))
    with TestClient(Starlette(routes=files.routes())) as test_client:
        response = test_client.get(f"/loader.js?id={container.id}")
    assert inlined(response.content)["country"] == {"dial": "49", "prefix": "0"}

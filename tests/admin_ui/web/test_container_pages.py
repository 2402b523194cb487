"""Creating containers and removing environments from the admin UI."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from admin_ui.versions import Versions
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    post_form,
    run,
    sign_in,
    with_store,
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    add_user(path, "owner@agency.example", admin=True)

    async def setup(store):
        versions = Versions(store, signer=Ed25519PrivateKey.generate())
        await versions.import_document(DOCUMENT, "test", "test")
        await versions.create_version("shop", "test", "first")
        for env in ("live", "staging"):
            await versions.publish("shop", 1, env, "test")
        await store.create_client("acme", "Acme", "test", 0)
        await store.assign_container("shop", "acme", "test", 0)

    run(with_store(path, setup))
    return path


def test_a_blank_container_belongs_to_the_client_and_starts_as_a_workspace(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        blank = {"id": "acme-blog", "name": "Acme blog", "domain": "blog.acme.example"}
        made = post_form(client, "/admin/clients/acme/containers", blank)
        assert made.status_code == 303
        assert made.headers["location"] == "/admin/containers/acme-blog?done=imported"
        page = client.get("/admin/containers/acme-blog").text
    assert "No versions yet." in page
    assert run(with_store(db, lambda s: s.container_client("acme-blog"))) == "acme"


def test_a_blank_container_with_a_bad_id_names_the_field(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        answer = post_form(
            client,
            "/admin/clients/acme/containers",
            {"id": "Bad Id", "name": "x", "domain": "x.example"},
        )
    assert answer.status_code == 400
    assert "container: &#39;Bad Id&#39; is not a container id" in answer.text


def test_an_environment_is_removed_but_live_only_moves(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        removed = post_form(
            client, "/admin/containers/shop/environments/remove", {"env": "staging"}
        )
        live = post_form(client, "/admin/containers/shop/environments/remove", {"env": "live"})
    assert removed.status_code == 303
    assert live.status_code == 400
    assert "the live environment cannot be unpublished" in live.text
    names = [e.name for e in run(with_store(db, lambda s: s.list_environments("shop")))]
    assert names == ["live"]


@pytest.mark.parametrize("starter", ["lead-generation", "online-shop"])
def test_a_starter_becomes_a_valid_workspace_under_the_given_id(db, starter):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        made = post_form(
            client,
            "/admin/clients/acme/containers",
            {"id": "new-one", "name": "New one", "domain": "www.new.example", "starter": starter},
        )
        assert made.status_code == 303, made.text
        page = client.get("/admin/containers/new-one").text
    assert "Meta Pixel + Conversions API" in page
    workspace = run(with_store(db, lambda s: s.get_workspace("new-one")))
    doc = orjson.loads(workspace.document)
    assert doc["container"]["id"] == "new-one"
    assert doc["container"]["domain"] == "www.new.example"
    assert {t["template"] for t in doc["tags"]} >= {"meta", "ga4"}


def test_an_unknown_starter_is_refused(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        answer = post_form(
            client,
            "/admin/clients/acme/containers",
            {"id": "x1", "name": "x", "domain": "x.example", "starter": "../etc"},
        )
    assert answer.status_code == 400
    assert "starter: must be blank or one of" in answer.text

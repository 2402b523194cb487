"""Secrets are write-only and tokens are shown once, in the admin UI as in the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from admin_ui.versions import Versions
from config.secret_box import generate_key
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    csrf_of,
    post_form,
    run,
    sign_in,
    with_store,
)

KEY = generate_key()
PAGE = "/admin/containers/shop"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    add_user(path, "owner@agency.example", admin=True)

    async def setup(store):
        await Versions(store).import_document(DOCUMENT, "test", "test")
        await store.create_client("acme", "Acme", "test", 0)
        await store.assign_container("shop", "acme", "test", 0)

    run(with_store(path, setup))
    return path


def test_a_secret_value_is_never_shown_again(db):
    value = "EAAB-very-secret-token-value"
    with browser(db, KEY) as client:
        sign_in(client, "owner@agency.example")
        saved = post_form(client, f"{PAGE}/secrets", {"name": "meta_token", "value": value},
                          csrf_of(client, PAGE))  # fmt: skip
        assert saved.status_code == 303
        page = client.get(saved.headers["location"]).text
        audit = client.get("/admin/audit").text
    assert "meta_token" in page
    assert "Secret saved" in page
    assert "<title>shop · tagwire admin</title>" in page
    assert value not in page
    assert value not in audit
    stored = run(with_store(db, lambda s: s.list_secrets("shop")))
    assert [s.name for s in stored] == ["meta_token"]
    assert value.encode() not in stored[0].ciphertext


def test_without_a_secrets_key_setting_a_secret_says_how_to_configure_it(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        answer = post_form(client, f"{PAGE}/secrets", {"name": "meta_token", "value": "x"},
                           csrf_of(client, PAGE))  # fmt: skip
    assert answer.status_code == 409
    assert "TAGWIRE_SECRETS_KEY is not set" in answer.text
    assert run(with_store(db, lambda s: s.list_secrets("shop"))) == []


def test_a_token_is_shown_once_then_listed_and_revoked(db):
    with browser(db, KEY) as client:
        sign_in(client, "owner@agency.example")
        made = post_form(client, f"{PAGE}/tokens", {"name": "crm"}, csrf_of(client, PAGE))
        assert made.status_code == 200
        token = re.search(r"<pre>([^<]+)</pre>", made.text).group(1)
        page = client.get(PAGE).text
        assert token not in page
        assert re.search(r"<td>crm</td><td>live</td>", page)
        again = post_form(client, f"{PAGE}/tokens", {"name": "crm"}, csrf_of(client, PAGE))
        assert again.status_code == 409
        revoked = post_form(client, f"{PAGE}/tokens/revoke", {"name": "crm"}, csrf_of(client, PAGE))
        assert revoked.status_code == 303
        assert re.search(r"<td>crm</td><td>revoked</td>", client.get(PAGE).text)
    records = run(with_store(db, lambda s: s.list_tokens("shop")))
    assert [(r.name, r.revoked_at is not None) for r in records] == [("crm", True)]

"""Token actions: shown once, stored hashed, for a container that exists, audited."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import orjson
import pytest

from admin_ui.audit import Actor
from admin_ui.errors import FieldError, NotFound, UnknownContainer
from admin_ui.tokens import (
    UnknownClient,
    check_token_name,
    create_token,
    describe,
    revoke_token,
    token_records,
)
from config.storage import TokenNameTaken
from config.tokens import ADMIN_CONTAINER, admin_owner, hash_token, is_token_shaped
from tests.helpers import make_document, on_store

ANA = Actor("ana", "cli")


def clock() -> int:
    return 1_796_119_200_000  # 2026-12-01T10:00:00Z


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store holding the workspace of container shop."""
    path = tmp_path / "tagwire.db"

    async def work(store):
        await store.save_workspace("shop", orjson.dumps(make_document()), "ana", 1, {})

    on_store(path, work)
    return path


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [r.fields for r in caplog.records if r.name == "tagwire.audit"]


def test_create_stores_only_the_hash_and_audits(db, caplog):
    caplog.set_level(logging.INFO, logger="tagwire.audit")

    async def work(store):
        token = await create_token(store, "shop", "crm", ANA, clock=clock)
        return token, await store.list_tokens("shop"), await store.audit_log("shop", 1)

    token, [record], [entry] = on_store(db, work)
    assert is_token_shaped(token)
    assert (record.name, record.created_at) == ("crm", clock())
    assert on_store(db, lambda store: store.find_token(hash_token(token))).id == record.id
    assert token.encode() not in db.read_bytes()
    assert (entry.actor, entry.action, entry.detail) == ("ana", "token.create", {"name": "crm"})
    assert audit_lines(caplog) == [
        {"who": "ana", "via": "cli", "action": "token create", "container": "shop", "name": "crm"}
    ]


def test_create_refuses_an_unknown_container_and_stores_nothing(db, caplog):
    caplog.set_level(logging.INFO, logger="tagwire.audit")
    with pytest.raises(UnknownContainer) as info:
        on_store(db, lambda store: create_token(store, "shpo", "crm", ANA))
    assert "(it holds shop)" in str(info.value)
    assert "--document FILE" in str(info.value)
    assert on_store(db, lambda store: store.list_tokens(None)) == []
    assert audit_lines(caplog) == []


def test_create_for_a_container_served_from_a_file(db, tmp_path):
    doc = make_document()
    doc["container"]["id"] = "blog"
    served = tmp_path / "blog.json"
    served.write_text(json.dumps(doc))
    on_store(db, lambda store: create_token(store, "blog", "cms", ANA, [served]))
    assert [r["container"] for r in on_store(db, lambda s: token_records(s, None))] == ["blog"]


def test_admin_tokens_need_no_container(tmp_path):
    token = on_store(tmp_path / "t.db", lambda store: create_token(store, ADMIN_CONTAINER,
                                                                   "ops", ANA))  # fmt: skip
    assert is_token_shaped(token)
    [record] = on_store(tmp_path / "t.db", lambda store: token_records(store, ADMIN_CONTAINER))
    assert (record["container"], record["admin"], record["state"]) == ("*", True, "live")
    assert record["client"] is None


def test_a_live_name_is_taken(db):
    on_store(db, lambda store: create_token(store, "shop", "crm", ANA))
    with pytest.raises(TokenNameTaken):
        on_store(db, lambda store: create_token(store, "shop", "crm", ANA))


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "-lead", "é"])
def test_bad_names_are_field_errors(name):
    with pytest.raises(FieldError, match="is not a token name") as info:
        check_token_name(name)
    assert info.value.field == "name"


def test_revoke_audits_and_refuses_a_name_without_a_live_token(db, caplog):
    caplog.set_level(logging.INFO, logger="tagwire.audit")
    on_store(db, lambda store: create_token(store, "shop", "crm", ANA))
    on_store(db, lambda store: revoke_token(store, "shop", "crm", ANA, clock))
    with pytest.raises(NotFound, match=r"^no live token 'crm' of container 'shop'; see"):
        on_store(db, lambda store: revoke_token(store, "shop", "crm", ANA, clock))
    assert [line.get("revoked") for line in audit_lines(caplog)] == [None, True, False]
    actions = [e.action for e in on_store(db, lambda store: store.audit_log("shop", 10))]
    assert actions[:2] == ["token.revoke", "token.create"]
    [record] = on_store(db, lambda store: token_records(store, "shop"))
    assert (record["state"], record["revoked_at"]) == ("revoked", "2026-12-01T10:00:00.000Z")


def test_records_never_hold_the_token_or_its_hash(db):
    token = on_store(db, lambda store: create_token(store, "shop", "crm", ANA, clock=clock))
    [record] = on_store(db, lambda store: token_records(store, None))
    assert record == {"container": "shop", "name": "crm", "admin": False, "client": None,
                      "state": "live", "created_at": "2026-12-01T10:00:00.000Z",
                      "last_used_at": None, "revoked_at": None}  # fmt: skip
    assert token not in json.dumps(record)


def test_describe():
    assert describe(ADMIN_CONTAINER, "ops") == "admin token 'ops'"
    assert describe("*acme", "ops") == "admin token 'ops' of client 'acme'"
    assert describe("shop", "crm") == "token 'crm' of container 'shop'"


# --- admin tokens limited to one client ----------------------------------------------------


@pytest.fixture
def acme(db):
    """The store of `db`, with client acme."""
    on_store(db, lambda store: store.create_client("acme", "Acme", "ana", 1))
    return db


def test_an_admin_token_of_a_client(acme, caplog):
    caplog.set_level(logging.INFO, logger="tagwire.audit")
    owner = admin_owner("acme")

    async def work(store):
        token = await create_token(store, owner, "ops", ANA, clock=clock)
        return token, await token_records(store, owner), await store.audit_log(owner, 1)

    token, [record], [entry] = on_store(acme, work)
    assert is_token_shaped(token)
    assert on_store(acme, lambda store: store.find_token(hash_token(token))).container_id == "*acme"
    assert record == {"container": "*acme", "name": "ops", "admin": True, "client": "acme",
                      "state": "live", "created_at": "2026-12-01T10:00:00.000Z",
                      "last_used_at": None, "revoked_at": None}  # fmt: skip
    assert (entry.action, entry.detail) == ("token.create", {"name": "ops", "client": "acme"})
    assert audit_lines(caplog) == [
        {"who": "ana", "via": "cli", "action": "token create", "container": "*acme",
         "name": "ops", "client": "acme"}
    ]  # fmt: skip
    # The agency-wide admin token of the same name is another token.
    on_store(acme, lambda store: create_token(store, ADMIN_CONTAINER, "ops", ANA))
    records = on_store(acme, lambda store: token_records(store, None))
    assert [(r["container"], r["client"]) for r in records] == [("*", None), ("*acme", "acme")]


def test_an_admin_token_of_an_unknown_client_is_refused_and_stores_nothing(acme, caplog):
    caplog.set_level(logging.INFO, logger="tagwire.audit")
    with pytest.raises(UnknownClient, match=r"^no client 'acne'; ") as info:
        on_store(acme, lambda store: create_token(store, admin_owner("acne"), "ops", ANA))
    assert isinstance(info.value, NotFound)
    assert "tagwire clients create" in str(info.value)
    assert info.value.client_id == "acne"
    assert on_store(acme, lambda store: store.list_tokens(None)) == []
    assert audit_lines(caplog) == []


@pytest.mark.parametrize("owner", ["*Acme", "*a b", "**", "*" + "a" * 65])
def test_an_owner_that_is_no_client_id_is_a_field_error(acme, owner):
    with pytest.raises(FieldError) as info:
        on_store(acme, lambda store: create_token(store, owner, "ops", ANA))
    assert info.value.field == "client"
    with pytest.raises(FieldError):
        on_store(acme, lambda store: revoke_token(store, owner, "ops", ANA))
    assert on_store(acme, lambda store: store.list_tokens(None)) == []


def test_a_live_name_of_a_client_admin_token_is_taken(acme):
    on_store(acme, lambda store: create_token(store, "*acme", "ops", ANA))
    with pytest.raises(TokenNameTaken, match="already a live admin token 'ops' of client 'acme'"):
        on_store(acme, lambda store: create_token(store, "*acme", "ops", ANA))


def test_revoking_an_admin_token_of_a_client(acme, caplog):
    caplog.set_level(logging.INFO, logger="tagwire.audit")
    on_store(acme, lambda store: create_token(store, "*acme", "ops", ANA))
    on_store(acme, lambda store: create_token(store, ADMIN_CONTAINER, "ops", ANA))
    on_store(acme, lambda store: revoke_token(store, "*acme", "ops", ANA, clock))
    with pytest.raises(NotFound, match=r"^no live admin token 'ops' of client 'acme'; see"):
        on_store(acme, lambda store: revoke_token(store, "*acme", "ops", ANA, clock))
    states = {r["container"]: r["state"] for r in on_store(acme, lambda s: token_records(s, None))}
    assert states == {"*": "live", "*acme": "revoked"}
    assert audit_lines(caplog)[-2:] == [
        {"who": "ana", "via": "cli", "action": "token revoke", "container": "*acme",
         "name": "ops", "client": "acme", "revoked": True},
        {"who": "ana", "via": "cli", "action": "token revoke", "container": "*acme",
         "name": "ops", "client": "acme", "revoked": False},
    ]  # fmt: skip
    [entry] = on_store(acme, lambda store: store.audit_log("*acme", 1))
    assert (entry.action, entry.detail) == ("token.revoke", {"name": "ops", "client": "acme"})


def test_a_client_admin_token_can_be_revoked_after_its_client_is_gone(db):
    """Revoking never asks whether the client exists: a token must not outlive it."""

    async def stored(store):
        await store.create_token("*gone", "ops", hash_token("x"), 1)

    on_store(db, stored)
    on_store(db, lambda store: revoke_token(store, "*gone", "ops", ANA))
    [record] = on_store(db, lambda store: token_records(store, "*gone"))
    assert record["state"] == "revoked"

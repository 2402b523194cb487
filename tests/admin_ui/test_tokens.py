"""Token actions: shown once, stored hashed, for a container that exists, audited."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import orjson
import pytest

from admin_ui.audit import Actor
from admin_ui.errors import FieldError, NotFound, UnknownContainer
from admin_ui.tokens import check_token_name, create_token, describe, revoke_token, token_records
from config.storage import TokenNameTaken
from config.tokens import ADMIN_CONTAINER, hash_token, is_token_shaped
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
    assert record == {"container": "shop", "name": "crm", "admin": False, "state": "live",
                      "created_at": "2026-12-01T10:00:00.000Z", "last_used_at": None,
                      "revoked_at": None}  # fmt: skip
    assert token not in json.dumps(record)


def test_describe():
    assert describe(ADMIN_CONTAINER, "ops") == "admin token 'ops'"
    assert describe("shop", "crm") == "token 'crm' of container 'shop'"

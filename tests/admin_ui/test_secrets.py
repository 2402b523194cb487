"""Secret actions: sealed before the store sees them, never given back, audited."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from admin_ui.errors import FieldError, NotConfigured, NotFound
from admin_ui.secrets import (
    VALUE_LIMIT,
    check_secret_name,
    check_secret_value,
    delete_secret,
    secret_box,
    secret_records,
    set_secret,
)
from config.secret_box import SecretBox, generate_key
from tests.helpers import make_document, on_store

VALUE = "EAAB-plaintext-meta-token-7f3c9a1d"


@pytest.fixture
def box() -> SecretBox:
    return secret_box(generate_key())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store holding the workspace of container shop."""
    path = tmp_path / "tagwire.db"

    async def work(store):
        await store.save_workspace("shop", orjson.dumps(make_document()), "ana", 1, {})

    on_store(path, work)
    return path


def test_set_seals_the_value_and_says_whether_the_container_is_known(db, box):
    done = on_store(db, lambda store: set_secret(store, box, "shop", "meta-token", VALUE, "ana"))
    assert (done.key_id, done.container_known) == (box.key_id, True)
    [stored] = on_store(db, lambda store: store.list_secrets("shop"))
    assert box.open("shop", "meta-token", stored.nonce, stored.ciphertext) == VALUE
    assert stored.updated_by == "ana"
    later = on_store(db, lambda store: set_secret(store, box, "blog", "t", VALUE, "bo", lambda: 7))
    assert later.container_known is False
    assert [(r["container"], r["updated_at_ms"]) for r in on_store(db, lambda s: secret_records(
        s, "blog"))] == [("blog", 7)]  # fmt: skip


def test_records_and_audit_never_hold_the_value(db, box):
    on_store(db, lambda store: set_secret(store, box, "shop", "meta-token", VALUE, "ana"))
    records = on_store(db, lambda store: secret_records(store, None))
    assert set(records[0]) == {"container", "name", "updated_at_ms", "updated_by", "key_id"}
    entries = on_store(db, lambda store: store.audit_log("shop", 10))
    assert VALUE not in json.dumps(records) + json.dumps([e.detail for e in entries])
    assert entries[0].action == "secret.set"


def test_delete_removes_it_or_says_there_is_none(db, box):
    on_store(db, lambda store: set_secret(store, box, "shop", "meta-token", VALUE, "ana"))
    on_store(db, lambda store: delete_secret(store, "shop", "meta-token", "bo"))
    assert on_store(db, lambda store: secret_records(store, None)) == []
    with pytest.raises(NotFound, match=r"^container 'shop' has no secret 'meta-token'$"):
        on_store(db, lambda store: delete_secret(store, "shop", "meta-token", "bo"))


def test_no_key_is_not_configured():
    for key in (None, ""):
        with pytest.raises(NotConfigured, match="TAGWIRE_SECRETS_KEY is not set"):
            secret_box(key)


@pytest.mark.parametrize("name", ["_token", "Meta", "a" * 65, "ga4.secret", ""])
def test_bad_names(name):
    with pytest.raises(FieldError, match="is not a secret name") as info:
        check_secret_name(name)
    assert info.value.field == "name"


def test_values_are_1_to_the_limit_characters():
    assert check_secret_value("x" * VALUE_LIMIT) == "x" * VALUE_LIMIT
    with pytest.raises(FieldError, match=r"^value: the secret value is empty$"):
        check_secret_value("")
    with pytest.raises(FieldError, match=f"16385 characters; at most {VALUE_LIMIT}"):
        check_secret_value("x" * (VALUE_LIMIT + 1))


def test_set_refuses_bad_input_before_sealing(db, box):
    with pytest.raises(FieldError):
        on_store(db, lambda store: set_secret(store, box, "Shop", "t", VALUE, "ana"))
    with pytest.raises(FieldError):
        on_store(db, lambda store: set_secret(store, box, "shop", "t", "", "ana"))
    assert on_store(db, lambda store: secret_records(store, None)) == []

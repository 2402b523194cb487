"""Which containers an action may name: the id rule, the store, and served files."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from admin_ui.containers import check_container_id, require_container, served_ids
from admin_ui.errors import FieldError, UnknownContainer
from config.errors import DocumentError
from tests.helpers import make_document, on_store


def document_file(folder: Path, container_id: str) -> Path:
    doc = make_document()
    doc["container"]["id"] = container_id
    path = folder / f"{container_id}.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store holding the workspace of container shop."""
    path = tmp_path / "tagwire.db"

    async def work(store):
        await store.save_workspace("shop", orjson.dumps(make_document()), "ana", 1, {})

    on_store(path, work)
    return path


@pytest.mark.parametrize("text", ["shop", "a", "0-x_y", "a" * 64])
def test_good_container_ids(text):
    assert check_container_id(text) == text


@pytest.mark.parametrize("text", ["", "Shop", "_shop", "a" * 65, "*", "shop!", "sh op"])
def test_bad_container_ids_name_the_field(text):
    with pytest.raises(FieldError, match="is not a container id") as info:
        check_container_id(text)
    assert info.value.field == "container"


def test_a_container_in_the_store_is_known(db):
    on_store(db, lambda store: require_container(store, "shop"))


def test_an_unknown_container_says_what_the_store_holds(db):
    with pytest.raises(UnknownContainer) as info:
        on_store(db, lambda store: require_container(store, "shpo", hint="; a hint"))
    assert str(info.value) == (
        "container 'shpo' is not in the store (it holds shop); import its document with "
        "`tagwire import FILE`; a hint"
    )


def test_a_served_file_makes_its_container_known(db, tmp_path):
    blog = document_file(tmp_path, "blog")
    assert served_ids([blog]) == {"blog"}
    on_store(db, lambda store: require_container(store, "blog", [blog]))
    with pytest.raises(UnknownContainer):
        on_store(db, lambda store: require_container(store, "news", [blog]))


def test_files_are_read_only_when_the_store_does_not_know_the_container(db, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    on_store(db, lambda store: require_container(store, "shop", [broken]))
    with pytest.raises(DocumentError):
        on_store(db, lambda store: require_container(store, "blog", [broken]))


def test_a_malformed_id_is_refused_before_the_store_is_asked(db):
    with pytest.raises(FieldError):
        on_store(db, lambda store: require_container(store, "Shop"))

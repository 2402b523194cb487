"""The variable editor: its preview is the data plane's compiled variable on the sample
hit, and a save goes through the workspace's validation."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from admin_ui.versions import Versions
from admin_ui.web.variable_editor import preview_value
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    csrf_of,
    run,
    sign_in,
    with_store,
)

NEW = "/admin/containers/shop/variables/new"
LOOKUP = {"input": "page.path", "map": {"/thanks": "confirmation"}, "default": "other"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    add_user(path, "owner@agency.example", admin=True)
    run(with_store(path, lambda s: Versions(s).import_document(DOCUMENT, "test", "test")))
    return path


def form(csrf: str, action: str, **changes: str) -> dict:
    base = {
        "csrf": csrf,
        "original": "",
        "id": "page_kind",
        "name": "Page kind",
        "type": "lookup",
        "params": orjson.dumps(LOOKUP).decode(),
        "action": action,
        "sample": orjson.dumps(
            {"v": 1, "event": "lead", "page": {"url": "https://www.example.com/thanks?x=1"}}
        ).decode(),
    }
    return {**base, **changes}


def test_the_preview_shows_the_value_on_the_sample(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        answer = client.post(
            "/admin/containers/shop/variables", data=form(csrf_of(client, NEW), "preview")
        )
    assert answer.status_code == 200
    assert 'On this hit: <code>"confirmation"</code>' in answer.text


def test_preview_value_is_the_data_planes_value():
    hit = {"v": 1, "event": "lead", "page": {"url": "https://www.example.com/other"}}
    variable = {"id": "k", "name": "K", "type": "lookup", "params": LOOKUP}
    assert preview_value(variable, [], hit) == "other"
    field = {"id": "v", "name": "V", "type": "event_field", "params": {"path": "data.value"}}
    assert preview_value(field, [], {"v": 1, "event": "lead", "data": {"value": 7}}) == 7


def test_bad_parameters_are_named_and_nothing_is_saved(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        token = csrf_of(client, NEW)
        preview = client.post(
            "/admin/containers/shop/variables", data=form(token, "preview", params='{"map": {}}')
        )
        saved = client.post(
            "/admin/containers/shop/variables", data=form(token, "save", params='{"map": {}}')
        )
    assert preview.status_code == saved.status_code == 400
    assert "params.input: required" in preview.text
    assert "Nothing was saved" in saved.text
    doc = orjson.loads(run(with_store(db, lambda s: s.get_workspace("shop"))).document)
    assert doc["variables"] == []


def test_a_variable_is_saved_and_listed(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        saved = client.post(
            "/admin/containers/shop/variables", data=form(csrf_of(client, NEW), "save")
        )
        assert saved.status_code == 303
        page = client.get("/admin/containers/shop").text
    assert "var.page_kind" in page
    doc = orjson.loads(run(with_store(db, lambda s: s.get_workspace("shop"))).document)
    assert doc["variables"] == [
        {"id": "page_kind", "name": "Page kind", "type": "lookup", "params": LOOKUP}
    ]

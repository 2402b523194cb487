"""The tag editor: a form generated from the template's parameters, saved into the
workspace with the document's own validation, errors next to their fields."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from admin_ui.versions import Versions
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    csrf_of,
    run,
    sign_in,
    with_store,
)

NEW = "/admin/containers/shop/tags/new?template=meta"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    add_user(path, "ed@agency.example")
    viewer = add_user(path, "val@agency.example")

    async def setup(store):
        await Versions(store).import_document(DOCUMENT, "test", "test")
        await store.create_client("acme", "Acme", "test", 0)
        await store.assign_container("shop", "acme", "test", 0)
        editor = await store.find_user("ed@agency.example")
        await store.set_membership(editor.id, "acme", "editor", "test", 0)
        await store.set_membership(viewer, "acme", "viewer", "test", 0)

    run(with_store(path, setup))
    return path


def workspace(db: Path) -> dict:
    found = run(with_store(db, lambda s: s.get_workspace("shop")))
    return orjson.loads(found.document)


def meta_form(csrf: str, **changes: object) -> dict:
    form = {
        "csrf": csrf,
        "original": "",
        "template": "meta",
        "id": "meta",
        "name": "Meta CAPI",
        "enabled": "on",
        "param.pixel_id": "1234567890123456",
        "param.access_token": "meta_access_token",
        "param.send_server": "on",
        "param.send_browser": "on",
        "firing": "leads",
        "gcm": "analytics_storage",
        "fire_once": "lead_id",
    }
    form.update(changes)
    return form


def test_a_new_tag_from_the_form_lands_in_the_workspace(db):
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        page = client.get(NEW).text
        assert 'name="param.pixel_id"' in page
        assert 'name="param.send_server" checked' in page  # defaults on: shown on
        assert 'name="param.limited_data_use" >' in page
        assert "the template's floor: always required" in page  # meta needs ad consent
        saved = client.post("/admin/containers/shop/tags", data=meta_form(csrf_of(client, NEW)))
        assert saved.status_code == 303, saved.text
        assert "Meta CAPI" in client.get("/admin/containers/shop").text
    [tag] = [t for t in workspace(db)["tags"] if t["id"] == "meta"]
    assert tag["params"] == {"pixel_id": "1234567890123456", "access_token": "meta_access_token"}
    assert tag["firing_triggers"] == ["leads"]
    assert tag["consent"] == {"gcm": ["analytics_storage"]}
    assert tag["fire_once"] == "lead_id"
    assert tag["enabled"] is True


def test_a_bad_parameter_is_named_next_to_its_field_and_nothing_is_saved(db):
    before = workspace(db)
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        answer = client.post(
            "/admin/containers/shop/tags",
            data=meta_form(csrf_of(client, NEW), **{"param.pixel_id": "abc"}),
        )
    assert answer.status_code == 400
    assert "Nothing was saved" in answer.text
    field = answer.text.split('name="param.pixel_id"', 1)[1].split("</div>", 1)[0]
    assert 'class="field-error"' in field
    assert workspace(db) == before


def test_an_unknown_trigger_is_named_under_the_triggers(db):
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        answer = client.post(
            "/admin/containers/shop/tags", data=meta_form(csrf_of(client, NEW), firing="nope")
        )
    assert answer.status_code == 400
    triggers = answer.text.split("Firing triggers", 1)[1].split("Blocking triggers", 1)[0]
    assert "nope" in triggers
    assert 'class="field-error"' in triggers


def test_editing_and_removing_a_tag(db):
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        edit = "/admin/containers/shop/tags/hook"
        page = client.get(edit).text
        assert 'value="https://hooks.example.com/in"' in page
        form = {
            "csrf": csrf_of(client, edit),
            "original": "hook",
            "template": "webhook",
            "id": "hook",
            "name": "CRM webhook",
            "enabled": "on",
            "param.url": "https://crm.example.com/in",
            "firing": "leads",
            "fire_once": "none",
        }
        assert client.post("/admin/containers/shop/tags", data=form).status_code == 303
        [hook] = workspace(db)["tags"]
        assert hook["name"] == "CRM webhook"
        assert hook["params"]["url"] == "https://crm.example.com/in"
        removed = client.post(
            "/admin/containers/shop/tags/hook/delete",
            data={"csrf": csrf_of(client, "/admin/containers/shop")},
        )
        assert removed.status_code == 303
    assert workspace(db)["tags"] == []


def test_a_viewer_reads_the_form_but_cannot_save(db):
    before = workspace(db)
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        assert client.get("/admin/containers/shop/tags/hook").status_code == 200
        answer = client.post("/admin/containers/shop/tags", data=meta_form(csrf_of(client, NEW)))
    assert answer.status_code == 403
    assert workspace(db) == before


def test_a_checkbox_turned_off_overrides_its_default(db):
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        form = meta_form(csrf_of(client, NEW))
        del form["param.send_browser"]
        assert client.post("/admin/containers/shop/tags", data=form).status_code == 303
    [tag] = [t for t in workspace(db)["tags"] if t["id"] == "meta"]
    assert tag["params"]["send_browser"] is False
    assert "send_server" not in tag["params"]  # on, as its default: left to the default


def test_a_field_may_reference_a_value_of_the_hit(db):
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        form = meta_form(csrf_of(client, NEW), **{"param.test_event_code": "{{custom.test_code}}"})
        assert client.post("/admin/containers/shop/tags", data=form).status_code == 303
        bad = meta_form(csrf_of(client, NEW), id="meta2", **{"param.pixel_id": "{{var.nope}}"})
        refused = client.post("/admin/containers/shop/tags", data=bad)
    [tag] = [t for t in workspace(db)["tags"] if t["id"] == "meta"]
    assert tag["params"]["test_event_code"] == "{{custom.test_code}}"
    assert refused.status_code == 400
    field = refused.text.split('name="param.pixel_id"', 1)[1].split("</div>", 1)[0]
    assert "unknown variable" in field


def test_text_fields_offer_the_containers_variables(db):
    async def add_variable(store):
        doc = orjson.loads((await store.get_workspace("shop")).document)
        doc["variables"] = [
            {"id": "kind", "name": "Kind", "type": "constant", "params": {"value": "x"}}
        ]
        await Versions(store).import_document(doc, "test", "test")

    run(with_store(db, add_variable))
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        page = client.get(NEW).text
    assert 'name="param.pixel_id" value="" list="hit-values"' in page
    assert '<option value="{{var.kind}}">' in page

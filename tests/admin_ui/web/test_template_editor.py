"""The template editor: a container's own template edited as metadata and Lua, its tests
run in the page (same lines as `tagwire template test`), saved through the workspace."""

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

NEW = "/admin/containers/shop/templates/new"
META = {
    "id": "crm_feed",
    "version": "1.0.0",
    "description": "Leads to the CRM",
    "params": {"url": {"type": "string", "format": "url", "required": True}},
    "permissions": {
        "read_event_data": ["event", "data.*"],
        "send_http": [{"url": "param:url", "methods": ["POST"]}],
    },
    "tests": [
        {
            "name": "posts the lead id",
            "hit": {
                "v": 1,
                "event": "lead",
                "event_id": "evt-00000001",
                "data": {"lead_id": "L-7"},
            },
            "params": {"url": "https://crm.example.com/in"},
            "expect": {
                "requests": [
                    {
                        "method": "POST",
                        "url": "https://crm.example.com/in",
                        "headers": {},
                        "json": {"lead": "L-7"},
                    }
                ]
            },
        }
    ],
}
LUA = 'send_http({ url = params.url, body = { lead = event.get("data.lead_id") } })\n'


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    add_user(path, "owner@agency.example", admin=True)
    run(with_store(path, lambda s: Versions(s).import_document(DOCUMENT, "test", "test")))
    return path


def post(client, action: str, meta: dict = META, lua: str = LUA):
    data = {
        "csrf": csrf_of(client, NEW),
        "original": "",
        "action": action,
        "meta": orjson.dumps(meta).decode(),
        "lua": lua,
    }
    return client.post("/admin/containers/shop/templates", data=data)


def templates(db: Path) -> list:
    doc = orjson.loads(run(with_store(db, lambda s: s.get_workspace("shop"))).document)
    return doc.get("templates", [])


def test_tests_run_in_the_page_and_show_the_manifest(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        passed = post(client, "test")
        failed = post(client, "test", lua=LUA.replace("lead =", "leed ="))
    assert "PASS crm_feed: posts the lead id" in passed.text
    assert "all tests passed" in passed.text
    assert "the url parameter" in passed.text  # where it may send
    assert "<code>data.*</code>" in passed.text  # what it may read
    assert "FAIL crm_feed: posts the lead id" in failed.text
    assert "1 failed" in failed.text
    assert "leed" in failed.text  # the diff
    assert templates(db) == []  # running tests saves nothing


def test_a_template_is_saved_into_the_workspace(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        assert post(client, "save").status_code == 303
        page = client.get("/admin/containers/shop/templates/crm_feed").text
    [saved] = templates(db)
    assert saved["id"] == "crm_feed"
    assert saved["lua"] == LUA
    assert "posts the lead id" in page


def test_a_broken_template_is_refused_with_its_problems(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        bad_lua = post(client, "save", lua="send_http({ url = ")
        bad_meta = post(client, "save", meta={**META, "params": {"url": {"type": "colour"}}})
    assert bad_lua.status_code == 400
    assert "Nothing was saved" in bad_lua.text
    assert bad_meta.status_code == 400
    assert "params.url" in bad_meta.text
    assert templates(db) == []


def test_an_invalid_test_hit_is_reported_as_the_cli_reports_it(db):
    meta = {**META, "tests": [{**META["tests"][0], "hit": {"v": 1, "event": "lead"}}]}
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        answer = post(client, "test", meta=meta)
    assert "FAIL crm_feed: posts the lead id" in answer.text
    assert "invalid test hit: event_id" in answer.text


UPLOAD = "/admin/containers/shop/templates/upload"


def upload(client, files: dict, csrf: str | None = None):
    token = csrf_of(client, NEW) if csrf is None else csrf
    return client.post(UPLOAD, data={"csrf": token}, files=files)


def package_files(meta: dict = META, lua: str = LUA) -> dict:
    """The files of a package as `tagwire template test` reads them: `name`, not `id`."""
    named = {"name": meta["id"], **{k: v for k, v in meta.items() if k != "id"}}
    return {
        "package_json": ("template.json", orjson.dumps(named), "application/json"),
        "package_lua": ("template.lua", lua.encode(), "text/plain"),
    }


def test_an_uploaded_package_is_checked_and_shown_before_anything_is_saved(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        answer = upload(client, package_files())
    assert answer.status_code == 200, answer.text
    assert "PASS crm_feed: posts the lead id" in answer.text
    assert "<code>data.*</code>" in answer.text  # the manifest, before accepting it
    assert "&#34;id&#34;: &#34;crm_feed&#34;" in answer.text  # loaded into the editor
    assert templates(db) == []


def test_an_uploaded_package_with_a_failing_test_shows_the_diff(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        answer = upload(client, package_files(lua=LUA.replace("lead =", "leed =")))
    assert "FAIL crm_feed: posts the lead id" in answer.text
    assert "leed" in answer.text


@pytest.mark.parametrize(
    ("files", "named"),
    [
        ({"package_lua": ("template.lua", LUA.encode(), "text/plain")}, "package_json"),
        ({**package_files(), "package_json": ("t.json", b"{nope", "application/json")},
         "package_json: is not JSON"),
        ({**package_files(), "package_lua": ("t.lua", b"\xff\xfe", "text/plain")},
         "package_lua: is not UTF-8"),
        ({**package_files(), "package_json": ("t.json", b"[1]", "application/json")},
         "package_json: must be a JSON object"),
    ],
)
def test_a_bad_upload_is_refused_naming_the_file(db, files, named):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        answer = upload(client, files)
    assert answer.status_code == 400
    assert named in answer.text
    assert templates(db) == []


def test_an_upload_needs_the_csrf_token_and_too_many_files_are_refused(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        forged = upload(client, package_files(), csrf="forged")
        many = {f"f{i}": (f"{i}.txt", b"x", "text/plain") for i in range(6)}
        flood = upload(client, {**package_files(), **many})
    assert forged.status_code == 403
    assert flood.status_code == 400
    assert templates(db) == []

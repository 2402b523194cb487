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

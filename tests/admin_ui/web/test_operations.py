"""The firing history and dead-letter pages over an outbox in every state
(tests/container/ops_fixtures.py), with the access rules of the container's client."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from admin_ui.versions import Versions
from admin_ui.web.operations import _cell, shown_body, shown_headers
from config.storage import OutboxFilter
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    csrf_of,
    run,
    sign_in,
    with_store,
)
from tests.container.ops_fixtures import filled_database


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = filled_database(tmp_path / "tagwire.db")
    add_user(path, "admin@agency.example", admin=True)
    viewer = add_user(path, "val@agency.example")
    publisher = add_user(path, "pia@agency.example")
    blog = {**DOCUMENT, "container": {**DOCUMENT["container"], "id": "blog"}}

    async def setup(store):
        for doc in (DOCUMENT, blog):
            await Versions(store).import_document(doc, "test", "test")
        await store.create_client("acme", "Acme", "test", 0)
        await store.create_client("other", "Other", "test", 0)
        await store.assign_container("shop", "acme", "test", 0)
        await store.assign_container("blog", "other", "test", 0)
        await store.set_membership(viewer, "acme", "viewer", "test", 0)
        await store.set_membership(publisher, "acme", "publisher", "test", 0)

    run(with_store(path, setup))
    return path


def states(db: Path) -> dict[str, str]:
    async def read(store):
        entries = await store.history(OutboxFilter(), 100, 0)
        return {e.event_id: e.state for e in entries}

    return run(with_store(db, read))


def test_history_shows_one_container_and_filters_it(db):
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        page = client.get("/admin/history").text
        dead_hooks = client.get("/admin/history?container=shop&tag=hook&state=dead").text
    assert "shop" in page
    assert "bad pixel id" not in page  # blog's row, another client's container
    assert "invalid parameter" in page
    assert dead_hooks.count("<tr><td>") == 2  # row C's two attempts
    assert "invalid parameter" not in dead_hooks


def test_history_exports_csv_with_the_cli_columns(db):
    with browser(db) as client:
        sign_in(client, "admin@agency.example")
        answer = client.get("/admin/history?container=shop&format=csv")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["container"] for r in rows} == {"shop"}
    assert {r["event_id"] for r in rows} == {
        "evt-A-0001",
        "evt-B-0001",
        "evt-C-0001",
        "evt-D-0001",
        "evt-E-0001",
    }


def test_a_formula_never_reaches_a_spreadsheet():
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("plain") == "plain"
    assert _cell(200) == 200


def test_another_clients_container_is_not_found_and_bad_filters_name_the_field(db):
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        assert client.get("/admin/history?container=blog").status_code == 404
        assert client.get("/admin/dead-letters?container=blog").status_code == 404
        bad = client.get("/admin/history?container=shop&status=99")
        assert bad.status_code == 400
        assert "status: must be an HTTP status" in bad.text
        assert client.get("/admin/history?container=shop&page=0").status_code == 400


def test_dead_letters_group_by_reason_and_a_publisher_replays_them_once(db):
    with browser(db) as client:
        sign_in(client, "pia@agency.example")
        page = client.get("/admin/dead-letters?container=shop").text
        assert "invalid parameter" in page
        assert "Replay every dead row" in page
        replayed = client.post(
            "/admin/dead-letters/replay",
            data={"csrf": csrf_of(client), "container": "shop", "tag": "hook"},
        )
        assert replayed.status_code == 303
        assert "1 row(s) queued again" in client.get(replayed.headers["location"]).text
    after = states(db)
    assert after["evt-C-0001"] == "pending"
    assert after["evt-B-0001"] == "dead"  # another tag: not replayed
    assert after["evt-F-0001"] == "dead"  # another container
    entries = run(with_store(db, lambda s: s.audit_log("shop", 10)))
    assert entries[0].action == "outbox.replay"
    assert entries[0].actor == "pia@agency.example"


def test_a_viewer_cannot_replay_or_release(db):
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        page = client.get("/admin/dead-letters?container=shop").text
        assert "Replay every dead row" not in page
        for action in ("replay", "release"):
            answer = client.post(
                f"/admin/dead-letters/{action}", data={"csrf": csrf_of(client), "container": "shop"}
            )
            assert answer.status_code == 403
    assert states(db)["evt-D-0001"] == "held"


def test_release_sends_held_rows(db):
    with browser(db) as client:
        sign_in(client, "admin@agency.example")
        answer = client.post(
            "/admin/dead-letters/release", data={"csrf": csrf_of(client), "container": "shop"}
        )
        assert answer.status_code == 303
    assert states(db)["evt-D-0001"] == "pending"


def row_id(db: Path, event_id: str) -> int:
    async def find(store):
        return next(
            e.outbox_id
            for e in await store.history(OutboxFilter(), 100, 0)
            if e.event_id == event_id
        )

    return run(with_store(db, find))


def test_one_row_shows_its_payload_and_every_answer(db):
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        page = client.get(f"/admin/outbox/{row_id(db, 'evt-C-0001')}")
        foreign = client.get(f"/admin/outbox/{row_id(db, 'evt-F-0001')}")
        missing = client.get("/admin/outbox/99999999")
        junk = client.get("/admin/outbox/abc")
    assert page.status_code == 200
    assert page.text.count('<span class="pill">') == 2  # failed 503, then dead 500
    assert "dead" in page.text
    assert "failed" in page.text
    assert foreign.status_code == missing.status_code == junk.status_code == 404


def test_credentials_in_a_row_are_masked():
    shown = shown_headers(
        b'{"Authorization": "Bearer abc", "x-api-key": "k", "content-type": "a/b"}'
    )
    assert shown == {"Authorization": "***", "x-api-key": "***", "content-type": "a/b"}
    body = shown_body(b'{"access_token": "EAAB", "data": [{"event_name": "Lead"}]}')
    assert "EAAB" not in body
    assert '"access_token": "***"' in body
    assert shown_body(b"a=1&b=2") == "a=1&b=2"


def test_a_client_narrows_the_history_to_its_containers(db):
    with browser(db) as client:
        sign_in(client, "admin@agency.example")
        other = client.get("/admin/history?client=other").text
        mismatch = client.get("/admin/history?client=acme&container=blog")
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        acme = client.get("/admin/history?client=acme").text
        hidden = client.get("/admin/history?client=other")
    assert "bad pixel id" in other  # blog's row
    assert "invalid parameter" not in other
    assert "invalid parameter" in acme
    assert mismatch.status_code == 400
    assert "&#39;blog&#39; is not a container of &#39;acme&#39;" in mismatch.text
    assert hidden.status_code == 404

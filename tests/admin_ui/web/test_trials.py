"""The test fire page: editors only, bad input named on the form with nothing queued,
a real run over the store's outbox audited, and a clear answer where no data plane runs."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import admin_ui.web.trials as trial_page
from admin_ui.versions import Versions
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_preview_hit,
    add_user,
    browser,
    csrf_of,
    run,
    sign_in,
    with_store,
)

PAGE = "/admin/containers/shop/tags/hook/test"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    editor = add_user(path, "ed@agency.example")
    viewer = add_user(path, "val@agency.example")

    async def setup(store):
        await Versions(store).import_document(DOCUMENT, "test", "test")
        await store.create_client("acme", "Acme", "test", 0)
        await store.assign_container("shop", "acme", "test", 0)
        await store.set_membership(editor, "acme", "editor", "test", 0)
        await store.set_membership(viewer, "acme", "viewer", "test", 0)

    run(with_store(path, setup))
    return path


def queued(db: Path) -> list:
    return run(with_store(db, lambda s: s.claim(100, 2**62)))


def form(client, **changes: str) -> dict[str, str]:
    sample = orjson.dumps(trial_page.sample_hit("lead")).decode()
    return {"csrf": csrf_of(client, PAGE), "event": "", "test_code": "TEST77",
            "sample": sample, **changes}  # fmt: skip


def test_the_form_offers_a_consenting_sample_for_the_tags_event(db):
    with browser(db, test_fire=True) as client:
        sign_in(client, "ed@agency.example")
        page = client.get(PAGE)
    assert page.status_code == 200
    assert "&#34;event&#34;: &#34;lead&#34;" in page.text or '"event": "lead"' in page.text
    assert "Send to the test view" in page.text


def test_a_viewer_may_not_test_fire(db):
    with browser(db, test_fire=True) as client:
        sign_in(client, "val@agency.example")
        assert client.get(PAGE).status_code == 403
        token = csrf_of(client)
        answer = client.post(PAGE, data={"csrf": token, "test_code": "T", "sample": "{}"})
    assert answer.status_code == 403
    assert queued(db) == []


def test_a_test_fire_queues_the_request_with_its_code_and_is_audited(db, monkeypatch):
    monkeypatch.setattr(trial_page, "SETTLE_S", 0.3)  # no sender here: nothing answers
    with browser(db, test_fire=True) as client:
        sign_in(client, "ed@agency.example")
        answer = client.post(PAGE, data=form(client))
    assert answer.status_code == 200, answer.text
    assert "1 request(s) queued" in answer.text
    assert "1 request(s) not answered within 0 s" in answer.text
    [row] = queued(db)
    assert orjson.loads(row.body)["test_event_code"] == "TEST77"
    entries = run(with_store(db, lambda s: s.audit_log("shop", 10)))
    [entry] = [e for e in entries if e.action == "test.fire"]
    assert entry.actor == "ed@agency.example"
    assert entry.detail["requests"] == 1


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"sample": "{not json"}, "sample: is not JSON"),
        ({"sample": "[1]"}, "sample: must be a JSON object"),
        ({"test_code": ""}, "test_code: give the platform"),
        ({"event": "Bad Event"}, "sample.event:"),
        ({"sample": '{"event": "lead", "user": {"em": "a@b.example"}}'}, "sample.user.em:"),
    ],
)
def test_bad_input_is_named_on_the_form_and_nothing_is_queued(db, changes, named):
    with browser(db, test_fire=True) as client:
        sign_in(client, "ed@agency.example")
        answer = client.post(PAGE, data=form(client, **changes))
    assert answer.status_code == 400
    assert named in answer.text.replace("&#39;", "'")
    assert queued(db) == []


def test_without_a_data_plane_the_page_says_where_test_fire_runs(db):
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        page = client.get(PAGE)
        answer = client.post(PAGE, data=form(client))
    assert "tagwire serve" in page.text
    assert answer.status_code == 409
    assert "tagwire serve" in answer.text


def test_a_recent_preview_hit_can_be_the_sample(db):
    hit = {"v": 1, "event": "lead", "event_id": "preview-hit-0001", "custom": {"plan": "gold"}}
    key = add_preview_hit(db, "shop", hit)
    other = add_preview_hit(db, "elsewhere", {**hit, "custom": {"plan": "other"}})
    with browser(db, test_fire=True) as client:
        sign_in(client, "ed@agency.example")
        offered = client.get(PAGE)
        picked = client.get(PAGE, params={"sample": key})
        foreign = client.get(PAGE, params={"sample": other})
    assert "Use a recent hit from a preview (1)" in offered.text
    assert "gold" in picked.text
    assert "preview-hit-0001" not in picked.text  # a test fire makes its own event id
    assert "other" not in foreign.text  # another container's hit is never offered
    assert "TEST-LEAD-1" in foreign.text  # the default sample instead

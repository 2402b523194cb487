"""Preview sessions in the admin UI over HTTP against a real SQLite store: starting one in
each mode (bad input named, nothing stored), the roles, revoking and refreshing, the
link with its QR code, the live stream of traces and one trace in full with the
platform's answer from the history."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import admin_ui.web.previews as preview_pages
from admin_ui.versions import Versions
from config.preview_tokens import PREVIEW_KEY, PreviewTokens
from config.storage import Delivery, OutboxRow, PreviewSession
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    csrf_of,
    run,
    sign_in,
    with_store,
)

LIST = "/admin/containers/shop/previews"
SITE = "https://www.example.com"
CHANGED = {**DOCUMENT, "triggers": [{"id": "leads", "name": "All leads", "events": ["lead"]}]}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    editor = add_user(path, "ed@agency.example")
    viewer = add_user(path, "val@agency.example")
    outsider = add_user(path, "out@other.example")
    document = {**DOCUMENT, "container": {**DOCUMENT["container"], "allowed_origins": [SITE]}}

    async def setup(store):
        versions = Versions(store, signer=Ed25519PrivateKey.generate())
        await versions.import_document(document, "test", "test")
        await versions.create_version("shop", "test", "first")
        await store.create_client("acme", "Acme", "test", 0)
        await store.create_client("other", "Other", "test", 0)
        await store.assign_container("shop", "acme", "test", 0)
        await store.set_membership(editor, "acme", "editor", "test", 0)
        await store.set_membership(viewer, "acme", "viewer", "test", 0)
        await store.set_membership(outsider, "other", "owner", "test", 0)

    run(with_store(path, setup))
    return path


def sessions(db: Path) -> list[PreviewSession]:
    return run(with_store(db, lambda s: s.list_previews("shop", None)))


def session_of(db: Path, session_id: str) -> PreviewSession:
    found = run(with_store(db, lambda s: s.get_preview(session_id)))
    assert found is not None
    return found


def actions(db: Path) -> list[str]:
    return [e.action for e in run(with_store(db, lambda s: s.audit_log("shop", 100)))]


def start(client, **fields: str) -> Any:
    data = {"csrf": csrf_of(client, LIST), "source": "workspace", "mode": "dry_run",
            "test_code": "", "hours": "8", **fields}  # fmt: skip
    return client.post(LIST, data=data)


def started(db: Path, **fields: str) -> str:
    """A session started by the editor; its id."""
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        answer = start(client, **fields)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].split("/")[3].split("?")[0]


def post(client, path: str) -> Any:
    return client.post(path, data={"csrf": csrf_of(client)})


def trace_body(**changes: Any) -> dict[str, Any]:
    """A trace in the data plane's format (container/preview/trace.py): a lead whose
    webhook fired and one trigger that did not fire on a condition."""
    body = {
        "v": 1, "trace_id": "tr-1", "session": "s", "revision": 1, "mode": "test",
        "source": "workspace", "container": "shop", "at_ms": 0,
        "event": "lead", "event_id": "ev-1",
        "request": {"origin": SITE, "user_agent": "Mozilla/5.0", "client_ip": "203.0.113.0/24",
                    "headers": {"origin": SITE}, "cookies": ["tw_preview"]},
        "hit": {"event": "lead", "data": {"value": 5}},
        "guards": [{"guard": "bot filter", "verdict": "passed"}],
        "variables": [{"id": "page_kind", "value": "lead_form"}],
        "triggers": [
            {"id": "leads", "name": "Leads", "fired": True, "reason": "fired", "path": None,
             "var": None, "op": None, "expected": None, "actual": None},
            {"id": "big_leads", "name": "Big leads", "fired": False,
             "reason": "a condition does not hold", "path": "conditions.all[1]",
             "var": "data.value", "op": "gte", "expected": 100, "actual": 5},
        ],
        "tags": [{"id": "hook", "template": "webhook", "outcome": "fired",
                  "consent": "granted: ad_storage", "error": None, "logs": ["built the body"],
                  "pixels": [], "requests": [{"method": "POST",
                                              "url": "https://hooks.example.com/in",
                                              "headers": {"authorization": "***"},
                                              "body": {"event": "lead"}, "dedup_key": None}]}],
        "delivery": "test mode: sent with the platforms' test modes; no browser pixels",
        "summary": "1 fired",
    }  # fmt: skip
    return {**body, **changes}


def add_traces(db: Path, session_id: str, *bodies: dict[str, Any]) -> None:
    now = int(time.time() * 1000)
    rows = [(session_id, now, str(b.get("event", "")), "fired", orjson.dumps(b)) for b in bodies]
    run(with_store(db, lambda s: s.add_traces(rows, 100)))


def events(text: str) -> list[dict[str, str]]:
    """The server-sent events of a stream: each block's fields (data lines joined)."""
    found = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            if name == "data" and "data" in fields:
                value = fields["data"] + "\n" + value
            fields[name] = value
        if fields:
            found.append(fields)
    return found


# --- starting --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["dry_run", "test", "live"])
def test_an_editor_starts_a_preview_in_each_mode(db, mode):
    code = "TEST123" if mode == "test" else ""
    session_id = started(db, mode=mode, test_code=code)
    session = session_of(db, session_id)
    assert session.mode == mode
    assert session.test_code == (code or None)
    assert session.source == "workspace"
    assert session.created_by == "ed@agency.example"
    assert session.expires_at_ms - session.created_at_ms == 8 * 3_600_000
    assert orjson.loads(session.document)["container"]["allowed_origins"] == [SITE]
    assert len(session_id) >= 22
    assert "preview.start" in actions(db)


def test_a_preview_of_a_version_copies_that_version(db):
    async def change(store):
        await Versions(store).import_document(CHANGED, "test", "test")

    run(with_store(db, change))
    session = session_of(db, started(db, source="1", hours="72"))
    assert session.source == "v1"
    assert orjson.loads(session.document)["triggers"][0]["name"] == "Leads"
    assert session.expires_at_ms - session.created_at_ms == 72 * 3_600_000


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"hours": "0"}, "hours"),
        ({"hours": "73"}, "hours"),
        ({"hours": "eight"}, "hours"),
        ({"mode": "fast"}, "mode"),
        ({"mode": "test"}, "test_code"),
        ({"mode": "test", "test_code": "x" * 101}, "test_code"),
        ({"mode": "test", "test_code": "TEST\n1"}, "test_code"),
        ({"source": "v99"}, "source"),
        ({"source": "draft"}, "source"),
    ],
)
def test_bad_input_is_named_and_nothing_is_stored(db, fields, field):
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        answer = start(client, **fields)
    assert answer.status_code == 400
    assert f"{field}: " in answer.text
    assert sessions(db) == []
    assert "preview.start" not in actions(db)


# --- roles ---------------------------------------------------------------------------------


def test_a_viewer_may_watch_but_not_start_or_revoke(db):
    session_id = started(db)
    add_traces(db, session_id, trace_body())
    page = f"/admin/previews/{session_id}"
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        listing = client.get(LIST)
        assert listing.status_code == 200
        assert "Start preview" not in listing.text
        live = client.get(page)
        assert live.status_code == 200
        assert "Revoke" not in live.text
        assert client.get(f"{page}/traces/1").status_code == 200
        assert start(client).status_code == 403
        assert post(client, f"{page}/revoke").status_code == 403
        assert post(client, f"{page}/refresh").status_code == 403
    assert [s.id for s in sessions(db)] == [session_id]
    assert session_of(db, session_id).revoked_at_ms is None


def test_another_clients_session_is_not_found(db):
    session_id = started(db)
    add_traces(db, session_id, trace_body())
    page = f"/admin/previews/{session_id}"
    with browser(db) as client:
        sign_in(client, "out@other.example")
        for path in (LIST, page, f"{page}/stream", f"{page}/traces/1"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert "shop" not in answer.text or path == LIST
        assert post(client, f"{page}/revoke").status_code == 404
        assert start(client).status_code == 404
        assert client.get("/admin/previews/not-a-session-id-at-all").status_code == 404
    assert session_of(db, session_id).revoked_at_ms is None


# --- one session ---------------------------------------------------------------------------


def test_the_live_view_gives_a_signed_link_and_its_qr_code(db):
    session_id = started(db, mode="test", test_code="TEST9")
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        page = client.get(f"/admin/previews/{session_id}")
        asked = {"tracking": "https://t.example.com", "site": f"{SITE}/lead"}
        moved = client.get(f"/admin/previews/{session_id}", params=asked)
        bad = client.get(f"/admin/previews/{session_id}", params={"tracking": "ftp://x/y"})
    link = re.search(r'id="preview-link"[^>]*>([^<]+)<', page.text)
    assert link, page.text
    url = urlsplit(link.group(1).replace("&amp;", "&"))
    assert f"{url.scheme}://{url.netloc}{url.path}" == "http://testserver/preview/start"
    query = parse_qs(url.query)
    assert query["to"] == [SITE]
    key = run(with_store(db, lambda s: s.node_key(PREVIEW_KEY)))
    session = session_of(db, session_id)
    read = PreviewTokens(key).read(query["t"][0], int(time.time() * 1000))
    assert read == (session_id, session.expires_at_ms)
    assert 'src="data:image/svg+xml' in page.text
    assert 'alt="QR code of the preview link"' in page.text
    assert "https://t.example.com/preview/start?t=" in moved.text
    assert "to=https%3A%2F%2Fwww.example.com%2Flead" in moved.text
    assert "give an origin such as" in bad.text
    assert "http://testserver/preview/start?t=" in bad.text
    assert " style=" not in page.text
    assert re.search(r'<script src="/admin/static/preview.js" nonce="[^"]+"', page.text)


def test_revoke_ends_the_session_once(db):
    session_id = started(db)
    page = f"/admin/previews/{session_id}"
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        answer = post(client, f"{page}/revoke")
        assert answer.status_code == 303
        shown = client.get(answer.headers["location"])
        again = post(client, f"{page}/revoke")
        listing = client.get(LIST)
    assert session_of(db, session_id).revoked_at_ms is not None
    assert "Preview revoked" in shown.text
    assert "revoked" in listing.text
    assert again.status_code == 400
    assert actions(db).count("preview.revoke") == 1


def test_refresh_points_the_session_at_the_current_workspace(db):
    session_id = started(db, source="1")

    async def change(store):
        await Versions(store).import_document(CHANGED, "test", "test")

    run(with_store(db, change))
    with browser(db) as client:
        sign_in(client, "ed@agency.example")
        answer = post(client, f"/admin/previews/{session_id}/refresh")
        assert answer.status_code == 303
        post(client, f"/admin/previews/{session_id}/revoke")
        late = post(client, f"/admin/previews/{session_id}/refresh")
    session = session_of(db, session_id)
    assert session.source == "workspace"
    assert session.revision == 2
    assert orjson.loads(session.document)["triggers"][0]["name"] == "All leads"
    assert late.status_code == 400
    assert "has ended" in late.text
    assert "preview.refresh" in actions(db)


def test_the_container_page_links_to_its_previews(db):
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        page = client.get("/admin/containers/shop")
    assert 'href="/admin/containers/shop/previews"' in page.text


# --- the stream ----------------------------------------------------------------------------


def test_the_stream_sends_each_trace_with_its_id_then_ends_with_the_session(db):
    session_id = started(db)
    add_traces(db, session_id, trace_body(event="page_view"), trace_body(),
               trace_body(event="<script>alert(1)</script>"))  # fmt: skip
    with browser(db) as editor:
        sign_in(editor, "ed@agency.example")
        post(editor, f"/admin/previews/{session_id}/revoke")
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        answer = client.get(f"/admin/previews/{session_id}/stream")
        resumed = client.get(f"/admin/previews/{session_id}/stream",
                             headers={"Last-Event-ID": "2"})  # fmt: skip
    assert answer.headers["content-type"].startswith("text/event-stream")
    sent = events(answer.text)
    assert sent[0] == {"retry": "1000"}
    assert [e.get("id") for e in sent[1:4]] == ["1", "2", "3"]  # oldest first: the page prepends
    assert 'data-event="page_view"' in sent[1]["data"]
    assert "/traces/1" in sent[1]["data"]
    assert "<script>" not in sent[3]["data"]
    assert "&lt;script&gt;" in sent[3]["data"]
    assert sent[-1] == {"event": "ended", "data": "revoked"}
    assert [e.get("id") for e in events(resumed.text) if "id" in e] == ["3"]


def test_the_stream_of_a_live_session_keeps_alive_and_resumes_after_the_given_id(
    db, monkeypatch
):
    monkeypatch.setattr(preview_pages, "STREAM_S", 0.0)  # one poll, then the browser reconnects
    monkeypatch.setattr(preview_pages, "KEEPALIVE_S", 0.0)
    session_id = started(db)
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        quiet = client.get(f"/admin/previews/{session_id}/stream")
        add_traces(db, session_id, trace_body(), trace_body(event="purchase"))
        after = client.get(f"/admin/previews/{session_id}/stream?after=1")
    assert ": keepalive" in quiet.text
    assert "event: ended" not in quiet.text
    sent = [e for e in events(after.text) if "id" in e]
    assert [e["id"] for e in sent] == ["2"]
    assert 'data-event="purchase"' in sent[0]["data"]


def test_an_expired_session_ends_its_stream(db):
    expired = PreviewSession("expired-session-0001", "shop", "workspace", b"{}", 1, "dry_run",
                             None, "ed@agency.example", 0, 1000)  # fmt: skip
    run(with_store(db, lambda s: s.create_preview(expired)))
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        answer = client.get(f"/admin/previews/{expired.id}/stream")
        page = client.get(f"/admin/previews/{expired.id}")
    assert events(answer.text)[-1] == {"event": "ended", "data": "expired"}
    assert "This session has ended" in page.text
    assert "preview-qr" not in page.text
    assert "/preview/start" not in page.text


# --- one trace -----------------------------------------------------------------------------


def deliver(db: Path, event_id: str, status: int, response: str) -> None:
    """Queue the webhook's request of the hit as the node would, and record its answer."""
    now = int(time.time() * 1000)
    row = OutboxRow("shop", "hook", "https://hooks.example.com/in", "POST",
                    "https://hooks.example.com/in", b"{}", b'{"event": "lead"}', "lead",
                    event_id, None, "webhook", now, None, None, None, False)  # fmt: skip

    async def work(store):
        await store.enqueue([row], now)
        [item] = await store.claim(10, now + 1)
        await store.record([Delivery(item.id, "sent", status, response, 0, now + 2)])

    run(with_store(db, work))


def test_a_trace_shows_why_a_trigger_did_not_fire_and_the_platform_answer(db):
    session_id = started(db, mode="test", test_code="TEST1")
    add_traces(db, session_id, trace_body())
    deliver(db, "ev-1", 200, '{"received": true}')
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        page = client.get(f"/admin/previews/{session_id}/traces/1")
        fragment = client.get(f"/admin/previews/{session_id}/traces/1",
                              headers={"X-Fragment": "1"})  # fmt: skip
        missing = client.get(f"/admin/previews/{session_id}/traces/99")
    assert page.status_code == 200
    assert "<html" in page.text
    assert fragment.text.startswith('<div class="trace-detail"')
    assert "<html" not in fragment.text
    assert "data-pending" not in fragment.text
    for shown in ("Big leads", "conditions.all[1]", "data.value", "gte", "<code>100</code>",
                  "<code>5</code>", "not fired", "granted: ad_storage", "built the body",
                  "POST https://hooks.example.com/in", "authorization: ***",
                  "{&#34;received&#34;: true}", "var.page_kind", "bot filter: passed"):  # fmt: skip
        assert shown in fragment.text, shown
    assert missing.status_code == 404


def test_a_request_waiting_for_the_sender_marks_the_trace_pending(db):
    session_id = started(db, mode="live")
    add_traces(db, session_id, trace_body(mode="live", event_id="ev-2"))
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        waiting = client.get(f"/admin/previews/{session_id}/traces/1", headers={"X-Fragment": "1"})
        deliver(db, "ev-2", 400, '{"error": "bad pixel id"}')
        answered = client.get(f"/admin/previews/{session_id}/traces/1",
                              headers={"X-Fragment": "1"})  # fmt: skip
    assert 'data-pending="1"' in waiting.text
    assert "waiting for the sender" in waiting.text
    assert "data-pending" not in answered.text
    assert "bad pixel id" in answered.text
    assert "400" in answered.text


def test_a_dry_run_trace_says_nothing_was_sent(db):
    session_id = started(db)
    add_traces(db, session_id, trace_body(mode="dry_run"))
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        fragment = client.get(f"/admin/previews/{session_id}/traces/1",
                              headers={"X-Fragment": "1"})  # fmt: skip
        live = client.get(f"/admin/previews/{session_id}?outcome=failed")
    assert "not sent: dry run" in fragment.text
    assert "data-pending" not in fragment.text
    assert re.search(r'<li class="trace tone-ok" id="trace-1"[^>]* hidden>', live.text)


def test_a_refused_hit_shows_its_errors(db):
    session_id = started(db)
    body = {"v": 1, "trace_id": "tr-9", "mode": "dry_run", "at_ms": 0,
            "errors": [{"field": "event", "reason": "is required"}], "tags": [],
            "summary": "refused"}  # fmt: skip
    add_traces(db, session_id, body)
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        live = client.get(f"/admin/previews/{session_id}")
        fragment = client.get(f"/admin/previews/{session_id}/traces/1",
                              headers={"X-Fragment": "1"})  # fmt: skip
    assert 'data-outcomes="refused"' in live.text
    assert "Refused by /collect" in fragment.text
    assert "is required" in fragment.text


def test_a_burst_larger_than_one_batch_is_streamed_whole_in_order(db, monkeypatch):
    monkeypatch.setattr(preview_pages, "BATCH", 3)
    session_id = started(db)
    add_traces(db, session_id, *[trace_body(event=f"e{i}") for i in range(8)])
    with browser(db) as editor:
        sign_in(editor, "ed@agency.example")
        post(editor, f"/admin/previews/{session_id}/revoke")
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        answer = client.get(f"/admin/previews/{session_id}/stream")
    assert [e["id"] for e in events(answer.text) if "id" in e] == [str(i) for i in range(1, 9)]


def test_any_stored_hit_of_the_session_opens_and_another_sessions_does_not(db):
    first, second = started(db), started(db)
    add_traces(db, first, *[trace_body() for _ in range(3)])
    add_traces(db, second, trace_body())
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        oldest = client.get(f"/admin/previews/{first}/traces/1")
        foreign = client.get(f"/admin/previews/{first}/traces/4")
    assert oldest.status_code == 200
    assert foreign.status_code == 404

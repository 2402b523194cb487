"""Preview on the node: a hit with a valid preview cookie runs the session's document,
traced into the store, delivered as the session's mode says; any other cookie runs the
live version and is counted; the preview link sets the cookie."""

from __future__ import annotations

import asyncio
import copy
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from config.preview_tokens import PREVIEW_KEY, PreviewTokens
from config.schema import apply_defaults
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from config.storage import OutboxFilter, PreviewSession
from container.app import create_app
from container.containers import ContainerSet
from container.pipeline import CompiledContainer
from container.preview.sessions import COOKIE
from tags.runtime import TemplateRuntime
from tests.helpers import make_document, make_hit

SITE = "https://www.example.com"
PREVIEW_HOOK = "https://preview-hooks.example.com/tagwire"
PIXEL_TEMPLATE = {
    "id": "beacon",
    "lua": 'pixel({ vendor = "acme", command = "track", args = { event.get("event") } })\n'
           'send_http({ url = params.url, method = "POST", body = { e = event.get("event"),'
           ' code = event.get("server.test_event_code") } })\n',
    "permissions": {"pixel": ["acme"], "read_event_data": ["event", "server.test_event_code"],
                    "send_http": [{"url": "param:url", "methods": ["POST"]}]},
    "params": {"url": {"type": "string", "format": "url", "required": True}},
}  # fmt: skip


def preview_document() -> dict[str, Any]:
    """The workspace being previewed: a page-kind variable, a lead trigger that needs a
    value over 100, and a tag with a browser pixel sending to its own hook."""
    doc = make_document(PREVIEW_HOOK, template="beacon", params={"url": PREVIEW_HOOK},
                        consent={"gcm": []})  # fmt: skip
    doc["templates"] = [copy.deepcopy(PIXEL_TEMPLATE)]
    doc["variables"] = [{"id": "kind", "name": "Kind", "type": "lookup",
                         "params": {"input": "page.path", "map": {"/en/thanks": "thanks"},
                                    "default": "other"}}]  # fmt: skip
    doc["triggers"][0]["conditions"] = {"all": [
        {"var": "var.kind", "op": "equals", "value": "thanks"},
        {"var": "data.value", "op": "gt", "value": 100},
    ]}  # fmt: skip
    doc["triggers"].append({"id": "all_leads", "name": "Every lead", "events": ["lead"]})
    doc["tags"][0]["firing_triggers"] = ["all_leads"]
    return doc


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def on_store(db: Path, work: Any) -> Any:
    store = SQLiteStore(db)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def start_session(db: Path, mode: str, *, container: str = "shop", expires_in_ms: int = 3_600_000,
                  doc: dict | None = None) -> str:  # fmt: skip
    """A session in the store; the signed token its link and cookie carry."""
    now = int(time.time() * 1000)
    document = copy.deepcopy(doc or preview_document())
    document["container"]["id"] = container
    session_id = f"session-{mode}-{container}-000000"

    async def work(store: SQLiteStore) -> str:
        await store.create_preview(PreviewSession(
            session_id, container, "workspace", orjson.dumps(document), 1, mode,
            "TEST777" if mode == "test" else None, "ed@agency.example", now, now + expires_in_ms,
        ))  # fmt: skip
        key = await store.node_key(PREVIEW_KEY)
        return PreviewTokens(key).make(session_id, now + expires_in_ms)

    return str(run(on_store(db, work)))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tagwire.db"


def node(db: Path, **env: str) -> TestClient:
    settings = load_settings({"TAGWIRE_SENDER": "off", **env})
    live = CompiledContainer.compile(apply_defaults(make_document()), TemplateRuntime())
    app = create_app(settings, SQLiteStore(db), ContainerSet.of({"shop": live}))
    return TestClient(app, base_url="https://t.example.com")


def lead(**changes: Any) -> dict[str, Any]:
    return make_hit(data={"value": 50, "currency": "EUR", "lead_id": "L-9"}, **changes)


def post(client: TestClient, hit: dict[str, Any], token: str | None = None) -> Any:
    headers = {"content-type": "application/json", "origin": SITE}
    if token:
        headers["cookie"] = f"{COOKIE}={token}"
    client.cookies.clear()
    return client.post("/collect?id=shop", content=orjson.dumps(hit), headers=headers)


def rows(db: Path) -> list[tuple[str, str, bytes, str | None, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT tag_id, url, body, dedup_key, preview_session FROM outbox ORDER BY id"
        ).fetchall()


def traces(db: Path, session_id: str) -> list[dict[str, Any]]:
    found = run(on_store(db, lambda s: s.traces(session_id, 0, 100)))
    return [orjson.loads(t.body) for t in found]


def wait_traces(db: Path, session_id: str, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found = traces(db, session_id)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def counted(reason: str) -> float:
    return REGISTRY.get_sample_value("tagwire_preview_cookies_total", {"reason": reason}) or 0.0


def test_without_the_cookie_the_live_version_runs_and_nothing_is_traced(db):
    start_session(db, "test")
    with node(db) as client:
        assert post(client, lead()).status_code == 204
    [(_tag, url, *_)] = rows(db)
    assert url == "https://hooks.example.com/tagwire"
    assert traces(db, "session-test-shop-000000") == []


def test_test_mode_runs_the_preview_with_the_test_code_and_traces_every_step(db):
    token = start_session(db, "test")
    with node(db) as client:
        answer = post(client, lead(), token)
        found = wait_traces(db, "session-test-shop-000000")
    assert answer.status_code == 204, answer.text  # no browser pixel in test mode
    [(tag, url, body, dedup_key, marked)] = rows(db)
    assert (url, dedup_key, marked) == (PREVIEW_HOOK, None, None)
    assert orjson.loads(body)["code"] == "TEST777"
    [trace] = found
    assert (trace["mode"], trace["event"], trace["summary"]) == ("test", "lead", "1 fired")
    assert trace["variables"] == [{"id": "kind", "value": "thanks"}]
    leads = next(t for t in trace["triggers"] if t["id"] == "leads")
    assert leads["fired"] is False  # 50 is not over 100: the failing condition and values
    assert (leads["path"], leads["var"], leads["op"]) == ("conditions.all[1]", "data.value", "gt")
    assert (leads["expected"], leads["actual"]) == (100, 50)
    [tag] = trace["tags"]
    assert tag["outcome"] == "fired"
    assert tag["pixels"] == [{"vendor": "acme", "command": "track", "args": ["lead"]}]
    assert tag["requests"][0]["url"] == PREVIEW_HOOK
    assert {g["guard"] for g in trace["guards"]} >= {"value and spike guards"}


def test_dry_run_builds_the_requests_and_sends_nothing(db):
    token = start_session(db, "dry_run")
    with node(db) as client:
        assert post(client, lead(), token).status_code == 204
        [trace] = wait_traces(db, "session-dry_run-shop-000000")
    assert rows(db) == []
    assert trace["tags"][0]["requests"][0]["url"] == PREVIEW_HOOK


def test_live_mode_sends_for_real_returns_pixels_and_marks_the_rows(db):
    token = start_session(db, "live")
    with node(db) as client:
        answer = post(client, lead(), token)
        wait_traces(db, "session-live-shop-000000")
        again = post(client, lead(), token)  # the same event id: fire-once holds in live
    assert answer.status_code == 200
    assert answer.json()["pixels"][0]["vendor"] == "acme"
    assert again.status_code == 200
    [(_tag, url, _body, dedup_key, marked)] = rows(db)
    assert (url, marked) == (PREVIEW_HOOK, "session-live-shop-000000")
    assert dedup_key is not None
    history = run(on_store(db, lambda s: s.history(OutboxFilter(container_id="shop"), 10, 0)))
    assert history[0].preview == "session-live-shop-000000"


@pytest.mark.parametrize("case", ["forged", "expired", "ended", "other_container", "malformed"])
def test_a_bad_preview_cookie_runs_the_live_version_and_is_counted(db, case):
    if case == "other_container":
        token = start_session(db, "test", container="other")
    elif case == "expired":
        token = start_session(db, "test", expires_in_ms=1)
        time.sleep(0.01)
    else:
        token = start_session(db, "test")
    if case == "forged":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif case == "malformed":
        token = "not.a-token"
    elif case == "ended":
        run(on_store(db, lambda s: s.revoke_preview("session-test-shop-000000", 1)))
    reason = "malformed" if case == "malformed" else case
    before = counted(reason)
    with node(db) as client:
        assert post(client, lead(), token).status_code == 204
    [(_tag, url, *_)] = rows(db)
    assert url == "https://hooks.example.com/tagwire"
    assert counted(reason) == before + 1


def test_a_refused_hit_is_traced_with_its_errors(db):
    token = start_session(db, "test")
    with node(db) as client:
        answer = post(client, lead(event="Not An Event"), token)
        [trace] = wait_traces(db, "session-test-shop-000000")
    assert answer.status_code == 400
    assert trace["summary"] == "refused"
    assert trace["errors"][0]["field"] == "event"


def test_no_plaintext_email_or_phone_reaches_a_stored_trace(db):
    token = start_session(db, "test")
    hit = lead(page={"url": "https://www.example.com/en/thanks?mail=jane.doe@example.org"
                            "&tel=+4930901820770"},
               custom={"note": "call +49 30 9018 2077 or jane.doe@example.org"})  # fmt: skip
    with node(db) as client:
        assert post(client, hit, token).status_code == 204
        wait_traces(db, "session-test-shop-000000")
    with sqlite3.connect(db) as conn:
        stored = b"".join(bytes(b) for (b,) in conn.execute("SELECT body FROM preview_traces"))
    assert stored
    for plaintext in (b"jane.doe@example.org", b"+4930901820770", b"+49 30 9018 2077"):
        assert plaintext not in stored


def test_the_preview_link_sets_the_cookie_and_redirects_only_to_the_site(db):
    token = start_session(db, "test")
    with node(db) as client:
        to_site = client.get(f"/preview/start?t={token}&to={SITE}/", follow_redirects=False)
        elsewhere = client.get(f"/preview/start?t={token}&to=https://evil.example/",
                               follow_redirects=False)  # fmt: skip
        forged = client.get(f"/preview/start?t={token[:-4]}AAAA", follow_redirects=False)
    assert to_site.status_code == 303
    assert to_site.headers["location"] == f"{SITE}/"
    cookie = to_site.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={token}")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert elsewhere.status_code == 200  # a page, not a redirect to another origin
    assert "Preview on" in elsewhere.text
    assert forged.status_code == 400
    assert "set-cookie" not in forged.headers


def test_with_preview_off_by_its_setting_every_hit_runs_live(db):
    token = start_session(db, "test")
    with node(db, TAGWIRE_PREVIEW="off") as client:
        assert post(client, lead(), token).status_code == 204
        start = client.get(f"/preview/start?t={token}", follow_redirects=False)
    [(_tag, url, *_)] = rows(db)
    assert url == "https://hooks.example.com/tagwire"
    assert start.status_code == 404
    assert traces(db, "session-test-shop-000000") == []

"""Preview sessions and traces in both stores: active sessions, revoking, pointing a
session at a newer document, traces bounded per session and by age, the history mark."""

from __future__ import annotations

import pytest

from config.storage import OutboxFilter, OutboxRow, PreviewSession, PreviewStore

pytestmark = pytest.mark.anyio


def session(ident: str = "s-000000000000000001", *, container: str = "shop", expires: int = 10_000,
            created: int = 1_000) -> PreviewSession:  # fmt: skip
    return PreviewSession(ident, container, "workspace", b'{"a":1}', 1, "test", "TEST1",
                          "ed@agency.example", created, expires)  # fmt: skip


def trace(session_id: str, at: int, event: str = "lead") -> tuple[str, int, str, str, bytes]:
    return (session_id, at, event, "fired", b'{"v":1}')


async def test_the_store_is_a_preview_store(store):
    assert isinstance(store, PreviewStore)


async def test_sessions_are_listed_while_active_and_revoked_once(store):
    await store.create_preview(session())
    await store.create_preview(session("s-000000000000000002", container="other", created=2_000))
    await store.create_preview(session("s-000000000000000003", expires=1_500))
    assert [s.id for s in await store.list_previews(None, 5_000)] == [
        "s-000000000000000002", "s-000000000000000001"]  # fmt: skip
    assert [s.id for s in await store.list_previews("shop", None)] == [
        "s-000000000000000001", "s-000000000000000003"]  # fmt: skip
    assert await store.revoke_preview("s-000000000000000001", 3_000) is True
    assert await store.revoke_preview("s-000000000000000001", 4_000) is False
    found = await store.get_preview("s-000000000000000001")
    assert found is not None
    assert found.revoked_at_ms == 3_000
    assert not found.active(3_500)
    assert await store.get_preview("nope") is None


async def test_refresh_points_a_session_at_a_new_document_and_bumps_its_revision(store):
    await store.create_preview(session())
    assert await store.refresh_preview("s-000000000000000001", "v3", b'{"b":2}') is True
    found = await store.get_preview("s-000000000000000001")
    assert (found.source, found.document, found.revision) == ("v3", b'{"b":2}', 2)
    await store.revoke_preview("s-000000000000000001", 2_000)
    assert await store.refresh_preview("s-000000000000000001", "v4", b"{}") is False


async def test_traces_are_newest_first_after_an_id_and_bounded_per_session(store):
    first, second = "s-000000000000000001", "s-000000000000000002"
    await store.add_traces([trace(first, at) for at in range(1, 8)] + [trace(second, 1)], 5)
    kept = await store.traces(first, 0, 100)
    assert [t.at_ms for t in kept] == [7, 6, 5, 4, 3]
    newer = await store.traces(first, kept[2].id, 100)
    assert [t.at_ms for t in newer] == [7, 6]
    assert len(await store.traces(second, 0, 100)) == 1


async def test_prune_drops_old_traces_and_long_ended_sessions(store):
    await store.create_preview(session(expires=2_000))
    await store.create_preview(session("s-000000000000000002", expires=90_000))
    await store.add_traces([trace("s-000000000000000001", 100), trace("s-000000000000000002", 100),
                            trace("s-000000000000000002", 50_000)], 500)  # fmt: skip
    assert await store.prune_previews(10_000, 5_000) == 2
    assert await store.get_preview("s-000000000000000001") is None
    assert [t.at_ms for t in await store.traces("s-000000000000000002", 0, 10)] == [50_000]


async def test_rows_a_live_preview_sent_are_marked_in_the_history(store):
    def row(event_id: str) -> OutboxRow:
        return OutboxRow("shop", "hook", "hooks.example.com", "POST", "https://hooks.example.com/",
                         b"{}", b"{}", "lead", event_id, None, "webhook", 1, None, None, None,
                         False)  # fmt: skip

    await store.enqueue([row("e-1"), row("e-2")], 1_000)
    assert await store.mark_preview_rows("shop", ["e-1"], "s-000000000000000001", 0) == 1
    entries = await store.history(OutboxFilter(container_id="shop"), 10, 0)
    assert {e.event_id: e.preview for e in entries} == {"e-1": "s-000000000000000001", "e-2": None}


async def test_traces_page_forward_oldest_first_and_one_is_found_by_id(store):
    first, second = "s-000000000000000001", "s-000000000000000002"
    await store.add_traces([trace(first, at) for at in range(1, 6)] + [trace(second, 9)], 100)
    [one, two] = await store.traces(first, 0, 2, oldest_first=True)
    assert [one.at_ms, two.at_ms] == [1, 2]
    rest = await store.traces(first, two.id, 10, oldest_first=True)
    assert [t.at_ms for t in rest] == [3, 4, 5]
    found = await store.trace(first, two.id)
    assert found is not None
    assert (found.at_ms, found.body) == (2, b'{"v":1}')
    [other] = await store.traces(second, 0, 1)
    assert await store.trace(first, other.id) is None

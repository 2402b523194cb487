"""The audit page's filters: client, container, actor, action and time, and what each
user may see of the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin_ui.versions import Versions
from tests.admin_ui.web.helpers import DOCUMENT, add_user, browser, run, sign_in, with_store

DAY = 86_400_000
T0 = 1_790_000_000_000  # 2026-09-21


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    add_user(path, "admin@agency.example", admin=True)
    viewer = add_user(path, "val@agency.example")

    async def setup(store):
        await Versions(store, clock=lambda: T0).import_document(DOCUMENT, "ed@agency.example", "t")
        await store.create_client("acme", "Acme", "admin@agency.example", T0 + DAY)
        await store.create_client("other", "Other", "admin@agency.example", T0 + DAY)
        await store.assign_container("shop", "acme", "admin@agency.example", T0 + 2 * DAY)
        await store.set_membership(viewer, "acme", "viewer", "admin@agency.example", T0 + 3 * DAY)
        await store.add_audit(
            "ops@agency.example", "outbox.replay", "shop", {"rows": 3}, T0 + 4 * DAY
        )

    run(with_store(path, setup))
    return path


def rows(client, query: str) -> list[str]:
    page = client.get(f"/admin/audit?{query}")
    assert page.status_code == 200, page.text
    return [line.split("<code>")[1].split("</code>")[0] for line in page.text.split("<tr><td>")[1:]]


def test_filters_narrow_the_log(db):
    with browser(db) as client:
        sign_in(client, "admin@agency.example")
        everything = ["outbox.replay", "membership.set", "container.assign", "client.create",
                      "client.create", "workspace.import"]  # fmt: skip
        assert rows(client, "") == [*everything, "user.create", "user.create"]
        assert rows(client, "until=2026-10-01") == everything
        assert rows(client, "actor=ops") == ["outbox.replay"]
        assert rows(client, "action=client.") == ["client.create", "client.create"]
        assert rows(client, "container=shop") == ["outbox.replay", "container.assign",
                                                  "workspace.import"]  # fmt: skip
        assert rows(client, "client=other") == ["client.create"]
        assert rows(client, "since=2026-09-23&until=2026-09-24T12:00") == ["container.assign"]


def test_a_bad_time_names_the_field(db):
    with browser(db) as client:
        sign_in(client, "admin@agency.example")
        answer = client.get("/admin/audit?since=yesterday")
    assert answer.status_code == 400
    assert "since: &#39;yesterday&#39; is not a time" in answer.text


def test_a_viewer_sees_only_the_entries_of_their_clients(db):
    with browser(db) as client:
        sign_in(client, "val@agency.example")
        seen = rows(client, "")
    assert "outbox.replay" in seen
    assert "workspace.import" in seen
    assert seen.count("client.create") == 1  # acme's, not other's

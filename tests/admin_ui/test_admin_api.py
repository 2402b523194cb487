"""The admin API: admin tokens only, the CLI's filters as fields, JSON answers, 400 naming
the field. Runs on a real SQLite store filled through the Store API (see ops_fixtures)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_ui.admin_api import AdminEndpoint
from admin_ui.history import HISTORY_FIELDS
from config.sqlite_store import SQLiteStore
from config.storage import StorageError, TokenRecord
from config.tokens import ADMIN_CONTAINER, admin_owner, hash_token, new_token
from tests.container.fire_api_helpers import add_token
from tests.container.ops_fixtures import filled_database, now_ms, states
from tests.helpers import on_store

ALL_STATES = {"evt-F-0001": "dead", "evt-A-0001": "sent", "evt-B-0001": "dead",
              "evt-C-0001": "dead", "evt-D-0001": "held", "evt-E-0001": "pending"}  # fmt: skip


def admin_app(store: Any) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    return Starlette(routes=AdminEndpoint(store).routes(), lifespan=lifespan)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return filled_database(tmp_path / "tagwire.db")


@pytest.fixture
def admin(db: Path) -> str:
    return add_token(db, ADMIN_CONTAINER, "ops")


@pytest.fixture
def client(db: Path, admin: str) -> Iterator[TestClient]:
    with TestClient(admin_app(SQLiteStore(db))) as client:
        client.headers["authorization"] = f"Bearer {admin}"
        yield client


def only_error(response: Any) -> dict[str, Any]:
    [error] = response.json()["errors"]
    return error


def post(client: TestClient, path: str, body: Any) -> Any:
    return client.post(
        f"/api/v1/outbox/{path}",
        content=orjson.dumps(body),
        headers={"content-type": "application/json"},
    )


# --- authentication -------------------------------------------------------------------

ROUTES = [("GET", "/api/v1/outbox/status"), ("POST", "/api/v1/outbox/replay"),
          ("POST", "/api/v1/outbox/release"), ("POST", "/api/v1/outbox/purge"),
          ("GET", "/api/v1/history")]  # fmt: skip


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_wants_a_token(client, db, method, path):
    del client.headers["authorization"]
    response = client.request(method, path, json={"dry_run": False, "all": True})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tagwire"'
    assert only_error(response)["field"] == "Authorization"
    assert states(db) == ALL_STATES


@pytest.mark.parametrize(
    ("header", "error"),
    [("Basic dXNlcjpwYXNz", "invalid_request"), ("Bearer", "invalid_request"),
     ("Bearer not-a-token", "invalid_token"), (f"Bearer {new_token()}", "invalid_token")],
)  # fmt: skip
def test_bad_or_unknown_tokens_are_401(client, header, error):
    response = client.get("/api/v1/outbox/status", headers={"authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].endswith(f'error="{error}"')
    assert only_error(response)["field"] == "Authorization"


def test_a_fire_api_token_of_a_container_is_403(client, db):
    event_token = add_token(db, "shop", "crm")
    for method, path in ROUTES:
        response = client.request(
            method, path, headers={"authorization": f"Bearer {event_token}"}, json={"all": True}
        )
        assert response.status_code == 403, path
        assert "container 'shop' cannot use the admin API" in only_error(response)["reason"]
    assert states(db) == ALL_STATES


def test_a_revoked_admin_token_is_403(client, db):
    old = add_token(db, ADMIN_CONTAINER, "old", revoked=True)
    response = client.get("/api/v1/outbox/status", headers={"authorization": f"Bearer {old}"})
    assert response.status_code == 403
    assert "revoked" in only_error(response)["reason"]


def test_wrong_method_is_405(client):
    assert client.get("/api/v1/outbox/replay").status_code == 405
    assert client.post("/api/v1/history").status_code == 405


# --- status ---------------------------------------------------------------------------


def test_status_counts_with_filters(client):
    response = client.get("/api/v1/outbox/status")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert report["filters"] == {}
    assert report["totals"] == {"states": {"pending": 1, "inflight": 0, "sent": 1, "failed": 0,
                                           "dead": 3, "held": 1}, "total": 6}  # fmt: skip
    assert [(t["container"], t["tag"], t["total"]) for t in report["tags"]] == [
        ("blog", "meta", 1), ("shop", "hook", 3), ("shop", "meta", 2)]  # fmt: skip
    for query, total in [({"container": "shop"}, 5), ({"tag": "hook"}, 3),
                         ({"platform": "meta"}, 3), ({"event": "purchase"}, 2),
                         ({"lead_id": "L-1"}, 1), ({"since": "2d"}, 5),
                         ({"until": "2d"}, 1), ({"since": "2000-01-01T00:00:00Z"}, 6)]:  # fmt: skip
        report = client.get("/api/v1/outbox/status", params=query).json()
        assert report["totals"]["total"] == total, query
    filtered = client.get("/api/v1/outbox/status", params={"container": "shop", "since": "2d"})
    assert set(filtered.json()["filters"]) == {"container", "since"}


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=yesterday", "since"), ("until=2026-13-01", "until"), ("container=", "container"),
     ("tag=a&tag=b", "tag"), ("colour=red", "colour"), ("since=1h&until=2h", "until")],
)  # fmt: skip
def test_status_bad_filters_are_400_naming_the_field(client, query, field):
    response = client.get(f"/api/v1/outbox/status?{query}")
    assert response.status_code == 400
    assert only_error(response)["field"] == field


# --- replay, release, purge -------------------------------------------------------------


def test_replay_dry_run_changes_nothing_then_replays(client, db, caplog):
    caplog.set_level(logging.INFO, logger="tagwire.audit")
    response = post(client, "replay", {"container": "shop", "dry_run": True})
    assert response.status_code == 200
    assert response.json() == {"action": "replay", "dry_run": True, "rows": 2,
                               "filters": {"container": "shop", "state": ["dead"]}}  # fmt: skip
    assert states(db) == ALL_STATES
    response = post(client, "replay", {"tag": "meta", "state": ["dead", "failed"]})
    assert response.json()["rows"] == 2
    assert states(db) == {**ALL_STATES, "evt-F-0001": "pending", "evt-B-0001": "pending"}
    assert post(client, "replay", {"state": "failed"}).json()["rows"] == 0
    audits = [record.fields for record in caplog.records if record.name == "tagwire.audit"]
    assert [(a["who"], a["via"], a["action"], a["dry_run"], a["rows"]) for a in audits] == [
        ("token:ops", "api", "outbox replay", True, 2),
        ("token:ops", "api", "outbox replay", False, 2),
        ("token:ops", "api", "outbox replay", False, 0),
    ]


def test_replay_without_a_body_replays_every_dead_row(client, db):
    response = client.post("/api/v1/outbox/replay")
    assert response.json()["rows"] == 3
    assert sorted(states(db).values()) == ["held", "pending", "pending", "pending", "pending",
                                           "sent"]  # fmt: skip


def test_release_held_rows(client, db):
    assert post(client, "release", {"dry_run": True}).json()["rows"] == 1
    assert states(db) == ALL_STATES
    assert post(client, "release", {"tag": "meta"}).json()["rows"] == 0
    response = post(client, "release", {"container": "shop", "tag": "hook"})
    assert response.json() == {"action": "release", "dry_run": False, "rows": 1,
                               "filters": {"container": "shop", "tag": "hook"}}  # fmt: skip
    assert states(db) == {**ALL_STATES, "evt-D-0001": "pending"}


def test_purge_needs_before_or_all_and_keeps_unfinished_rows(client, db):
    response = post(client, "purge", {"state": "dead"})
    assert response.status_code == 400
    assert only_error(response)["field"] == "before"
    response = post(client, "purge", {"before": "1d", "all": True})
    assert (response.status_code, only_error(response)["field"]) == (400, "all")
    dry = post(client, "purge", {"before": "2d", "dry_run": True}).json()
    assert (dry["rows"], set(dry["filters"])) == (1, {"before"})
    assert states(db) == ALL_STATES
    response = post(client, "purge", {"before": "2d"})
    assert response.json()["rows"] == 1
    assert "evt-F-0001" not in states(db)
    assert post(client, "purge", {"all": True, "state": ["sent"]}).json()["rows"] == 1
    assert post(client, "purge", {"all": True}).json()["rows"] == 2
    assert states(db) == {"evt-D-0001": "held", "evt-E-0001": "pending"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [("replay", {"state": "sent"}, "state"), ("replay", {"state": []}, "state"),
     ("replay", {"dry_run": "yes"}, "dry_run"), ("replay", {"since": 3}, "since"),
     ("replay", {"since": "soon"}, "since"), ("release", {"state": "held"}, "state"),
     ("purge", {"until": "1d"}, "until"), ("purge", {"state": "pending", "all": True}, "state"),
     ("purge", {"all": "true"}, "all"), ("purge", ["all"], "body"),
     ("release", {"container": None, "color": 1}, "color")],
)  # fmt: skip
def test_bad_bodies_are_400_naming_the_field(client, db, path, body, field):
    response = post(client, path, body)
    assert response.status_code == 400
    assert only_error(response)["field"] == field
    assert states(db) == ALL_STATES


def test_a_body_must_be_json(client, db):
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = client.post("/api/v1/outbox/replay", content=b"all=1", headers=form)
    assert (response.status_code, only_error(response)["field"]) == (415, "Content-Type")
    response = client.post("/api/v1/outbox/replay", content=b"{oops",
                           headers={"content-type": "application/json"})  # fmt: skip
    assert (response.status_code, only_error(response)["field"]) == (400, "body")
    response = client.post("/api/v1/outbox/replay", content=b" " * 20_000,
                           headers={"content-type": "application/json"})  # fmt: skip
    assert (response.status_code, only_error(response)["field"]) == (413, "body")
    assert states(db) == ALL_STATES


# --- history --------------------------------------------------------------------------


def test_history_entries_and_paging(client):
    response = client.get("/api/v1/history")
    assert response.status_code == 200
    answer = response.json()
    assert answer["next_offset"] is None
    ids = [(e["event_id"], e["attempt"]) for e in answer["entries"]]
    assert ids == [("evt-E-0001", 0), ("evt-D-0001", 0), ("evt-C-0001", 2), ("evt-C-0001", 1),
                   ("evt-B-0001", 1), ("evt-A-0001", 1), ("evt-F-0001", 1)]  # fmt: skip
    assert list(answer["entries"][0]) == list(HISTORY_FIELDS)
    page = client.get("/api/v1/history", params={"limit": 3}).json()
    assert [(e["event_id"], e["attempt"]) for e in page["entries"]] == ids[:3]
    assert page["next_offset"] == 3
    page = client.get("/api/v1/history", params={"limit": 3, "offset": 3}).json()
    assert [(e["event_id"], e["attempt"]) for e in page["entries"]] == ids[3:6]
    page = client.get("/api/v1/history", params={"limit": 3, "offset": 6}).json()
    assert ([e["event_id"] for e in page["entries"]], page["next_offset"]) == (["evt-F-0001"],
                                                                                None)  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [({"container": "blog"}, ["F1"]), ({"tag": "hook"}, ["E0", "D0", "C2", "C1"]),
     ({"platform": "meta"}, ["B1", "A1", "F1"]), ({"event": "purchase"}, ["E0", "B1"]),
     ({"lead_id": "L-2"}, ["C2", "C1"]), ({"since": "2d", "tag": "meta"}, ["B1", "A1"]),
     ({"until": "2d"}, ["F1"]), ({"status": "400"}, ["B1", "F1"]),
     ({"outcome": "failed"}, ["C1"]), ({"outcome": "held"}, ["D0"]),
     ({"outcome": "dead", "limit": "1", "offset": "1"}, ["B1"])],
)  # fmt: skip
def test_history_filters(client, query, expected):
    entries = client.get("/api/v1/history", params=query).json()["entries"]
    assert [e["event_id"][4] + str(e["attempt"]) for e in entries] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"),
     ("offset=-1", "offset"), ("status=99", "status"), ("status=abc", "status"),
     ("outcome=lost", "outcome"), ("since=last+week", "since"), ("dry_run=true", "dry_run")],
)  # fmt: skip
def test_history_bad_filters_are_400_naming_the_field(client, query, field):
    response = client.get(f"/api/v1/history?{query}")
    assert response.status_code == 400
    assert only_error(response)["field"] == field


# --- admin tokens limited to one client ---------------------------------------------------

SCOPED = ("this token is limited to client 'acme': name one of its containers in the "
          "'container' field")  # fmt: skip


@pytest.fixture
def scoped(db: Path) -> str:
    """A token of client acme, which owns shop; blog belongs to client globex."""

    async def clients(store: Any) -> None:
        for client_id, container_id in (("acme", "shop"), ("globex", "blog")):
            await store.create_client(client_id, client_id.title(), "ana", 1)
            await store.assign_container(container_id, client_id, "ana", 1)

    on_store(db, clients)
    return add_token(db, admin_owner("acme"), "acme-ops")


def as_scoped(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def post_as(client: TestClient, token: str, path: str, body: Any) -> Any:
    return client.post(
        f"/api/v1/outbox/{path}",
        content=orjson.dumps(body),
        headers={"content-type": "application/json", **as_scoped(token)},
    )


def test_a_scoped_token_reads_its_clients_container(client, scoped):
    response = client.get("/api/v1/outbox/status", params={"container": "shop"},
                          headers=as_scoped(scoped))  # fmt: skip
    assert response.status_code == 200
    assert response.json()["totals"]["total"] == 5
    response = client.get("/api/v1/history", params={"container": "shop", "tag": "hook"},
                          headers=as_scoped(scoped))  # fmt: skip
    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [e["event_id"][4] + str(e["attempt"]) for e in entries] == ["E0", "D0", "C2", "C1"]
    assert {e["container"] for e in entries} == {"shop"}


@pytest.mark.parametrize("container", ["blog", "nosuch", None])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_scoped_token_is_403_for_other_unknown_or_no_containers(
    client, db, scoped, method, path, container
):
    fields: dict[str, Any] = {"all": True} if path.endswith("purge") else {}
    if container is not None:
        fields["container"] = container
    if method == "GET":
        response = client.get(path, params=fields, headers=as_scoped(scoped))
    else:
        response = post_as(client, scoped, path.rsplit("/", 1)[1], fields)
    assert response.status_code == 403
    assert only_error(response) == {"field": "container", "reason": SCOPED}
    assert states(db) == ALL_STATES


def test_a_scoped_token_cannot_tell_another_clients_container_from_an_unknown_one(client, scoped):
    answers = [
        client.get("/api/v1/history", params={"container": name}, headers=as_scoped(scoped))
        for name in ("blog", "nosuch")
    ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].content == answers[1].content
    assert answers[0].headers == answers[1].headers


def test_a_scoped_token_acts_on_its_clients_container_only(client, db, scoped, caplog):
    caplog.set_level(logging.INFO, logger="tagwire.audit")
    response = post_as(client, scoped, "replay", {"container": "shop", "dry_run": True})
    assert response.json() == {"action": "replay", "dry_run": True, "rows": 2,
                               "filters": {"container": "shop", "state": ["dead"]}}  # fmt: skip
    assert post_as(client, scoped, "replay", {"container": "blog"}).status_code == 403
    assert states(db) == ALL_STATES
    assert post_as(client, scoped, "replay", {"container": "shop"}).json()["rows"] == 2
    assert states(db) == {**ALL_STATES, "evt-B-0001": "pending", "evt-C-0001": "pending"}
    assert post_as(client, scoped, "release", {"container": "shop"}).json()["rows"] == 1
    response = post_as(client, scoped, "purge", {"container": "shop", "all": True,
                                                 "state": "sent"})  # fmt: skip
    assert response.json()["rows"] == 1
    assert states(db) == {"evt-F-0001": "dead", "evt-B-0001": "pending",
                          "evt-C-0001": "pending", "evt-D-0001": "pending",
                          "evt-E-0001": "pending"}  # fmt: skip
    audits = [record.fields for record in caplog.records if record.name == "tagwire.audit"]
    assert {(a["who"], a["via"]) for a in audits} == {("token:acme-ops", "api")}
    assert [a["action"] for a in audits] == ["outbox replay", "outbox replay",
                                             "outbox release", "outbox purge"]  # fmt: skip


def test_a_container_moved_to_another_client_leaves_the_scope(client, db, scoped):
    params = {"container": "shop"}
    assert client.get("/api/v1/history", params=params,
                      headers=as_scoped(scoped)).status_code == 200  # fmt: skip
    on_store(db, lambda store: store.assign_container("shop", "globex", "ana", 2))
    response = client.get("/api/v1/history", params=params, headers=as_scoped(scoped))
    assert (response.status_code, only_error(response)["field"]) == (403, "container")


def test_a_scoped_token_still_gets_400_for_bad_fields_and_401_403_for_bad_tokens(
    client, db, scoped
):
    response = client.get("/api/v1/history", params={"colour": "red"}, headers=as_scoped(scoped))
    assert (response.status_code, only_error(response)["field"]) == (400, "colour")
    response = client.get("/api/v1/history", params={"container": "shop", "limit": "0"},
                          headers=as_scoped(scoped))  # fmt: skip
    assert (response.status_code, only_error(response)["field"]) == (400, "limit")
    old = add_token(db, admin_owner("acme"), "old", revoked=True)
    response = client.get("/api/v1/history", params={"container": "shop"},
                          headers=as_scoped(old))  # fmt: skip
    assert (response.status_code, only_error(response)["field"]) == (403, "Authorization")
    assert "revoked" in only_error(response)["reason"]


def test_an_agency_wide_token_is_not_limited(client, scoped):
    """The `client` fixture's token is agency-wide: every container, or none named."""
    for params in ({}, {"container": "shop"}, {"container": "blog"}, {"container": "nosuch"}):
        response = client.get("/api/v1/outbox/status", params=params)
        assert response.status_code == 200, params
    assert client.get("/api/v1/outbox/status").json()["totals"]["total"] == 6


# --- the store failing ------------------------------------------------------------------


class FailingStore:
    """Knows the admin token, fails everything else."""

    def __init__(self, token: str) -> None:
        self.record = TokenRecord(1, ADMIN_CONTAINER, "ops", 0, None, now_ms())
        self.hash = hash_token(token)

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def find_token(self, token_hash: str) -> TokenRecord | None:
        return self.record if token_hash == self.hash else None

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any) -> Any:
            raise StorageError("database is locked")

        return fail


def test_store_failure_is_503_with_retry_after():
    token = new_token()
    with TestClient(admin_app(FailingStore(token))) as client:
        response = client.get("/api/v1/outbox/status", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert only_error(response)["field"] == "store"

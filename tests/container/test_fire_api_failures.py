"""The Fire API answer names the tags that failed on each event, and their runs are kept.

An event whose tag fails is still accepted (it is acknowledged only once the failed run is
stored as a `RUN` row); its answer lists the failure under "failed" with the kind, the
reason and whether the node will retry it on its own.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from config.schema import apply_defaults
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from config.storage import RUN_METHOD
from container.app import DataPlane, create_app
from container.containers import ContainerSet
from container.pipeline import CompiledContainer
from container.tag_failures import RETRY_DELAYS_MS, read_record
from demo import demo_secrets
from tags.runtime import TemplateRuntime
from tests.container.fire_api_helpers import PLATFORMS, add_token, crm_event, fire_document

URL = "/api/v1/events"
BROKEN = {"id": "broken", "lua": "local t = nil\nlocal y = t.field\n", "permissions": {}}
VAULT = {
    "id": "vault",
    "lua": 'local token = secret("token")\n',
    "params": {"token": {"type": "secret", "required": True}},
    "permissions": {"secrets": ["token"]},
}
PLAIN_EMAIL = "zebulon.quartz@example.org"


def secrets(ref: str) -> str | None:
    """The demo's secrets, and one whose vault is down (a `host` failure, retried)."""
    if ref == "down":
        raise RuntimeError("vault unreachable")
    return demo_secrets().get(ref)


def document() -> dict[str, Any]:
    """The Fire API container plus `broken` (a Lua error) and `vault` (its secret lookup
    fails), both firing on qualified leads only."""
    doc = fire_document()
    doc["triggers"].append({"id": "leads", "name": "Leads", "events": ["qualified_lead"]})
    doc["templates"] = [BROKEN, VAULT]
    doc["tags"] += [
        {"id": "broken", "name": "Broken", "template": "broken", "params": {},
         "firing_triggers": ["leads"]},
        {"id": "vault", "name": "Vault", "template": "vault", "params": {"token": "down"},
         "firing_triggers": ["leads"]},
    ]  # fmt: skip
    return doc


def build(db: Path) -> DataPlane:
    settings = load_settings({"TAGWIRE_SENDER": "off"})
    container = CompiledContainer.compile(apply_defaults(document()), TemplateRuntime(secrets))
    return create_app(settings, SQLiteStore(db), ContainerSet.of({container.id: container}))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tagwire.db"


@pytest.fixture
def client(db: Path):
    token = add_token(db)
    with TestClient(build(db), base_url="https://t.example.com") as client:
        client.headers.update({"authorization": f"Bearer {token}",
                               "content-type": "application/json"})  # fmt: skip
        yield client


def runs(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT tag_id, event_id, state, body, next_attempt_at, created_at, last_response"
            " FROM outbox WHERE method = ? ORDER BY tag_id, id",
            (RUN_METHOD,),
        ).fetchall()
    finally:
        conn.close()
    return [dict(row) for row in rows]


def queued_tags(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT DISTINCT tag_id FROM outbox WHERE method <> ? ORDER BY tag_id", (RUN_METHOD,)
        ).fetchall()
    finally:
        conn.close()
    return [tag for (tag,) in rows]


def test_an_event_whose_tags_fail_lists_them_and_its_runs_are_stored(
    client: TestClient, db: Path
) -> None:
    response = client.post(URL, content=orjson.dumps(crm_event()))
    assert response.status_code == 200, response.text
    (answer,) = response.json()["events"]
    event_id = answer["event_id"]
    assert answer["failed"] == [
        {"tag": "broken", "kind": "runtime",
         "reason": "broken:2: attempt to index a nil value (local 't')", "retried": False},
        {"tag": "vault", "kind": "host", "reason": "RuntimeError: vault unreachable",
         "retried": True},
    ]  # fmt: skip
    # the other tags ran and queued as before
    assert sorted(answer["queued"]) == sorted(queued_tags(db))
    assert len(answer["queued"]) == len(PLATFORMS) + 1  # the platforms and the webhook

    broken, vault = runs(db)
    assert (broken["tag_id"], broken["event_id"], broken["state"]) == ("broken", event_id, "dead")
    assert broken["last_response"] == "runtime: broken:2: attempt to index a nil value (local 't')"
    assert (vault["tag_id"], vault["event_id"], vault["state"]) == ("vault", event_id, "failed")
    received = read_record(vault["body"]).received_ms
    assert vault["next_attempt_at"] == received + RETRY_DELAYS_MS[0]
    for run in (broken, vault):
        record = read_record(run["body"])
        assert (record.env, record.event_id, record.event_name) == (
            "live", event_id, "qualified_lead")  # fmt: skip
        assert (record.lead_id, record.value, record.currency) == ("L-4711", 80.0, "EUR")
        assert record.event["user"]["em"]  # hashed by the Fire API: the run can use it
        # what a run keeps went through the PII firewall: no plaintext contact data
        assert PLAIN_EMAIL not in run["body"].decode().lower()
        assert "3012345678" not in run["body"].decode()  # the phone, in any plain form


def test_an_event_without_failures_has_no_failed_list(client: TestClient, db: Path) -> None:
    response = client.post(URL, content=orjson.dumps(crm_event(event="purchase")))
    assert response.status_code == 200, response.text
    (answer,) = response.json()["events"]
    assert "failed" not in answer
    assert answer["queued"]
    assert runs(db) == []


def test_each_event_of_a_batch_lists_its_own_failures(client: TestClient, db: Path) -> None:
    batch = [crm_event(lead_id="L-1"), crm_event(event="purchase", lead_id="L-2"),
             crm_event(lead_id="L-3")]  # fmt: skip
    response = client.post(URL, content=orjson.dumps(batch))
    assert response.status_code == 200, response.text
    first, second, third = response.json()["events"]
    assert [f["tag"] for f in first["failed"]] == ["broken", "vault"]
    assert "failed" not in second
    assert [f["tag"] for f in third["failed"]] == ["broken", "vault"]
    stored = {(run["tag_id"], run["event_id"]) for run in runs(db)}
    assert stored == {(tag, answer["event_id"]) for answer in (first, third)
                      for tag in ("broken", "vault")}  # fmt: skip
    assert {read_record(run["body"]).lead_id for run in runs(db)} == {"L-1", "L-3"}

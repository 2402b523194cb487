"""Test fire on the data plane: a workspace's tag run on a sample hit, whatever its
triggers say, its requests committed to the real outbox with the test code and without a
fire-once key; consent, bad input and broken documents are answered, never raised raw."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from config.sqlite_store import SQLiteStore
from container.delivery.outbox import OutboxWriter
from container.node_secrets import NodeSecrets
from container.reload import builder
from container.trials import TrialRunner
from tags.trial import TEST_EVENT_PREFIX, Trial, TrialRefused
from tests.helpers import make_document, make_hit


async def _nothing() -> None:
    return None


def fire(
    db: Path, doc: dict[str, Any], wire: dict[str, Any], code: str = "TEST123", tag: str = "hook"
) -> tuple[Trial, list[Any]]:
    """One test fire on a real store; the trial and the outbox rows it committed."""

    async def go() -> tuple[Trial, list[Any]]:
        store = SQLiteStore(db)
        await store.open()
        writer = OutboxWriter(store, on_commit=lambda: None)
        writer.start()
        try:
            secrets = NodeSecrets(None, None, lambda name: None)
            runner = TrialRunner(builder(secrets, False), writer, _nothing)
            trial = await runner(doc, tag, wire, code)
            rows = await store.claim(100, 2**62)
            return trial, rows
        finally:
            await writer.stop()
            await store.close()

    return asyncio.run(go())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tagwire.db"


def test_the_tag_runs_whatever_its_triggers_say_and_its_request_carries_the_code(db):
    wire = make_hit(event="page_view")  # the tag fires on leads only
    trial, rows = fire(db, make_document(), wire)
    assert trial.triggers_fire is False
    assert (trial.allowed, trial.error, trial.queued) == (True, None, 1)
    assert trial.event_id.startswith(TEST_EVENT_PREFIX)
    [row] = rows
    body = orjson.loads(row.body)
    assert body["event_id"] == trial.event_id
    assert body["test_event_code"] == "TEST123"


def test_a_lead_fire_reports_its_triggers_and_takes_no_fire_once_key(db):
    doc = make_document(fire_once="lead_id")
    first, rows = fire(db, doc, make_hit())
    # the same lead id again: a key taken by the first would drop this one
    _, more = fire(db, doc, make_hit())
    assert first.triggers_fire is True
    assert len(rows) == 1
    assert len(more) == 1, "a test fire took the lead's fire-once key"


def test_consent_refused_runs_no_template_and_queues_nothing(db):
    wire = make_hit(consent={"ad_storage": "denied", "source": "api"})
    trial, rows = fire(db, make_document(), wire)
    assert (trial.allowed, trial.queued, rows) == (False, 0, [])
    assert "ad_storage" in trial.consent


def test_a_failing_template_is_reported_with_its_error(db):
    doc = make_document(template="broken", params={})
    doc["templates"] = [{"id": "broken", "lua": "fail('the pixel id is missing')",
                          "permissions": {}}]  # fmt: skip
    trial, rows = fire(db, doc, make_hit())
    assert rows == []
    assert trial.error is not None
    assert "the pixel id is missing" in trial.error


def test_plaintext_pii_in_the_sample_is_scrubbed_before_the_template_sees_it(db):
    wire = make_hit(custom={"note": "call jane.doe@example.org"})
    trial, rows = fire(db, make_document(), wire)  # the webhook posts `custom` as it is
    assert trial.queued == 1
    assert b"jane.doe@example.org" not in rows[0].body


@pytest.mark.parametrize(
    ("code", "wire", "tag", "field"),
    [
        ("", make_hit(), "hook", "test_code"),
        ("  ", make_hit(), "hook", "test_code"),
        ("x" * 101, make_hit(), "hook", "test_code"),
        ("TEST1", make_hit(event="Not An Event"), "hook", "sample.event"),
        ("TEST1", make_hit(user={"em": "jane@example.org"}), "hook", "sample.user.em"),
        ("TEST1", make_hit(), "nope", "tag"),
    ],
)
def test_bad_input_is_refused_naming_the_field(db, code, wire, tag, field):
    with pytest.raises(TrialRefused) as refused:
        fire(db, make_document(), wire, code, tag)
    assert refused.value.field == field


def test_a_workspace_that_would_not_publish_is_refused(db):
    doc = make_document()
    doc["tags"][0]["firing_triggers"] = ["no_such_trigger"]
    with pytest.raises(TrialRefused) as refused:
        fire(db, doc, make_hit())
    assert refused.value.field == "document"
    assert "no_such_trigger" in refused.value.reason

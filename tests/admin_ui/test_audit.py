"""The actor of a change, the audit log line, and the stored audit log as read back."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from admin_ui.audit import (
    AUDIT_LIMIT,
    Actor,
    actor_name,
    audit,
    audit_entries,
    audit_limit,
    audit_record,
    os_user,
)
from admin_ui.errors import FieldError
from tests.helpers import on_store


def test_actor_name_prefers_the_given_name_then_tagwire_actor_then_the_os_user():
    assert actor_name("ana", {"TAGWIRE_ACTOR": "ci-bot"}) == "ana"
    assert actor_name(None, {"TAGWIRE_ACTOR": "ci-bot"}) == "ci-bot"
    assert actor_name("", {"TAGWIRE_ACTOR": " ci-bot "}) == "ci-bot"
    assert actor_name(None, {}) == os_user()


@pytest.mark.parametrize("name", ["   ", "x" * 201])
def test_actor_name_must_be_1_to_200_characters(name):
    with pytest.raises(FieldError) as info:
        actor_name(name, {})
    assert info.value.field == "actor"


def test_audit_lines_are_written_whatever_the_root_level(caplog):
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # as TAGWIRE_LOG_LEVEL=error sets it
    try:
        audit(Actor("token:ops", "api"), "outbox release", {"rows": 2})
    finally:
        root.setLevel(level)
    [record] = [r for r in caplog.records if r.name == "tagwire.audit"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == "outbox release"
    assert record.fields == {"who": "token:ops", "via": "api", "action": "outbox release",
                             "rows": 2}  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("50", 50), (AUDIT_LIMIT, AUDIT_LIMIT)])
def test_audit_limit_takes_numbers_and_digits(value, expected):
    assert audit_limit(value) == expected


@pytest.mark.parametrize("value", [0, "0", AUDIT_LIMIT + 1, "ten", True, 2.0, "٣"])
def test_audit_limit_refuses_anything_else(value):
    with pytest.raises(FieldError, match=f"is not a number from 1 to {AUDIT_LIMIT}"):
        audit_limit(value)


def test_audit_entries_newest_first_per_container(tmp_path: Path):
    async def work(store):
        await store.add_audit("ana", "container.export", "shop", {"ref": "1"}, 1000)
        await store.add_audit("bo", "token.create", "blog", {"name": "cms"}, 2000)
        await store.add_audit("cy", "token.create", "*", {"name": "ops"}, 3000)
        return (
            await audit_entries(store, None, 2),
            await audit_entries(store, "shop", 10),
        )

    newest, shop = on_store(tmp_path / "tagwire.db", work)
    assert [e.actor for e in newest] == ["cy", "bo"]
    assert [audit_record(e) for e in shop] == [
        {"at_ms": 1000, "actor": "ana", "action": "container.export", "container": "shop",
         "detail": {"ref": "1"}},
    ]  # fmt: skip


def test_audit_entries_checks_the_limit(tmp_path: Path):
    with pytest.raises(FieldError):
        on_store(tmp_path / "tagwire.db", lambda store: audit_entries(store, None, 0))

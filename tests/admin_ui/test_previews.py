"""The preview actions without a web page: what a session copies, the input rules, the
audit trail, and the refusals for unknown or ended sessions."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from admin_ui.audit import Actor
from admin_ui.errors import ActionError, FieldError, NotFound, UnknownContainer
from admin_ui.previews import (
    PreviewActions,
    check_hours,
    check_source,
    check_test_code,
)
from admin_ui.versions import Versions
from config.signing import generate_keypair, load_private_key
from tests.helpers import make_document, on_store

NOW = 1_796_119_200_000
ANA = Actor("ana@agency.example", "test")


def clock() -> int:
    return NOW


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Container shop with version 1, and its workspace changed since."""
    path = tmp_path / "tagwire.db"
    signer = load_private_key(generate_keypair()[0])

    async def work(store):
        versions = Versions(store, signer=signer, clock=clock)
        await versions.import_document(make_document(), "ana", "shop.json")
        await versions.create_version("shop", "ana", "first")
        await versions.import_document(make_document("https://hooks.example.com/v2"), "bo", "x")

    on_store(path, work)
    return path


def hook_url(document: bytes) -> str:
    return orjson.loads(document)["tags"][0]["params"]["url"]


@pytest.mark.parametrize(("given", "hours"), [(1, 1), ("8", 8), (" 72 ", 72)])
def test_hours_are_whole_numbers_from_1_to_72(given, hours):
    assert check_hours(given) == hours


@pytest.mark.parametrize("given", [0, 73, "0", "73", "1.5", "", "eight", True, None, "9" * 30])
def test_other_hours_are_refused_by_name(given):
    with pytest.raises(FieldError) as refused:
        check_hours(given)
    assert refused.value.field == "hours"


@pytest.mark.parametrize(
    ("given", "label"), [("workspace", "workspace"), ("3", "v3"), ("v3", "v3"), (" 3 ", "v3")]
)
def test_a_source_is_the_workspace_or_a_version(given, label):
    assert check_source(given) == label


@pytest.mark.parametrize("given", ["", "v", "v0", "-1", "latest", "3.0"])
def test_other_sources_are_refused_by_name(given):
    with pytest.raises(FieldError) as refused:
        check_source(given)
    assert refused.value.field == "source"


def test_a_test_code_is_kept_only_in_test_mode():
    assert check_test_code("test", " TEST1 ") == "TEST1"
    assert check_test_code("dry_run", "TEST1") is None
    assert check_test_code("live", None) is None
    for bad in ("", "  ", "x" * 101, "TE\tST"):
        with pytest.raises(FieldError):
            check_test_code("test", bad)


def test_start_copies_the_document_and_is_audited(db):
    async def work(store):
        actions = PreviewActions(store, clock)
        workspace = await actions.start("shop", "workspace", "dry_run", "", ANA)
        version = await actions.start("shop", "1", "test", "TEST7", ANA, "2")
        return workspace, version, await store.audit_log("shop", 10)

    workspace, version, log = on_store(db, work)
    assert hook_url(workspace.document) == "https://hooks.example.com/v2"
    assert hook_url(version.document) != "https://hooks.example.com/v2"
    assert (version.source, version.mode, version.test_code) == ("v1", "test", "TEST7")
    assert workspace.expires_at_ms == NOW + 8 * 3_600_000
    assert version.expires_at_ms == NOW + 2 * 3_600_000
    assert workspace.id != version.id
    starts = [e for e in log if e.action == "preview.start"]
    assert [e.detail["preview"] for e in starts] == [version.id, workspace.id]
    assert starts[0].detail == {"via": "test", "preview": version.id, "source": "v1",
                                "mode": "test", "hours": 2}  # fmt: skip


def test_an_unknown_container_or_version_stores_nothing(db):
    async def work(store):
        actions = PreviewActions(store, clock)
        with pytest.raises(UnknownContainer):
            await actions.start("nope", "workspace", "dry_run", None, ANA)
        with pytest.raises(FieldError) as refused:
            await actions.start("shop", "9", "dry_run", None, ANA)
        assert refused.value.field == "source"
        return await store.list_previews(None, None)

    assert on_store(db, work) == []


def test_revoke_and_refresh_refuse_unknown_and_ended_sessions(db):
    async def work(store):
        actions = PreviewActions(store, clock)
        session = await actions.start("shop", "1", "live", None, ANA)
        refreshed = await actions.refresh(session.id, ANA)
        revoked = await actions.revoke(session.id, ANA)
        with pytest.raises(ActionError):
            await actions.revoke(session.id, ANA)
        with pytest.raises(ActionError):
            await actions.refresh(session.id, ANA)
        with pytest.raises(NotFound):
            await actions.revoke("no-such-session-id", ANA)
        return refreshed, revoked

    refreshed, revoked = on_store(db, work)
    assert (refreshed.source, refreshed.revision) == ("workspace", 2)
    assert hook_url(refreshed.document) == "https://hooks.example.com/v2"
    assert revoked.revoked_at_ms == NOW

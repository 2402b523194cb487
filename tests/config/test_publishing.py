import copy
from pathlib import Path

import orjson
import pytest

from config.errors import DocumentError
from config.publishing import ControlPlane, PublishError, check_env_name
from config.signing import generate_keypair, load_private_key, load_public_key
from config.sqlite_store import SQLiteStore
from config.storage import UnknownVersion, VersionArchived, VersionInUse
from config.versions import open_signed

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).parents[2] / "examples" / "container.json"
CID = "acme-shop"


@pytest.fixture
def doc():
    return orjson.loads(EXAMPLE.read_bytes())


@pytest.fixture
def keys():
    private_pem, public_pem = generate_keypair()
    return load_private_key(private_pem), load_public_key(public_pem)


@pytest.fixture
async def store(tmp_path):
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def control(store, keys):
    ticks = iter(range(1_000, 10**9, 1_000))
    return ControlPlane(store, signer=keys[0], clock=lambda: next(ticks))


def changed_trigger(doc):
    new = copy.deepcopy(doc)
    new["triggers"][0]["events"] = ["purchase", "refund"]
    return new


async def test_import_then_version_then_publish(control, store, doc, keys):
    imported = await control.import_document(doc, "ana", "shop.json")
    assert (imported.container_id, imported.changed) == (CID, True)
    v1 = await control.create_version(CID, "ana", "first")
    assert (v1.number, v1.parent, v1.author, v1.note) == (1, None, "ana", "first")
    record = open_signed(v1.body, v1.signature, v1.key_id, keys[1], container_id=CID, number=1)
    assert record.document == doc
    assert await control.publish(CID, 1, "live", "ana") is None
    assert await control.environment_version(CID, "live") == 1

    await control.import_document(changed_trigger(doc), "bo", "shop-v2.json")
    v2 = await control.create_version(CID, "bo", "refunds count too")
    assert (v2.number, v2.parent) == (2, 1)
    assert await control.publish(CID, 2, "live", "bo") == 1
    actions = [e.action for e in await store.audit_log(CID, 50)]
    assert actions == [
        "environment.publish",
        "version.create",
        "workspace.import",
        "environment.publish",
        "version.create",
        "workspace.import",
    ]


async def test_reimporting_the_same_document_changes_nothing(control, store, doc):
    await control.import_document(doc, "ana")
    again = await control.import_document(copy.deepcopy(doc), "ana")
    assert again.changed is False
    assert len(await store.audit_log(CID, 50)) == 1


async def test_invalid_import_lists_json_paths_and_keeps_the_workspace(control, store, doc):
    await control.import_document(doc, "ana")
    before = await store.get_workspace(CID)
    bad = copy.deepcopy(doc)
    bad["tags"][0]["firing_triggers"] = ["no-such-trigger"]
    del bad["triggers"][1]["events"]
    with pytest.raises(DocumentError) as caught:
        await control.import_document(bad, "eve", "bad.json")
    paths = [issue.path for issue in caught.value.issues]
    assert "tags[0].firing_triggers[0]" in paths
    assert any(path.startswith("triggers[1]") for path in paths)
    assert await store.get_workspace(CID) == before
    assert len(await store.audit_log(CID, 50)) == 1


async def test_lua_that_does_not_compile_is_refused_at_import(control, store, doc):
    bad = copy.deepcopy(doc)
    bad["templates"][0]["lua"] = "return function(  -- unterminated"
    with pytest.raises(DocumentError) as caught:
        await control.import_document(bad, "eve")
    assert [issue.path for issue in caught.value.issues] == ["templates[0].lua"]
    assert await store.get_workspace(CID) is None


async def test_a_value_with_no_canonical_form_is_refused_with_its_path(control, doc):
    bad = copy.deepcopy(doc)
    bad.setdefault("variables", []).append(
        {"id": "big", "name": "Big", "type": "constant", "params": {"value": 2**53 + 1}}
    )
    with pytest.raises(DocumentError) as caught:
        await control.import_document(bad, "eve")
    index = len(bad["variables"]) - 1
    assert caught.value.issues[0].path == f"variables[{index}].params.value"


async def test_a_version_needs_a_change_and_a_key(control, store, doc):
    with pytest.raises(PublishError, match="no workspace"):
        await control.create_version(CID, "ana", "nothing yet")
    await control.import_document(doc, "ana")
    await control.create_version(CID, "ana", "first")
    with pytest.raises(PublishError, match="same as version 1"):
        await control.create_version(CID, "ana", "again")
    unsigned = ControlPlane(store)
    await unsigned.import_document(changed_trigger(doc), "ana")
    with pytest.raises(PublishError, match="TAGWIRE_SIGNING_KEY_FILE"):
        await unsigned.create_version(CID, "ana", "no key")
    assert [v.number for v in await store.list_versions(CID, True)] == [1]


async def test_rollback_points_back_at_the_same_signed_bytes(control, store, doc):
    await control.import_document(doc, "ana")
    v1 = await control.create_version(CID, "ana", "first")
    await control.publish(CID, 1, "live", "ana")
    await control.import_document(changed_trigger(doc), "ana")
    await control.create_version(CID, "ana", "second")
    await control.publish(CID, 2, "live", "ana")
    assert await control.rollback(CID, "live", 1, "ana") == 2
    assert await control.environment_version(CID, "live") == 1
    live = await store.get_version(CID, await control.environment_version(CID, "live"))
    assert (live.body, live.signature) == (v1.body, v1.signature)
    assert (await store.audit_log(CID, 1))[0].action == "environment.rollback"
    with pytest.raises(PublishError, match="already runs version 1"):
        await control.rollback(CID, "live", 1, "ana")
    with pytest.raises(PublishError, match="no environment 'staging'"):
        await control.rollback(CID, "staging", 1, "ana")


async def test_publish_refuses_unknown_and_archived_versions(control, store, doc):
    await control.import_document(doc, "ana")
    await control.create_version(CID, "ana", "first")
    await control.import_document(changed_trigger(doc), "ana")
    await control.create_version(CID, "ana", "second")
    await control.publish(CID, 2, "live", "ana")
    with pytest.raises(UnknownVersion):
        await control.publish(CID, 9, "live", "ana")
    with pytest.raises(VersionInUse):
        await control.archive(CID, 2, "ana")
    await control.archive(CID, 1, "ana")
    with pytest.raises(VersionArchived):
        await control.publish(CID, 1, "staging", "ana")
    assert await control.environment_version(CID, "staging") is None


async def test_environments_are_independent(control, doc):
    await control.import_document(doc, "ana")
    await control.create_version(CID, "ana", "first")
    await control.import_document(changed_trigger(doc), "ana")
    await control.create_version(CID, "ana", "second")
    await control.publish(CID, 1, "live", "ana")
    await control.publish(CID, 2, "staging", "ana")
    assert await control.document(CID, "live") == doc
    assert await control.document(CID, "staging") == changed_trigger(doc)
    assert await control.document(CID, "1") == doc
    assert await control.document(CID, "workspace") == changed_trigger(doc)


async def test_document_refs_that_do_not_exist_say_so(control, doc):
    await control.import_document(doc, "ana")
    with pytest.raises(PublishError, match="no version 4"):
        await control.document(CID, "4")
    with pytest.raises(PublishError, match="no environment 'live'"):
        await control.document(CID, "live")
    with pytest.raises(PublishError, match="not a valid name"):
        await control.document(CID, "Live!")


async def test_export_is_audited(control, store, doc):
    await control.import_document(doc, "ana")
    assert await control.export(CID, "workspace", "auditor") == doc
    entry = (await store.audit_log(CID, 1))[0]
    assert (entry.actor, entry.action, entry.detail) == ("auditor", "container.export",
                                                          {"ref": "workspace"})  # fmt: skip


@pytest.mark.parametrize("name", ["live", "staging", "pr-12", "a", "x" * 40])
def test_environment_names(name):
    assert check_env_name(name) == name


@pytest.mark.parametrize("name", ["", "Live", "-x", "pr_12", "x" * 41, "a b", "ä"])
def test_bad_environment_names(name):
    with pytest.raises(PublishError, match="not a valid name"):
        check_env_name(name)


async def test_a_change_python_calls_equal_is_still_a_change(control, store, doc):
    """1, 1.0 and true are equal in Python, not in a trigger condition."""
    doc["triggers"][0]["conditions"] = {"all": [{"var": "data.value", "op": "equals",
                                                 "value": 1}]}  # fmt: skip
    await control.import_document(doc, "ana")
    await control.create_version(CID, "ana", "first")
    changed = copy.deepcopy(doc)
    changed["triggers"][0]["conditions"]["all"][0]["value"] = True
    assert (await control.import_document(changed, "ana")).changed is True
    assert (await control.create_version(CID, "ana", "true, not 1")).number == 2


@pytest.mark.parametrize("number", [0, -1, 2**53 + 1, True, "²", "1e3", "99999999999999999999"])
async def test_version_numbers_out_of_range_are_refused(control, doc, number):
    await control.import_document(doc, "ana")
    await control.create_version(CID, "ana", "first")
    with pytest.raises(PublishError, match="not a version number"):
        await control.publish(CID, number, "live", "ana")
    if isinstance(number, str):
        with pytest.raises(PublishError):
            await control.document(CID, number)


async def test_an_empty_note_is_refused(control, doc):
    await control.import_document(doc, "ana")
    with pytest.raises(PublishError, match="--note"):
        await control.create_version(CID, "ana", "  ")


async def test_unpublish_deletes_a_named_environment_but_never_live(control, store, doc):
    await control.import_document(doc, "ana")
    await control.create_version(CID, "ana", "first")
    await control.publish(CID, 1, "live", "ana")
    await control.publish(CID, 1, "pr-12", "ana")
    with pytest.raises(VersionInUse):
        await control.archive(CID, 1, "ana")
    assert await control.unpublish(CID, "pr-12", "ana") == 1
    assert await control.environment_version(CID, "pr-12") is None
    assert (await store.audit_log(CID, 1))[0].action == "environment.delete"
    with pytest.raises(PublishError, match="no environment 'pr-12'"):
        await control.unpublish(CID, "pr-12", "ana")
    with pytest.raises(PublishError, match="live environment cannot be unpublished"):
        await control.unpublish(CID, "live", "ana")
    assert await control.environment_version(CID, "live") == 1

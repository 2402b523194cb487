import pytest

from config.storage import (
    AuditEntry,
    Environment,
    StorageError,
    UnknownVersion,
    VersionArchived,
    VersionConflict,
    VersionInUse,
    Workspace,
)
from tests.config.store.support import actions, query, secret, version

pytestmark = pytest.mark.anyio


async def test_a_workspace_is_upserted_and_each_import_audited(store):
    assert await store.get_workspace("demo") is None
    await store.save_workspace("demo", b'{"a":1}', "ana", 1000, {"source": "demo.yaml"})
    await store.save_workspace("demo", b'{"a":2}', "bo", 2000, {"source": "demo-2.yaml"})
    assert await store.get_workspace("demo") == Workspace("demo", b'{"a":2}', 2000, "bo")
    log = await store.audit_log("demo", 10)
    assert [(e.at_ms, e.actor, e.action, e.detail) for e in log] == [
        (2000, "bo", "workspace.import", {"source": "demo-2.yaml"}),
        (1000, "ana", "workspace.import", {"source": "demo.yaml"}),
    ]


async def test_versions_are_read_back_newest_first(store):
    for number in (1, 2, 3):
        await store.insert_version(version(number, parent=number - 1 or None), "ana")
    await store.insert_version(version(1, container="other"), "bo")
    assert await store.get_version("demo", 2) == version(2, parent=1)
    assert await store.get_version("demo", 4) is None
    assert await store.get_version("nobody", 1) is None
    assert await store.latest_version("demo") == version(3, parent=2)
    assert await store.latest_version("nobody") is None
    listed = await store.list_versions("demo", include_archived=False)
    assert [v.number for v in listed] == [3, 2, 1]
    assert await store.list_versions("nobody", include_archived=True) == []


async def test_a_created_version_is_audited_at_its_creation_time(store):
    await store.insert_version(version(1), "ana")
    await store.insert_version(version(2, parent=1, note="adds GA4"), "bo")
    assert await store.audit_log("demo", 10) == [
        AuditEntry(2, 1002, "bo", "version.create", "demo",
                   {"number": 2, "parent": 1, "note": "adds GA4", "key_id": "k1"}),
        AuditEntry(1, 1001, "ana", "version.create", "demo",
                   {"number": 1, "parent": None, "note": "v1", "key_id": "k1"}),
    ]  # fmt: skip


async def test_a_taken_number_conflicts_and_changes_nothing(store):
    await store.insert_version(version(1), "ana")
    with pytest.raises(VersionConflict, match=r"version 1 of container 'demo' already exists"):
        await store.insert_version(version(1, note="second try"), "bo")
    assert await store.get_version("demo", 1) == version(1)
    assert len(await store.audit_log(None, 10)) == 1


async def test_a_version_breaking_a_constraint_is_a_storage_error_not_a_conflict(store):
    with pytest.raises(StorageError) as caught:
        await store.insert_version(version(2, parent=2), "ana")
    assert not isinstance(caught.value, VersionConflict)
    assert await store.latest_version("demo") is None
    assert await store.audit_log(None, 10) == []


async def test_archiving_hides_a_version_from_the_default_list_once(store):
    await store.insert_version(version(1), "ana")
    await store.insert_version(version(2, parent=1), "ana")
    await store.archive_version("demo", 1, "bo", 5000)
    await store.archive_version("demo", 1, "cy", 6000)
    assert (await store.get_version("demo", 1)).archived_at_ms == 5000
    assert [v.number for v in await store.list_versions("demo", include_archived=False)] == [2]
    assert [v.number for v in await store.list_versions("demo", include_archived=True)] == [2, 1]
    assert (await store.latest_version("demo")).number == 2
    log = await store.audit_log("demo", 10)
    assert [(e.actor, e.action, e.detail) for e in log if e.action == "version.archive"] == [
        ("bo", "version.archive", {"number": 1})
    ]


async def test_the_latest_version_may_be_archived(store):
    await store.insert_version(version(1), "ana")
    await store.archive_version("demo", 1, "ana", 5000)
    assert (await store.latest_version("demo")).number == 1


async def test_archiving_an_unknown_version_is_refused(store):
    await store.insert_version(version(1), "ana")
    with pytest.raises(UnknownVersion, match=r"version 7 of container 'demo' does not exist"):
        await store.archive_version("demo", 7, "ana", 5000)
    with pytest.raises(UnknownVersion, match=r"`tagwire versions other` lists them"):
        await store.archive_version("other", 1, "ana", 5000)


async def test_archiving_a_version_in_use_names_its_environments(store):
    await store.insert_version(version(1), "ana")
    await store.set_environment("demo", "staging", 1, "publish", "ana", 2000)
    await store.set_environment("demo", "live", 1, "publish", "ana", 2001)
    with pytest.raises(VersionInUse, match=r"environment 'live', 'staging'; publish another"):
        await store.archive_version("demo", 1, "ana", 5000)
    assert (await store.get_version("demo", 1)).archived_at_ms is None
    assert [e.action for e in await store.audit_log("demo", 10)] == [
        "environment.publish",
        "environment.publish",
        "version.create",
    ]


async def test_publish_then_rollback_returns_the_previous_version(store):
    for number in (1, 2):
        await store.insert_version(version(number, parent=number - 1 or None), "ana")
    assert await store.set_environment("demo", "live", 1, "publish", "ana", 2000) is None
    assert await store.set_environment("demo", "live", 2, "publish", "bo", 3000) == 1
    assert await store.set_environment("demo", "live", 1, "rollback", "cy", 4000) == 2
    assert await store.list_environments("demo") == [Environment("demo", "live", 1, 4000, "cy")]
    log = [e for e in await store.audit_log("demo", 10) if e.action.startswith("environment.")]
    assert [(e.at_ms, e.actor, e.action, e.detail) for e in log] == [
        (4000, "cy", "environment.rollback", {"env": "live", "version": 1, "previous": 2}),
        (3000, "bo", "environment.publish", {"env": "live", "version": 2, "previous": 1}),
        (2000, "ana", "environment.publish", {"env": "live", "version": 1, "previous": None}),
    ]


async def test_refused_pointer_moves_change_nothing_and_audit_nothing(store):
    await store.insert_version(version(1), "ana")
    await store.insert_version(version(2, parent=1), "ana")
    await store.set_environment("demo", "live", 2, "publish", "ana", 2000)
    await store.archive_version("demo", 1, "ana", 3000)
    before = query(store, "SELECT * FROM audit ORDER BY id")
    with pytest.raises(UnknownVersion, match=r"version 9 of container 'demo' does not exist"):
        await store.set_environment("demo", "live", 9, "publish", "bo", 4000)
    with pytest.raises(VersionArchived, match=r"version 1 of container 'demo' is archived"):
        await store.set_environment("demo", "live", 1, "rollback", "bo", 4000)
    with pytest.raises(VersionArchived, match=r"environment 'staging'"):
        await store.set_environment("demo", "staging", 1, "publish", "bo", 4000)
    with pytest.raises(ValueError, match=r"publish, rollback; not 'promote'"):
        await store.set_environment("demo", "live", 2, "promote", "bo", 4000)
    assert await store.list_environments(None) == [Environment("demo", "live", 2, 2000, "ana")]
    assert query(store, "SELECT * FROM audit ORDER BY id") == before


async def test_an_environment_name_outside_the_rules_is_refused(store):
    await store.insert_version(version(1), "ana")
    for name in ("Live", "-live", "a" * 41, "pr_12", ""):
        with pytest.raises(StorageError):
            await store.set_environment("demo", name, 1, "publish", "ana", 2000)
    await store.set_environment("demo", "pr-12", 1, "publish", "ana", 2000)
    assert [env.name for env in await store.list_environments("demo")] == ["pr-12"]
    assert len(await store.audit_log("demo", 10)) == 2


async def test_environments_are_listed_by_container_and_name(store):
    await store.insert_version(version(1, container="b"), "ana")
    await store.insert_version(version(1, container="a"), "ana")
    await store.set_environment("b", "live", 1, "publish", "ana", 1)
    await store.set_environment("a", "staging", 1, "publish", "ana", 2)
    await store.set_environment("a", "live", 1, "publish", "ana", 3)
    assert [(e.container_id, e.name) for e in await store.list_environments(None)] == [
        ("a", "live"),
        ("a", "staging"),
        ("b", "live"),
    ]
    assert [e.name for e in await store.list_environments("a")] == ["live", "staging"]


async def test_deleting_an_environment_frees_its_version(store):
    await store.insert_version(version(1), "ana")
    await store.set_environment("demo", "staging", 1, "publish", "ana", 2000)
    assert await store.delete_environment("demo", "staging", "bo", 3000) is True
    assert await store.delete_environment("demo", "staging", "bo", 3001) is False
    assert await store.list_environments("demo") == []
    await store.archive_version("demo", 1, "bo", 4000)
    assert actions(await store.audit_log("demo", 2)) == [
        ("version.archive", "demo", {"number": 1}),
        ("environment.delete", "demo", {"env": "staging", "version": 1}),
    ]
    assert len(await store.audit_log("demo", 10)) == 4


async def test_containers_are_those_with_a_workspace_or_a_version(store):
    assert await store.list_containers() == []
    await store.save_workspace("shop", b"{}", "ana", 1, {})
    await store.insert_version(version(1, container="blog"), "ana")
    await store.insert_version(version(1, container="shop"), "ana")
    await store.put_secret(secret(container="secrets-only"))
    await store.add_audit("ana", "container.export", "audit-only", {}, 2)
    assert await store.list_containers() == ["blog", "shop"]

import pytest

from tests.config.store.support import actions

pytestmark = pytest.mark.anyio


async def test_added_audit_rows_are_read_newest_first_per_container(store):
    await store.add_audit("ana", "container.export", "demo", {"format": "yaml"}, 1000)
    await store.add_audit("bo", "keys.rotate", None, {}, 900)
    await store.add_audit("cy", "container.export", "other", {"format": "json"}, 1100)
    assert actions(await store.audit_log(None, 10)) == [
        ("container.export", "other", {"format": "json"}),
        ("keys.rotate", None, {}),
        ("container.export", "demo", {"format": "yaml"}),
    ]
    assert actions(await store.audit_log(None, 1)) == [
        ("container.export", "other", {"format": "json"})
    ]
    assert [e.actor for e in await store.audit_log("demo", 10)] == ["ana"]


async def test_a_detail_comes_back_with_its_keys_in_the_order_they_were_written(store):
    await store.add_audit("ana", "container.export", "shop", {"zeta": 1, "a": [2, None]}, 1)
    (entry,) = await store.audit_log(None, 10)
    assert list(entry.detail.items()) == [("zeta", 1), ("a", [2, None])]

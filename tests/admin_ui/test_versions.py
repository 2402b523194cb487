"""The lifecycle actions: ControlPlane's rules behind one check that the container is
in the store, and the listing every front end shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin_ui.errors import UnknownContainer
from admin_ui.versions import Versions, listing_record
from config.publishing import PublishError
from config.signing import generate_keypair, load_private_key
from tests.helpers import make_document, on_store


def clock() -> int:
    return 1_796_119_200_000


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Container shop with versions 1 and 2 (1 runs live), and its workspace at 2."""
    path = tmp_path / "tagwire.db"
    signer = load_private_key(generate_keypair()[0])

    async def work(store):
        versions = Versions(store, signer=signer, clock=clock)
        await versions.import_document(make_document(), "ana", "shop.json")
        await versions.create_version("shop", "ana", "first")
        await versions.import_document(make_document("https://hooks.example.com/v2"), "bo", "x")
        await versions.create_version("shop", "bo", "second")
        await versions.publish("shop", 1, "live", "cy")

    on_store(path, work)
    return path


def test_listing_shows_versions_newest_first_with_their_environments(db):
    listing = on_store(db, lambda store: Versions(store).listing("shop", False))
    assert [v.number for v in listing.versions] == [2, 1]
    assert listing.environments_of(1) == ["live"]
    assert listing.environments_of(2) == []
    record = listing_record(listing)
    assert record["container"] == "shop"
    assert record["environments"] == {"live": 1}
    assert [(v["number"], v["parent"], v["author"], v["note"], v["environments"])
            for v in record["versions"]] == [
        (2, 1, "bo", "second", []), (1, None, "ana", "first", ["live"]),
    ]  # fmt: skip
    assert set(record["versions"][0]) == {"number", "parent", "author", "note",
                                          "created_at_ms", "key_id", "archived_at_ms",
                                          "environments"}  # fmt: skip


@pytest.mark.parametrize(
    "action",
    [
        lambda v: v.listing("shpo", False),
        lambda v: v.export("shpo", "workspace", "ana"),
        lambda v: v.document("shpo", "1"),
        lambda v: v.create_version("shpo", "ana", "note"),
        lambda v: v.publish("shpo", 1, "live", "ana"),
        lambda v: v.rollback("shpo", "live", 1, "ana"),
        lambda v: v.unpublish("shpo", "pr-1", "ana"),
        lambda v: v.archive("shpo", 1, "ana"),
    ],
)
def test_every_action_on_an_unknown_container_refuses_it_alike(db, action):
    before = on_store(db, lambda store: store.audit_log(None, 100))
    with pytest.raises(UnknownContainer) as info:
        on_store(db, lambda store: action(Versions(store)))
    assert str(info.value).startswith("container 'shpo' is not in the store (it holds shop)")
    assert on_store(db, lambda store: store.audit_log(None, 100)) == before


def test_import_is_how_a_container_begins(db):
    doc = make_document()
    doc["container"]["id"] = "blog"
    imported = on_store(db, lambda store: Versions(store).import_document(doc, "ana", "b.json"))
    assert (imported.container_id, imported.changed) == ("blog", True)
    listing = on_store(db, lambda store: Versions(store).listing("blog", False))
    assert listing.versions == []


def test_the_control_planes_own_refusals_come_through(db):
    with pytest.raises(PublishError, match="already runs version 1"):
        on_store(db, lambda store: Versions(store).rollback("shop", "live", 1, "ana"))
    with pytest.raises(PublishError, match="no signing key"):
        on_store(db, lambda store: Versions(store).create_version("shop", "ana", "x"))


def test_actions_delegate_to_the_control_plane(db):
    async def work(store):
        versions = Versions(store, clock=clock)
        previous = await versions.publish("shop", 2, "live", "dee")
        back = await versions.rollback("shop", "live", 1, "eve")
        await versions.publish("shop", 2, "pr-1", "fay")
        ran = await versions.unpublish("shop", "pr-1", "gus")
        exported = await versions.export("shop", "live", "hal")
        return previous, back, ran, exported, await store.audit_log("shop", 1)

    previous, back, ran, exported, [entry] = on_store(db, work)
    assert (previous, back, ran) == (1, 2, 2)
    assert exported == make_document()
    assert (entry.action, entry.actor, entry.at_ms) == ("container.export", "hal", clock())

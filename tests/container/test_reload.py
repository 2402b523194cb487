import logging
import sqlite3

import pytest

from config.publishing import ControlPlane
from config.secret_box import SecretBox, generate_key
from config.signing import generate_keypair, load_private_key, load_public_key
from config.sqlite_store import SQLiteStore
from config.storage import StoredSecret, StoredVersion
from config.versions import VersionRecord, seal
from container.containers import ContainerSet
from container.node_secrets import NodeSecrets
from container.pipeline import PipelineResult
from container.reload import CONFIG_REFUSED, ConfigWatcher, builder
from tags.errors import TemplateError
from tests.helpers import make_document, make_hit
from variables.hit import Hit

pytestmark = pytest.mark.anyio


def keypair():
    private_pem, public_pem = generate_keypair()
    return load_private_key(private_pem), load_public_key(public_pem)


@pytest.fixture
def keys():
    return keypair()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "tagwire.db"


@pytest.fixture
async def store(db):
    store = SQLiteStore(db)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def control(store, keys):
    return ControlPlane(store, signer=keys[0])


def keyed(secrets):
    secrets.use_key(bytes(range(32)))
    return secrets


def watcher(store, keys, containers, **kwargs):
    secrets = kwargs.pop("secrets", None) or keyed(NodeSecrets(store, None, lambda name: None))
    build = kwargs.pop("build", None) or builder(secrets, allow_http_loopback=False)
    return ConfigWatcher(store, containers, keys[1], build, interval_s=1.0, secrets=secrets,
                         **kwargs)  # fmt: skip


async def version(control, doc, note):
    await control.import_document(doc, "ana")
    return (await control.create_version("shop", "ana", note)).number


def hit(event="lead", event_id="0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10"):
    wire = make_hit(event=event, event_id=event_id)
    return Hit("shop", wire["event"], wire["event_id"], wire, 1, 2, "203.0.113.5", "ua", None,
               False, "t", {}, [])  # fmt: skip


def rows(container, h):
    result = PipelineResult()
    container.run(h, result)
    return result.rows


def refused(reason, env="live"):
    return CONFIG_REFUSED.labels("shop", env, reason)._value.get()


async def test_a_published_version_is_served_and_a_new_one_swapped_in(control, store, keys):
    v1 = await version(control, make_document(), "first")
    await control.publish("shop", v1, "live", "ana")
    containers = ContainerSet()
    node = watcher(store, keys, containers)
    await node.sync()
    first = containers.get("shop")
    assert (first.version, first.env) == (1, "live")
    assert len(rows(first, hit())) == 1

    v2 = await version(control, make_document(firing_triggers=["tests"]), "tests only")
    await control.publish("shop", v2, "live", "ana")
    await node.sync()
    second = containers.get("shop")
    assert second.version == 2
    assert rows(second, hit()) == []
    assert len(rows(second, hit(event="test_lead"))) == 1
    assert len(rows(first, hit())) == 1  # a hit holding the old version finishes on it


async def test_rollback_restores_byte_identical_behaviour(control, store, keys):
    await control.publish("shop", await version(control, make_document(), "first"), "live", "a")
    containers = ContainerSet()
    node = watcher(store, keys, containers)
    await node.sync()
    before = [rows(containers.get("shop"), hit(e)) for e in ("lead", "test_lead", "purchase")]
    doc = make_document("https://hooks.example.com/v2", firing_triggers=["everything"])
    await control.publish("shop", await version(control, doc, "second"), "live", "a")
    await node.sync()
    during = [rows(containers.get("shop"), hit(e)) for e in ("lead", "test_lead", "purchase")]
    assert during != before
    await control.rollback("shop", "live", 1, "a")
    await node.sync()
    assert containers.get("shop").version == 1
    after = [rows(containers.get("shop"), hit(e)) for e in ("lead", "test_lead", "purchase")]
    assert after == before


def flip(db, column, number, position):
    conn = sqlite3.connect(db)
    try:
        (value,) = conn.execute(
            f"SELECT {column} FROM versions WHERE container_id = 'shop' AND number = ?",
            (number,),
        ).fetchone()
        data = bytearray(value.encode() if isinstance(value, str) else value)
        data[position] ^= 0x01
        changed = data.decode() if isinstance(value, str) else bytes(data)
        conn.execute(
            f"UPDATE versions SET {column} = ? WHERE container_id = 'shop' AND number = ?",
            (changed, number),
        )
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("column", "position", "reasons"),
    [
        ("body", 40, {"bad_signature", "malformed"}),
        ("body", -3, {"bad_signature", "malformed"}),
        ("signature", 5, {"bad_signature"}),
    ],
)
async def test_a_tampered_version_is_refused_and_the_old_one_kept(
    control, store, keys, db, caplog, column, position, reasons
):
    await control.publish("shop", await version(control, make_document(), "first"), "live", "a")
    containers = ContainerSet()
    node = watcher(store, keys, containers)
    await node.sync()
    v2 = await version(control, make_document(firing_triggers=["everything"]), "second")
    flip(db, column, v2, position)
    counts = {reason: refused(reason) for reason in reasons}
    await control.publish("shop", v2, "live", "a")
    with caplog.at_level(logging.ERROR, logger="tagwire.reload"):
        await node.sync()
        await node.sync()  # refused once, not again on every check
    assert containers.get("shop").version == 1
    assert sum(refused(r) - counts[r] for r in reasons) == 1
    (record,) = [
        r for r in caplog.records if r.name == "tagwire.reload" and r.levelno >= logging.ERROR
    ]
    assert record.fields["version"] == 2
    assert record.fields["serving"] == 1
    assert record.fields["reason"] in reasons


async def test_a_version_signed_by_another_key_is_never_served(control, store, keys):
    await control.publish("shop", await version(control, make_document(), "first"), "live", "a")
    containers = ContainerSet()
    stranger = keypair()
    before = refused("unknown_key")
    await watcher(store, stranger, containers).sync()
    assert containers.get("shop") is None
    assert refused("unknown_key") == before + 1


async def test_a_version_that_does_not_compile_is_refused(control, store, keys):
    await control.publish("shop", await version(control, make_document(), "first"), "live", "a")
    containers = ContainerSet()
    secrets = keyed(NodeSecrets(store, None, lambda name: None))
    good = builder(secrets, allow_http_loopback=False)

    def build(record, env):
        if record.number == 2:
            raise TemplateError("syntax", "this node cannot compile version 2")
        return good(record, env)

    node = watcher(store, keys, containers, build=build, secrets=secrets)
    await node.sync()
    v2 = await version(control, make_document(firing_triggers=["everything"]), "second")
    before = refused("compile")
    await control.publish("shop", v2, "live", "a")
    await node.sync()
    assert containers.get("shop").version == 1
    assert refused("compile") == before + 1
    await control.rollback("shop", "live", 1, "a")
    await control.publish("shop", v2, "staging", "a")
    await node.sync()
    assert containers.get("shop").version == 1
    assert containers.get("shop", "staging") is None


async def test_environments_and_the_node_filter(control, store, keys):
    await version(control, make_document(), "first")
    await version(control, make_document(firing_triggers=["everything"]), "second")
    await control.publish("shop", 1, "live", "a")
    await control.publish("shop", 2, "staging", "a")
    both = ContainerSet()
    await watcher(store, keys, both).sync()
    assert (both.get("shop").version, both.get("shop", "staging").version) == (1, 2)
    assert both.get("shop", "staging").env == "staging"
    only_live = ContainerSet()
    await watcher(store, keys, only_live, environments=("live",)).sync()
    assert only_live.get("shop").version == 1
    assert only_live.get("shop", "staging") is None


async def test_a_deleted_environment_stops_being_served(control, store, keys):
    await version(control, make_document(), "first")
    await control.publish("shop", 1, "staging", "a")
    containers = ContainerSet()
    node = watcher(store, keys, containers)
    await node.sync()
    assert containers.get("shop", "staging") is not None
    assert await store.delete_environment("shop", "staging", "a", 5)
    await node.sync()
    assert containers.get("shop", "staging") is None


async def test_secrets_rotate_without_a_new_version(store):
    box = SecretBox.from_text(generate_key())
    secrets = keyed(NodeSecrets(store, box, lambda name: {"fallback": "from-env"}.get(name)))

    async def put(value, at):
        nonce, ciphertext = box.seal("shop", "token", value)
        await store.put_secret(
            StoredSecret("shop", "token", nonce, ciphertext, box.key_id, at, "a")
        )

    lookup = secrets.lookup_for("shop")
    assert lookup("token") is None  # nothing stored yet: the tag fails, saying so
    await put("first-value", 1)
    await secrets.refresh()
    assert lookup("token").startswith("~tw-secret~shop~token~")  # templates get a reference
    assert secrets.value("shop", "token") == "first-value"
    assert secrets.value("other", "token") is None
    assert secrets.lookup_for("other")("token") is None
    await put("second-value", 2)
    await secrets.refresh()
    assert secrets.value("shop", "token") == "second-value"
    assert secrets.value("shop", "fallback") == "from-env"
    assert lookup("fallback").startswith("~tw-secret~shop~fallback~")
    await store.delete_secret("shop", "token", "a", 3)
    await secrets.refresh()
    assert lookup("token") is None
    assert secrets.value("shop", "token") is None


async def test_a_secret_under_another_key_is_logged_by_name_not_value(store, caplog):
    other = SecretBox.from_text(generate_key())
    nonce, ciphertext = other.seal("shop", "token", "s3cr3t-value")
    await store.put_secret(StoredSecret("shop", "token", nonce, ciphertext, other.key_id, 1, "a"))
    # The environment has another token of that name: an unreadable stored secret must
    # not be replaced by it.
    fallback = {"token": "env-token"}.get
    secrets = keyed(NodeSecrets(store, SecretBox.from_text(generate_key()), fallback))
    with caplog.at_level(logging.ERROR, logger="tagwire.secrets"):
        await secrets.refresh()
    assert secrets.value("shop", "token") is None
    assert secrets.lookup_for("shop")("token") is None
    assert secrets.value("other", "token") == "env-token"
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.fields["secret"] == "token"
    assert "s3cr3t-value" not in caplog.text


async def test_a_signed_document_of_another_container_is_refused(control, store, keys):
    await control.publish("shop", await version(control, make_document(), "first"), "live", "a")
    containers = ContainerSet()
    node = watcher(store, keys, containers)
    await node.sync()
    other = make_document()
    other["container"]["id"] = "other"
    record = VersionRecord("shop", 2, 1, "mallory", "looks like shop", 5, other)
    signed = seal(record, keys[0])
    await store.insert_version(
        StoredVersion("shop", 2, 1, "mallory", "looks like shop", 5, signed.body,
                      signed.signature, signed.key_id, None),
        "mallory",
    )  # fmt: skip
    before = refused("mismatch")
    await control.publish("shop", 2, "live", "a")
    await node.sync()
    assert containers.get("shop").version == 1
    assert refused("mismatch") == before + 1


async def test_a_live_environment_that_vanishes_keeps_being_served(
    control, store, keys, db, caplog
):
    await version(control, make_document(), "first")
    await control.publish("shop", 1, "live", "a")
    await control.publish("shop", 1, "staging", "a")
    containers = ContainerSet()
    node = watcher(store, keys, containers)
    await node.sync()
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM environments")  # not possible through tagwire: live only moves
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING, logger="tagwire.reload"):
        await node.sync()
        await node.sync()
    assert containers.get("shop").version == 1
    assert containers.get("shop", "staging") is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1  # said once, not at every check
    assert "no longer lists a live environment" in errors[0]
    await control.publish("shop", 1, "live", "a")
    await node.sync()
    assert containers.get("shop").version == 1

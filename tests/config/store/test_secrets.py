import base64

import pytest

from config.storage import StorageError, StoredSecret
from tests.config.store.support import query, secret, twin

pytestmark = pytest.mark.anyio


async def test_secrets_are_upserted_listed_and_deleted(store):
    await store.put_secret(secret("api_key", ciphertext=b"A" * 20, at=1000, by="ana"))
    await store.put_secret(secret("api_key", ciphertext=b"B" * 24, at=2000, by="bo"))
    await store.put_secret(secret("pixel.id", at=2500))
    await store.put_secret(secret("token", container="other", at=2600))
    assert await store.list_secrets("demo") == [
        secret("api_key", ciphertext=b"B" * 24, at=2000, by="bo"),
        secret("pixel.id", at=2500),
    ]
    assert [(s.container_id, s.name) for s in await store.list_secrets(None)] == [
        ("demo", "api_key"),
        ("demo", "pixel.id"),
        ("other", "token"),
    ]
    assert await store.delete_secret("demo", "api_key", "cy", 3000) is True
    assert await store.delete_secret("demo", "api_key", "cy", 3001) is False
    assert [s.name for s in await store.list_secrets("demo")] == ["pixel.id"]
    log = await store.audit_log("demo", 10)
    assert [(e.at_ms, e.actor, e.action, e.detail) for e in log] == [
        (3000, "cy", "secret.delete", {"name": "api_key"}),
        (2500, "ana", "secret.set", {"name": "pixel.id", "key_id": "sk1"}),
        (2000, "bo", "secret.set", {"name": "api_key", "key_id": "sk1"}),
        (1000, "ana", "secret.set", {"name": "api_key", "key_id": "sk1"}),
    ]


async def test_the_audit_never_holds_a_secrets_value_or_ciphertext(store):
    value = b"PLAINTEXT-VALUE-7f3a9c"
    ciphertext = bytes(byte ^ 0x5A for byte in value) + b"\xa5" * 16
    await store.put_secret(secret("api_key", ciphertext=ciphertext))
    await store.delete_secret("demo", "api_key", "bo", 6000)
    await store.put_secret(secret("api_key", ciphertext=ciphertext, by="cy"))

    assert query(store, "SELECT ciphertext FROM secrets") == [(ciphertext,)]
    audit = query(store, "SELECT actor, action, container_id, detail FROM audit ORDER BY id")
    assert [row[1] for row in audit] == ["secret.set", "secret.delete", "secret.set"]
    flat = repr(audit).encode()
    for encoded in (value, ciphertext, ciphertext.hex().encode(), base64.b64encode(ciphertext),
                    base64.urlsafe_b64encode(ciphertext).rstrip(b"=")):  # fmt: skip
        assert encoded not in flat


async def test_a_malformed_secret_is_refused(store):
    with pytest.raises(StorageError):
        await store.put_secret(StoredSecret("demo", "x", b"short", b"A" * 16, "sk1", 1, "ana"))
    with pytest.raises(StorageError):
        await store.put_secret(StoredSecret("demo", "x", b"\x00" * 12, b"A" * 15, "sk1", 1, "ana"))
    assert await store.list_secrets(None) == []
    assert await store.audit_log(None, 10) == []


async def test_a_node_key_is_made_once_and_shared_by_every_process_on_the_store(store):
    key = await store.node_key("secret-references")
    assert len(key) == 32
    assert await store.node_key("secret-references") == key
    assert await store.node_key("other") != key
    other_process = twin(store)
    await other_process.open()
    assert await other_process.node_key("secret-references") == key
    await other_process.close()

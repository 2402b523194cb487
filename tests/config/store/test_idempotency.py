import pytest

from config.storage import IdempotentAnswer

pytestmark = pytest.mark.anyio


async def test_idempotent_answers_are_stored_replaced_and_expired(store):
    assert await store.idempotent_get("shop", "k1") is None
    await store.idempotent_put("shop", "k1", "fp1", 202, b'{"accepted":1}', 100)
    await store.idempotent_put("blog", "k1", "fp9", 400, b"{}", 300)
    assert await store.idempotent_get("shop", "k1") == IdempotentAnswer(
        "fp1", 202, b'{"accepted":1}', 100
    )
    await store.idempotent_put("shop", "k1", "fp2", 200, b"{}", 200)
    assert (await store.idempotent_get("shop", "k1")).fingerprint == "fp2"
    assert await store.expire_idempotency(200) == 0
    assert await store.expire_idempotency(201) == 1
    assert await store.idempotent_get("shop", "k1") is None
    assert await store.idempotent_get("blog", "k1") is not None

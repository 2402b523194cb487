import hashlib

import pytest

from config.storage import TokenNameTaken
from tests.config.store.support import query

pytestmark = pytest.mark.anyio


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


async def test_tokens_are_created_found_listed_and_touched(store):
    first = await store.create_token("shop", "crm", token_hash("tw_secret_one"), 10)
    second = await store.create_token("blog", "crm", token_hash("tw_secret_two"), 20)
    found = await store.find_token(token_hash("tw_secret_one"))
    assert (found.id, found.container_id, found.name, found.created_at) == (
        first,
        "shop",
        "crm",
        10,
    )
    assert found.last_used_at is None
    await store.touch_token(first, 30)
    assert (await store.find_token(token_hash("tw_secret_one"))).last_used_at == 30
    assert await store.find_token(token_hash("tw_wrong")) is None
    assert [t.id for t in await store.list_tokens(None)] == [second, first]
    assert [t.container_id for t in await store.list_tokens("shop")] == ["shop"]


async def test_a_revoked_token_is_marked_and_its_name_is_free_again(store):
    await store.create_token("shop", "crm", token_hash("tw_one"), 10)
    with pytest.raises(TokenNameTaken, match="already has a token named 'crm'; revoke it"):
        await store.create_token("shop", "crm", token_hash("tw_two"), 11)
    assert await store.revoke_token("shop", "crm", 12) is True
    assert await store.revoke_token("shop", "crm", 13) is False
    assert await store.revoke_token("blog", "crm", 13) is False
    assert (await store.find_token(token_hash("tw_one"))).revoked_at == 12
    replacement = await store.create_token("shop", "crm", token_hash("tw_two"), 14)
    tokens = await store.list_tokens("shop")
    assert [(t.revoked_at, t.id == replacement) for t in tokens] == [(12, False), (None, True)]


async def test_the_store_keeps_only_the_hash_of_a_token(store):
    plaintext = "tw_live_7f3a9c1e5b2d4f6a8c0e"
    await store.create_token("shop", "crm", token_hash(plaintext), 10)
    assert query(store, "SELECT container_id, name, token_hash FROM api_tokens") == [
        ("shop", "crm", token_hash(plaintext))]  # fmt: skip

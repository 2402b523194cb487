"""What the SQLite files hold of a token: its hash, never the token."""

import pytest

from config.sqlite_store import SQLiteStore
from tests.config.store.test_tokens import token_hash

pytestmark = pytest.mark.anyio


async def test_the_store_keeps_only_the_hash_of_a_token(tmp_path):
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    plaintext = "tw_live_7f3a9c1e5b2d4f6a8c0e"
    await store.create_token("shop", "crm", token_hash(plaintext), 10)
    await store.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("tagwire.db*") if p.is_file())
    assert token_hash(plaintext).encode() in stored
    assert plaintext.encode() not in stored

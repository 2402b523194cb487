"""The `store` every test here gets: a fresh SQLite file, and a fresh PostgreSQL store,
so each test runs against both backends."""

import pytest

from tests.config.store.support import fresh_store


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    store = await fresh_store(request, tmp_path)
    await store.open()
    yield store
    await store.close()

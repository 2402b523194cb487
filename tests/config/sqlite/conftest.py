import pytest

from config.sqlite_store import SQLiteStore


@pytest.fixture
async def store(tmp_path):
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    yield store
    await store.close()

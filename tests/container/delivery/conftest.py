"""The store every delivery test runs against: a real SQLite store in the test's folder."""

from pathlib import Path

import pytest

from config.sqlite_store import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path):
    store = SQLiteStore(tmp_path / "t.db")
    await store.open()
    yield store
    await store.close()

"""Which store the settings open: SQLite unless TAGWIRE_DATABASE_URL names PostgreSQL."""

from pathlib import Path

from config.postgres_store import PostgresStore
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from config.store_factory import make_store, store_location


def test_sqlite_is_the_default_in_the_data_dir():
    store = make_store(load_settings({"TAGWIRE_DATA_DIR": "/srv/tw"}))
    assert isinstance(store, SQLiteStore)
    assert store.path == Path("/srv/tw/tagwire.db")
    assert store_location(load_settings({"TAGWIRE_DATA_DIR": "/srv/tw"})) == "/srv/tw/tagwire.db"


def test_a_sqlite_url_names_the_file():
    store = make_store(load_settings({"TAGWIRE_DATABASE_URL": "sqlite:////var/tw.db"}))
    assert isinstance(store, SQLiteStore)
    assert store.path == Path("/var/tw.db")


def test_a_postgresql_url_opens_postgresql_with_the_pool_sizes_of_the_settings():
    url = "postgresql://tw:hunter2@127.0.0.1:5433/tagwire"
    settings = load_settings(
        {"TAGWIRE_DATABASE_URL": url, "TAGWIRE_DB_POOL_MIN": "3", "TAGWIRE_DB_POOL_MAX": "7"}
    )
    store = make_store(settings)
    assert isinstance(store, PostgresStore)
    assert (store.url, store.schema, store.min_size, store.max_size) == (url, None, 3, 7)
    assert store_location(settings) == "PostgreSQL 127.0.0.1:5433/tagwire"
    assert "hunter2" not in repr(settings)
    postgres = make_store(load_settings({"TAGWIRE_DATABASE_URL": "postgres://tw@127.0.0.1/t"}))
    assert isinstance(postgres, PostgresStore)

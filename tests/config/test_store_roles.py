"""Both stores are every role of `config.storage`: a method missing, or one whose
signature drifted from its protocol, fails here rather than in the caller that needs it."""

import inspect
from typing import Protocol

import pytest

from config.postgres_store import PostgresStore
from config.sqlite_store import SQLiteStore
from config.storage import Store

ROLES = [base for base in Store.__bases__ if base is not Protocol]
STORES = [SQLiteStore, PostgresStore]


def methods(role):
    return {name for name, value in vars(role).items() if inspect.iscoroutinefunction(value)}


def instance(backend, tmp_path):
    if backend is SQLiteStore:
        return SQLiteStore(tmp_path / "tagwire.db")
    return PostgresStore("postgresql://postgres@127.0.0.1:5432/test")


def test_store_is_the_union_of_roles_that_share_no_method():
    assert len(ROLES) == 14
    every = [name for role in ROLES for name in methods(role)]
    assert len(every) == len(set(every))
    assert set(every) == {name for name in dir(Store) if not name.startswith("_")}


@pytest.mark.parametrize("backend", STORES, ids=lambda backend: backend.__name__)
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.__name__)
def test_each_store_plays_every_role(role, backend, tmp_path):
    assert isinstance(instance(backend, tmp_path), role)
    for name in methods(role):
        implemented = getattr(backend, name)
        assert inspect.iscoroutinefunction(implemented), name
        assert inspect.signature(implemented) == inspect.signature(getattr(role, name)), name

"""`SQLiteStore` is every role of `config.storage`: a method missing, or one whose
signature drifted from its protocol, fails here rather than in the caller that needs it."""

import inspect
from typing import Protocol

import pytest

from config.sqlite_store import SQLiteStore
from config.storage import Store

ROLES = [base for base in Store.__bases__ if base is not Protocol]


def methods(role):
    return {name for name, value in vars(role).items() if inspect.iscoroutinefunction(value)}


def test_store_is_the_union_of_roles_that_share_no_method():
    assert len(ROLES) == 12
    every = [name for role in ROLES for name in methods(role)]
    assert len(every) == len(set(every))
    assert set(every) == {name for name in dir(Store) if not name.startswith("_")}


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.__name__)
def test_the_sqlite_store_plays_every_role(role, tmp_path):
    assert isinstance(SQLiteStore(tmp_path / "tagwire.db"), role)
    for name in methods(role):
        implemented = getattr(SQLiteStore, name)
        assert inspect.iscoroutinefunction(implemented), name
        assert inspect.signature(implemented) == inspect.signature(getattr(role, name)), name

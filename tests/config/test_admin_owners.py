"""Owners of admin tokens: `*` agency-wide, `*` and a client id for one client's."""

from __future__ import annotations

import pytest

from config.storage import TokenRecord
from config.tokens import (
    ADMIN_CONTAINER,
    admin_owner,
    is_admin_owner,
    owner_client,
    token_client,
)


def test_owners_of_admin_tokens() -> None:
    assert admin_owner(None) == ADMIN_CONTAINER == "*"
    assert admin_owner("acme") == "*acme"
    assert [is_admin_owner(owner) for owner in ("*", "*acme", "shop")] == [True, True, False]
    assert [owner_client(owner) for owner in ("*", "*acme", "shop")] == [None, "acme", None]


@pytest.mark.parametrize("client_id", ["", "*", "*acme"])
def test_an_empty_or_starred_client_makes_no_owner(client_id: str) -> None:
    """`admin_owner("")` would be the agency-wide owner: never by accident."""
    with pytest.raises(ValueError, match="is not a client id"):
        admin_owner(client_id)


def test_the_client_of_a_stored_token() -> None:
    def record(owner: str) -> TokenRecord:
        return TokenRecord(1, owner, "ops", 0, None, None)

    assert token_client(record("*acme")) == "acme"
    assert token_client(record("*")) is None
    assert token_client(record("shop")) is None

"""The refusal types: one message shape for an unknown container, fields named."""

from __future__ import annotations

from admin_ui.errors import ActionError, FieldError, NotFound, UnknownContainer


def test_unknown_container_lists_what_the_store_holds():
    error = UnknownContainer("shpo", ["blog", "shop"])
    assert str(error) == (
        "container 'shpo' is not in the store (it holds blog, shop); import its document "
        "with `tagwire import FILE`"
    )
    assert error.container_id == "shpo"
    assert isinstance(error, NotFound)
    assert isinstance(error, ActionError)


def test_unknown_container_in_an_empty_store_and_with_a_hint():
    error = UnknownContainer("shop", [], "; or give its file")
    assert str(error).endswith("(it holds none yet); import its document with "
                               "`tagwire import FILE`; or give its file")  # fmt: skip


def test_a_long_list_of_containers_is_cut():
    known = [f"c{n:02}" for n in range(25)]
    message = str(UnknownContainer("x", known))
    assert "c09 and 15 more)" in message
    assert "c10" not in message


def test_field_error_names_its_field():
    error = FieldError("actor", "give a name of 1 to 200 characters")
    assert (error.field, error.reason) == ("actor", "give a name of 1 to 200 characters")
    assert str(error) == "actor: give a name of 1 to 200 characters"
    assert isinstance(error, ValueError)
    assert isinstance(error, ActionError)

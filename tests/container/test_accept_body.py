"""The one body error both endpoints raise, and the size checks they share."""

from __future__ import annotations

import pytest

from container.accept_body import BodyError, check_declared_length
from container.fire_body import parse_events
from container.hit import parse_body


@pytest.mark.parametrize("parse", [parse_body, parse_events])
def test_both_endpoints_refuse_a_body_with_the_one_error(parse) -> None:
    with pytest.raises(BodyError) as caught:
        parse(b"42")
    assert (caught.value.field, caught.value.status) == ("body", 400)
    assert str(caught.value).startswith("body: must be a JSON object")


@pytest.mark.parametrize("declared", [None, "0", "100"])
def test_a_declared_length_within_the_limit_passes(declared) -> None:
    check_declared_length(declared, 100)


@pytest.mark.parametrize(
    ("declared", "field", "status", "reason"),
    [
        ("-1", "Content-Length", 400, "must be a whole number of bytes"),
        ("ten", "Content-Length", 400, "must be a whole number of bytes"),
        ("101", "body", 413, "larger than 100 bytes"),
    ],
)
def test_a_bad_or_too_large_declared_length_is_refused(declared, field, status, reason) -> None:
    with pytest.raises(BodyError) as caught:
        check_declared_length(declared, 100)
    assert (caught.value.field, caught.value.status, caught.value.reason) == (
        field,
        status,
        reason,
    )
    assert str(caught.value) == f"{field}: {reason}"


def test_named_refusals() -> None:
    too_large = BodyError.too_large(64)
    assert (too_large.field, too_large.status, too_large.reason) == (
        "body",
        413,
        "larger than 64 bytes",
    )
    gone = BodyError.disconnected()
    assert (gone.field, gone.status) == ("body", 400)
    assert "disconnected" in gone.reason

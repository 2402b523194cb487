import hashlib

import pytest

from fake_platforms.checks import (
    Issues,
    as_int,
    check_hashes,
    is_currency,
    is_int,
    is_ip,
    is_number,
    is_one_of,
    is_sha256,
    json_kind,
    parse_json,
    seconds_problem,
    unknown_keys,
)

HASH = hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (HASH, True),
        (HASH.upper(), False),
        (HASH[:63], False),
        (HASH + "0", False),
        (HASH[:63] + "g", False),
        (None, False),
        ([HASH], False),
    ],
)
def test_is_sha256(value, ok):
    assert is_sha256(value) is ok


def test_numbers_exclude_booleans_and_non_finite():
    assert is_int(3)
    assert not is_int(True)
    assert not is_int(3.0)
    assert as_int(5) == 5
    assert as_int(False) is None
    assert as_int("5") is None
    assert is_number(1.5)
    assert is_number(2)
    assert not is_number(True)
    assert not is_number(float("nan"))
    assert not is_number(float("inf"))
    assert not is_number("1")


def test_one_of_is_safe_for_unhashable_values():
    assert is_one_of("web", ("web", "app"))
    assert not is_one_of(["web"], frozenset({"web"}))
    assert not is_one_of({"a": 1}, frozenset({"web"}))


def test_other_predicates():
    assert is_currency("EUR")
    assert not is_currency("eur")
    assert not is_currency("XXX")
    assert is_ip("203.0.113.7")
    assert is_ip("::1")
    assert not is_ip("1.2.3")
    assert not is_ip(7)
    kinds = [json_kind(v) for v in (None, True, 1, 1.5, "s", [], {})]
    assert kinds == ["null", "boolean", "integer", "number", "string", "array", "object"]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (1_767_225_600, None),
        ("1767225600", "type"),
        (True, "type"),
        (1_767_225_600_000, "units"),
        (1_767_225_600 + 301, "future"),
        (1_767_225_600 - 7 * 86400 - 1, "too_old"),
        (1_767_225_600 - 7 * 86400, None),
    ],
)
def test_seconds_problem(value, kind):
    problem = seconds_problem(value, 1_767_225_600, max_age_s=7 * 86400, skew_s=300)
    assert (problem[0] if problem else None) == kind


def test_check_hashes():
    issues = Issues()
    check_hashes(HASH, "em", issues)
    check_hashes([HASH, HASH], "em", issues)
    assert not issues
    check_hashes([HASH, "nope"], "em", issues)
    check_hashes([], "ph", issues)
    check_hashes(HASH, "fn", issues, single=False)
    assert [i.path for i in issues] == ["em[1]", "ph", "fn"]
    assert (
        issues.reasons()[0] == "em[1]: must be a SHA-256 hash: exactly 64 lowercase hex characters"
    )


def test_unknown_keys_and_parse_json():
    issues = Issues()
    unknown_keys({"a": 1, "b": 2}, ("a",), "x", issues)
    assert issues.reasons() == ["x.b: unknown field"]
    assert parse_json(b'{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError, match="body is not valid JSON"):
        parse_json(b"{")
    with pytest.raises(ValueError, match="body is not valid JSON"):
        parse_json(b"[" * 2000 + b"]" * 2000)

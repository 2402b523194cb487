import logging
import math

import pytest
from prometheus_client import REGISTRY

from container.guards.value import (
    CURRENCY_MISMATCH,
    CURRENCY_MISSING,
    CURRENCY_UNKNOWN,
    VALUE_NEGATIVE,
    VALUE_NOT_NUMBER,
    VALUE_TOO_LARGE,
    ValueGuard,
    value_problem,
)


def problem(value, currency, value_max=1000.0, currency_default=None):
    return value_problem(value, currency, value_max=value_max, currency_default=currency_default)


@pytest.mark.parametrize(
    ("value", "currency", "currency_default"),
    [
        (None, None, None),
        (0, "EUR", None),
        (129.9, "CHF", None),
        (1000, "USD", None),
        (50, None, "EUR"),  # the container's currency applies
        (50, "EUR", "EUR"),
        (None, "EUR", None),
    ],
)
def test_sound_values_pass(value, currency, currency_default):
    assert problem(value, currency, currency_default=currency_default) is None


@pytest.mark.parametrize(
    ("value", "currency", "currency_default", "reason"),
    [
        ("50", "EUR", None, VALUE_NOT_NUMBER),
        (True, "EUR", None, VALUE_NOT_NUMBER),
        (math.nan, "EUR", None, VALUE_NOT_NUMBER),
        (math.inf, "EUR", None, VALUE_NOT_NUMBER),
        (-0.01, "EUR", None, VALUE_NEGATIVE),
        (1000.01, "EUR", None, VALUE_TOO_LARGE),
        (10**400, "EUR", None, VALUE_TOO_LARGE),
        (50, "eur", None, CURRENCY_UNKNOWN),
        (50, "HRK", None, CURRENCY_UNKNOWN),  # retired
        (50, 978, None, CURRENCY_UNKNOWN),
        (50, "USD", "EUR", CURRENCY_MISMATCH),
        (None, "USD", "EUR", CURRENCY_MISMATCH),
        (50, None, None, CURRENCY_MISSING),
    ],
)
def test_problems_are_named(value, currency, currency_default, reason):
    assert problem(value, currency, currency_default=currency_default) == reason


def count(name, reason, container="shop"):
    labels = {"container": container, "guard": "value", "reason": reason}
    return REGISTRY.get_sample_value(f"tagwire_guard_{name}_total", labels) or 0


def test_block_policy_stops_the_event_counts_and_logs(caplog):
    guard = ValueGuard(1000, "block")
    before = count("blocks", VALUE_TOO_LARGE), count("blocks", CURRENCY_MISMATCH)
    with caplog.at_level(logging.WARNING, logger="tagwire.guards"):
        assert guard.judge("shop", "evt-00000001", 5000, "EUR", currency_default="EUR") is True
        assert guard.judge("shop", "evt-00000002", 50, "USD", currency_default="EUR") is True
        assert guard.judge("shop", "evt-00000003", 50, "EUR", currency_default="EUR") is False
    assert (count("blocks", VALUE_TOO_LARGE), count("blocks", CURRENCY_MISMATCH)) == (
        before[0] + 1,
        before[1] + 1,
    )
    first = caplog.records[0]
    assert first.fields == {"container": "shop", "event_id": "evt-00000001",
                            "reason": VALUE_TOO_LARGE, "policy": "block"}  # fmt: skip
    assert "5000" not in first.getMessage()


def test_flag_policy_lets_the_event_through_and_counts_it():
    guard = ValueGuard(1000, "flag")
    before = count("flagged", VALUE_TOO_LARGE), count("blocks", VALUE_TOO_LARGE)
    assert guard.judge("shop", "evt-00000001", 5000, "EUR", currency_default=None) is False
    assert count("flagged", VALUE_TOO_LARGE) == before[0] + 1
    assert count("blocks", VALUE_TOO_LARGE) == before[1]


def test_an_event_without_value_or_currency_is_not_judged():
    guard = ValueGuard(1000, "block")
    assert guard.judge("shop", "e", None, None, currency_default="EUR") is False


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="block"):
        ValueGuard(1000, "drop")


def test_the_currency_default_is_the_one_the_caller_passes():
    """The default comes with each event from the container handling it (a reload may
    have swapped in a version with another default), never from a table made at start."""
    guard = ValueGuard(1000, "block")
    assert guard.judge("shop", "evt-00000001", 50, "USD", currency_default="EUR") is True
    assert guard.judge("shop", "evt-00000002", 50, "USD", currency_default="USD") is False
    assert guard.judge("shop", "evt-00000003", 50, "USD", currency_default=None) is False
    assert guard.judge("shop", "evt-00000004", 50, None, currency_default=None) is True
    assert guard.judge("shop", "evt-00000005", 50, None, currency_default="EUR") is False

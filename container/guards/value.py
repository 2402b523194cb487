"""Value and currency guard: a conversion with an impossible value never reaches a platform.

Bidding optimises on the values it receives, so one purchase of 9,999,999 (a price in cents,
a quantity pasted into the value field) or in the wrong currency skews a campaign for
weeks. A value must be a finite number from 0 to `value_max`, a currency an active ISO 4217
code, the container's `currency_default` (when it has one) the only currency, and a value
needs a currency from the hit or the container. `value_problem` is pure and shared by
`/collect` and the Fire API; `ValueGuard.judge` adds the policy, the counting and the log.
"""

from __future__ import annotations

import logging
import math

from config.currencies import ISO_4217
from container.metrics import GUARD_BLOCKS, GUARD_FLAGGED

__all__ = [
    "CURRENCY_MISMATCH",
    "CURRENCY_MISSING",
    "CURRENCY_UNKNOWN",
    "POLICIES",
    "VALUE_NEGATIVE",
    "VALUE_NOT_NUMBER",
    "VALUE_TOO_LARGE",
    "ValueGuard",
    "value_problem",
]

log = logging.getLogger("tagwire.guards")

# Reasons: the `reason` label of tagwire_guard_blocks_total / _flagged_total{guard="value"}.
VALUE_NOT_NUMBER = "value_not_number"
VALUE_NEGATIVE = "value_negative"
VALUE_TOO_LARGE = "value_too_large"
CURRENCY_UNKNOWN = "currency_unknown"
CURRENCY_MISMATCH = "currency_mismatch"
CURRENCY_MISSING = "currency_missing"

POLICIES = ("block", "flag")


def value_problem(
    value: object, currency: object, *, value_max: float, currency_default: str | None
) -> str | None:
    """What is wrong with an event's value and currency (None: nothing, or neither given)."""
    if value is not None:
        # exact types: a bool is an int to isinstance, but it is not a value
        if type(value) is bool or not isinstance(value, int | float):
            return VALUE_NOT_NUMBER
        if isinstance(value, float) and not math.isfinite(value):
            return VALUE_NOT_NUMBER
        if value < 0:
            return VALUE_NEGATIVE
        if value > value_max:
            return VALUE_TOO_LARGE
    if currency is not None:
        if type(currency) is not str or currency not in ISO_4217:
            return CURRENCY_UNKNOWN
        if currency_default is not None and currency != currency_default:
            return CURRENCY_MISMATCH
    elif value is not None and currency_default is None:
        return CURRENCY_MISSING
    return None


class ValueGuard:
    """`value_problem` with the node's `value_max` and `value_policy`. The currency default
    comes with each event from the container handling it, so a container swapped in by a
    reload is judged by its own setting."""

    def __init__(self, value_max: float, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"value policy must be one of {POLICIES}, not {policy!r}")
        self.value_max = value_max
        self.policy = policy

    def judge(
        self,
        container_id: str,
        event_id: str,
        value: object,
        currency: object,
        *,
        currency_default: str | None,
    ) -> bool:
        """True when the event's tags must not fire (a problem under policy `block`).
        A problem is counted and logged under either policy."""
        if value is None and currency is None:
            return False
        reason = value_problem(
            value, currency, value_max=self.value_max, currency_default=currency_default
        )
        if reason is None:
            return False
        block = self.policy == "block"
        counter = GUARD_BLOCKS if block else GUARD_FLAGGED
        counter.labels(container_id, "value", reason).inc()
        log.warning(
            "event value refused: its tags do not fire" if block else "event value flagged",
            extra={"fields": {"container": container_id, "event_id": event_id,
                              "reason": reason, "policy": self.policy}},
        )  # fmt: skip
        return block

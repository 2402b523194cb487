"""The straightforward evaluation compiled conditions and triggers must agree with.

This is `compile_condition` and `Trigger.fires` as they were before the compile step did
the work (commit 18a0082): generic closures, `all`/`any` over generators, every value
compared through `_text`/`_number`, read through `ReferenceResolver.get`. The property
tests in test_compiled_conditions.py compare the two. Test code only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from triggers.events import EventTrigger
from variables.safe_regex import compile_regex

Condition = Callable[[Any], bool]
TEXT_OPS = ("equals", "not_equals", "contains", "starts_with", "ends_with", "regex")
LIST_OPS = ("in", "not_in")
NUMBER_OPS = ("gt", "gte", "lt", "lte")
PRESENCE_OPS = ("exists", "not_exists")
OPERATORS = (*TEXT_OPS, *LIST_OPS, *NUMBER_OPS, *PRESENCE_OPS)
_SCALAR = (str, int, float, bool)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return float(value) if math.isfinite(value) else None
        except OverflowError:  # as the product: an int beyond a float's range is no number
            return None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _text(value: Any, ignore_case: bool) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return text.casefold() if ignore_case else text


def reference_condition(node: dict[str, Any]) -> Condition:
    """A checked condition as a function of the hit's resolver."""
    if "all" in node:
        parts = [reference_condition(item) for item in node["all"]]
        return lambda r: all(part(r) for part in parts)
    if "any" in node:
        parts = [reference_condition(item) for item in node["any"]]
        return lambda r: any(part(r) for part in parts)
    return _compile_leaf(node["var"], node["op"], node.get("value"), node.get("ignore_case", False))


def _compile_leaf(ref: str, op: str, expected: Any, ignore_case: bool) -> Condition:
    if op in PRESENCE_OPS:
        wanted = op == "exists"
        return lambda r: (r.get(ref) not in (None, "")) is wanted
    if op in NUMBER_OPS:
        limit = float(expected)
        compare = {"gt": float.__gt__, "gte": float.__ge__, "lt": float.__lt__,
                   "lte": float.__le__}[op]  # fmt: skip

        def numeric(r: Any) -> bool:
            number = _number(r.get(ref))
            return number is not None and compare(number, limit)

        return numeric
    negate = op in ("not_equals", "not_in")
    if op in LIST_OPS:
        texts = frozenset(_text(v, ignore_case) for v in expected)
        numbers = frozenset(n for v in expected if (n := _number(v)) is not None
                            and not isinstance(v, str))  # fmt: skip

        def member(value: Any) -> bool:
            number = _number(value) if not isinstance(value, str) else None
            return _text(value, ignore_case) in texts or (number is not None and number in numbers)

        test: Callable[[Any], bool] = member
    elif op == "regex":
        regex = compile_regex(expected, ignore_case=ignore_case)
        test = lambda value: regex.search(_text(value, False)) is not None  # noqa: E731
    elif op in ("equals", "not_equals"):
        target = _text(expected, ignore_case)
        target_number = None if isinstance(expected, str | bool) else _number(expected)

        def equal(value: Any) -> bool:
            if target_number is not None and not isinstance(value, bool | str):
                number = _number(value)
                if number is not None:
                    return number == target_number
            return _text(value, ignore_case) == target

        test = equal
    else:
        needle = _text(expected, ignore_case)
        method = {"contains": str.__contains__, "starts_with": str.startswith,
                  "ends_with": str.endswith}[op]  # fmt: skip
        test = lambda value: method(_text(value, ignore_case), needle)  # noqa: E731

    def evaluate(r: Any) -> bool:
        value = r.get(ref)
        if value is None:
            return negate
        return test(value) is not negate

    return evaluate


def reference_fires(trigger: dict[str, Any], event: str, resolver: Callable[[], Any]) -> bool:
    events = EventTrigger.compile(trigger["id"], trigger["events"])
    condition = reference_condition(trigger["conditions"]) if "conditions" in trigger else None
    exceptions = [reference_condition(c) for c in trigger.get("exceptions", [])]
    if not events.matches(event):
        return False
    if condition is None and not exceptions:
        return True
    r = resolver()
    if condition is not None and not condition(r):
        return False
    return not any(exception(r) for exception in exceptions)

"""Trigger conditions: comparisons on variable references, grouped with all/any.

A leaf is `{"var": "page.path", "op": "starts_with", "value": "/checkout"}`; a group is
`{"all": [...]}` or `{"any": [...]}`, nested up to MAX_DEPTH. Operators:

equals, not_equals, contains, starts_with, ends_with, regex (RE2), in, not_in
    compare the value as text (`ignore_case` optional); a number equals a number
    numerically ("50" equals 50)
gt, gte, lt, lte
    numeric; a value that is not a number never matches
exists, not_exists
    present and not empty / absent or empty; take no `value`

A missing value (None) matches only not_equals, not_in and not_exists.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable
from typing import Any

from variables.references import reference_problem
from variables.resolver import Accessor, Resolver, accessor
from variables.safe_regex import RegexError, compile_regex

__all__ = ["OPERATORS", "Condition", "check_condition", "compile_condition"]

Condition = Callable[[Resolver], bool]
Problems = list[tuple[str, str]]
MAX_DEPTH = 8
MAX_LIST = 1000

TEXT_OPS = ("equals", "not_equals", "contains", "starts_with", "ends_with", "regex")
LIST_OPS = ("in", "not_in")
NUMBER_OPS = ("gt", "gte", "lt", "lte")
PRESENCE_OPS = ("exists", "not_exists")
OPERATORS = (*TEXT_OPS, *LIST_OPS, *NUMBER_OPS, *PRESENCE_OPS)
_SCALAR = (str, int, float, bool)


_FLOAT_MAX = int(sys.float_info.max)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        try:
            return float(value) if math.isfinite(value) else None
        except OverflowError:  # an int beyond a float's range is no usable number
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


def _leaf_problems(node: dict[str, Any], path: str, variable_ids: set[str]) -> Problems:
    problems: Problems = []
    allowed = {"var", "op", "value", "ignore_case"}
    problems += [(f"{path}.{k}", "unknown field") for k in sorted(node.keys() - allowed)]
    if "var" not in node:
        problems.append((f"{path}.var", "required"))
    else:
        problem = reference_problem(node["var"], variable_ids)
        if problem:
            problems.append((f"{path}.var", problem))
    op = node.get("op")
    if op not in OPERATORS:
        problems.append((f"{path}.op", "must be one of " + ", ".join(OPERATORS)))
        return problems
    if "ignore_case" in node and type(node["ignore_case"]) is not bool:
        problems.append((f"{path}.ignore_case", "must be true or false"))
    value = node.get("value")
    if op in PRESENCE_OPS:
        if "value" in node:
            problems.append((f"{path}.value", f"'{op}' takes no value"))
    elif "value" not in node:
        problems.append((f"{path}.value", "required"))
    elif op in LIST_OPS:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            problems.append((f"{path}.value", f"must be a list of 1-{MAX_LIST} values"))
        elif not all(isinstance(v, _SCALAR) for v in value):
            problems.append((f"{path}.value", "list items must be strings, numbers or booleans"))
    elif op in NUMBER_OPS:
        if _number(value) is None or isinstance(value, str):
            problems.append((f"{path}.value", "must be a number"))
    elif op == "regex":
        try:
            compile_regex(value, ignore_case=node.get("ignore_case") is True)
        except RegexError as exc:
            problems.append((f"{path}.value", str(exc)))
    elif not isinstance(value, _SCALAR):
        problems.append((f"{path}.value", "must be a string, number or boolean"))
    return problems


def check_condition(node: object, path: str, variable_ids: set[str], depth: int = 0) -> Problems:
    """Every problem in a condition tree, as (path, reason)."""
    if not isinstance(node, dict):
        return [(path, "must be an object: a comparison {var, op, value} or {all|any: [...]}")]
    groups = [k for k in ("all", "any") if k in node]
    if not groups:
        return _leaf_problems(node, path, variable_ids)
    if depth >= MAX_DEPTH:
        return [(path, f"conditions nested deeper than {MAX_DEPTH} levels")]
    if len(node) != 1:
        return [(path, "a group has exactly one key, 'all' or 'any'")]
    key = groups[0]
    items = node[key]
    if not isinstance(items, list) or not items:
        return [(f"{path}.{key}", "must be a non-empty list of conditions")]
    problems: Problems = []
    for i, item in enumerate(items):
        problems += check_condition(item, f"{path}.{key}[{i}]", variable_ids, depth + 1)
    return problems


def compile_condition(node: dict[str, Any]) -> Condition:
    """A checked condition as a function of the hit's resolver.

    Everything that does not depend on the hit is done here, once per container version:
    the reference becomes an accessor, the expected value its text, set or number, the
    operator a function. Text operators get a fast path for a value that is a `str`, what
    most references hold; other values take the general rule (`_general_test`)."""
    if "all" in node:
        return _every([compile_condition(item) for item in node["all"]])
    if "any" in node:
        return _some([compile_condition(item) for item in node["any"]])
    return _compile_leaf(node["var"], node["op"], node.get("value"), node.get("ignore_case", False))


def _every(parts: list[Condition]) -> Condition:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda r: first(r) and second(r)
    items = tuple(parts)

    def every(r: Resolver) -> bool:
        for part in items:  # noqa: SIM110 - a generator per hit costs more
            if not part(r):
                return False
        return True

    return every


def _some(parts: list[Condition]) -> Condition:
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        first, second = parts
        return lambda r: first(r) or second(r)
    items = tuple(parts)

    def some(r: Resolver) -> bool:
        for part in items:  # noqa: SIM110 - a generator per hit costs more
            if part(r):
                return True
        return False

    return some


_ABSENT = (None, "")
_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


def _compile_leaf(ref: str, op: str, expected: Any, ignore_case: bool) -> Condition:
    fetch = accessor(ref)
    if op == "exists":
        return lambda r: fetch(r) not in _ABSENT
    if op == "not_exists":
        return lambda r: fetch(r) in _ABSENT
    if op in NUMBER_OPS:
        return _numeric(fetch, _COMPARE[op], float(expected))
    negate = op in ("not_equals", "not_in")
    fast: Callable[[str], bool]
    if op == "regex":
        regex = compile_regex(expected, ignore_case=ignore_case)
        fast = regex.matches
        test: Callable[[Any], bool] = lambda value: regex.matches(_text(value, False))  # noqa: E731
    else:
        fast = _str_test(op, expected, ignore_case)
        test = _general_test(op, expected, ignore_case)

    if negate:

        def evaluate_not(r: Resolver) -> bool:
            value = fetch(r)
            if value.__class__ is str:
                return not fast(value)
            return value is None or not test(value)

        return evaluate_not

    def evaluate(r: Resolver) -> bool:
        value = fetch(r)
        if value.__class__ is str:
            return fast(value)
        return value is not None and test(value)

    return evaluate


def _numeric(fetch: Accessor, compare: Callable[[float, float], bool], limit: float) -> Condition:
    isfinite = math.isfinite

    def numeric(r: Resolver) -> bool:
        value = fetch(r)
        kind = value.__class__
        if kind is int:  # one beyond a float's range is no usable number, as in _number
            return -_FLOAT_MAX <= value <= _FLOAT_MAX and compare(float(value), limit)
        if kind is float:
            return isfinite(value) and compare(value, limit)
        number = _number(value)
        return number is not None and compare(number, limit)

    return numeric


def _str_test(op: str, expected: Any, ignore_case: bool) -> Callable[[str], bool]:
    """`_general_test` for a value that is exactly a `str` (its text is itself); not for
    `regex`, which `_compile_leaf` compiles once for both."""
    if op in LIST_OPS:
        texts = frozenset(_text(v, ignore_case) for v in expected)
        if ignore_case:
            return lambda value: value.casefold() in texts
        return texts.__contains__
    target = _text(expected, ignore_case)
    if op in ("equals", "not_equals"):
        if ignore_case:
            return lambda value: value.casefold() == target
        return target.__eq__
    if ignore_case:
        if op == "contains":
            return lambda value: target in value.casefold()
        if op == "starts_with":
            return lambda value: value.casefold().startswith(target)
        return lambda value: value.casefold().endswith(target)
    if op == "contains":
        return lambda value: target in value
    if op == "starts_with":
        return lambda value: value.startswith(target)
    return lambda value: value.endswith(target)


def _general_test(op: str, expected: Any, ignore_case: bool) -> Callable[[Any], bool]:
    """A text operator's rule (not `regex`) for any value but None, which `_compile_leaf`
    decides: the straightforward evaluation the `str` fast path must agree with."""
    if op in LIST_OPS:
        texts = frozenset(_text(v, ignore_case) for v in expected)
        numbers = frozenset(n for v in expected if (n := _number(v)) is not None
                            and not isinstance(v, str))  # fmt: skip

        def member(value: Any) -> bool:
            number = _number(value) if not isinstance(value, str) else None
            return _text(value, ignore_case) in texts or (number is not None and number in numbers)

        return member
    if op in ("equals", "not_equals"):
        target = _text(expected, ignore_case)
        target_number = None if isinstance(expected, str | bool) else _number(expected)

        def equal(value: Any) -> bool:
            if target_number is not None and not isinstance(value, bool | str):
                number = _number(value)
                if number is not None:
                    return number == target_number
            return _text(value, ignore_case) == target

        return equal
    needle = _text(expected, ignore_case)
    method = {"contains": str.__contains__, "starts_with": str.startswith,
              "ends_with": str.endswith}[op]  # fmt: skip
    return lambda value: method(_text(value, ignore_case), needle)

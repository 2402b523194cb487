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
from collections.abc import Callable
from typing import Any

from variables.references import reference_problem
from variables.resolver import Resolver
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


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
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
    """A checked condition as a function of the hit's resolver."""
    if "all" in node:
        parts = [compile_condition(item) for item in node["all"]]
        return lambda r: all(part(r) for part in parts)
    if "any" in node:
        parts = [compile_condition(item) for item in node["any"]]
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

        def numeric(r: Resolver) -> bool:
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

    def evaluate(r: Resolver) -> bool:
        value = r.get(ref)
        if value is None:
            return negate
        return test(value) is not negate

    return evaluate

"""Template parameter schemas: what a tag must configure, checked before the template runs.

The same schema drives the admin UI form later, so each field carries a type, whether it
is required, a default, and optional enum / pattern / bounds / description.

Types: `string`, `integer`, `number`, `boolean`, `list` (of strings), `map` (string to
string), `secret` (the name of a stored secret, never the secret itself).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Collection
from typing import Any

from tags.urls import UrlError, normalize_url
from variables.safe_regex import MAX_SUBJECT, RegexError, SafeRegex, compile_regex

__all__ = ["TYPES", "check_schema", "resolve_params"]

TYPES = ("string", "integer", "number", "boolean", "list", "map", "secret")
_FIELD_KEYS = frozenset(
    {"type", "required", "default", "enum", "pattern", "min", "max", "max_length",
     "format", "description", "label"}
)  # fmt: skip
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_SECRET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
Problems = list[tuple[str, str]]


def _full_pattern(pattern: object) -> SafeRegex:
    """A parameter pattern must match the whole value. RE2, because a container document
    can carry any pattern and Python's backtracking engine can be made to take hours."""
    compile_regex(pattern)  # errors name the author's pattern, not the anchored wrapper
    return compile_regex(f"^(?:{pattern})$")


def _type_problem(kind: str, value: object) -> str | None:
    if kind in ("string", "secret"):
        return None if isinstance(value, str) else "must be a string"
    if kind == "integer":
        if type(value) is not int:
            return "must be a whole number"
        # Lua integers are 64-bit: a larger one would reach the template as a float
        return None if -(2**63) <= value < 2**63 else "must be a whole number that fits in 64 bits"
    if kind == "number":
        # 64-bit ints only: isfinite() and error messages cannot handle an int of any size
        ok = (type(value) is int and -(2**63) <= value < 2**63) or (
            type(value) is float and math.isfinite(value)
        )
        return None if ok else "must be a number"
    if kind == "boolean":
        return None if type(value) is bool else "must be true or false"
    if kind == "list":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else "must be a list of strings"
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )
    return None if ok else "must be an object of strings"


def _url_problem(value: str) -> str | None:
    """URLs are checked like send_http checks them; plain http only reaches loopback."""
    try:
        url = normalize_url(value)
    except UrlError as exc:
        return str(exc)
    if url.scheme != "https" and not url.is_loopback:
        return "must use https; plain http is only allowed for localhost, 127.x.x.x and [::1]"
    return None


def _value_problem(field: dict[str, Any], value: object) -> str | None:
    kind = field["type"]
    problem = _type_problem(kind, value)
    if problem:
        return problem
    if "enum" in field and value not in field["enum"]:
        return "must be one of " + ", ".join(repr(v) for v in field["enum"])
    if kind in ("integer", "number"):
        if "min" in field and value < field["min"]:
            return f"must be ≥ {field['min']}"
        if "max" in field and value > field["max"]:
            return f"must be ≤ {field['max']}"
    if kind == "string" and isinstance(value, str):
        if "max_length" in field and len(value) > field["max_length"]:
            return f"longer than {field['max_length']} characters"
        if "pattern" in field:
            # SafeRegex reads only the first MAX_SUBJECT characters: past them, anything
            # would pass a pattern anchored with `$`
            if len(value) > MAX_SUBJECT:
                return f"longer than {MAX_SUBJECT} characters, more than a pattern can check"
            if _full_pattern(field["pattern"]).search(value) is None:
                return f"must match {field['pattern']!r}"
        if field.get("format") == "url":
            return _url_problem(value)
    if kind == "secret" and isinstance(value, str) and not _SECRET_NAME.fullmatch(value):
        return "must name a secret: 1-64 characters of a-z, 0-9, '_', '-'"
    return None


def check_schema(schema: object) -> Problems:
    """Problems in a parameter schema itself, as (path, reason); path is relative."""
    if not isinstance(schema, dict):
        return [("", "must be an object mapping parameter names to fields")]
    problems: Problems = []
    for name, field in schema.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            problems.append((str(name), "parameter names are 1-40 characters of a-z, 0-9, _"))
            continue
        if not isinstance(field, dict):
            problems.append((name, "must be an object"))
            continue
        field_problems = _field_problems(name, field)
        # a default is checked against a field that is itself valid, so the check can trust
        # the field's type, enum, bounds and pattern
        if "default" in field and not field_problems:
            problem = _value_problem(field, field["default"])
            if problem:
                field_problems.append((f"{name}.default", problem))
        problems += field_problems
    return problems


def _field_problems(name: str, field: dict[Any, Any]) -> Problems:
    # in document order (a set difference would order them by hash, run to run)
    problems: Problems = [
        (f"{name}.{key}", "unknown field") for key in field if key not in _FIELD_KEYS
    ]
    if field.get("type") not in TYPES:
        return [*problems, (f"{name}.type", "must be one of " + ", ".join(TYPES))]
    if "required" in field and type(field["required"]) is not bool:
        problems.append((f"{name}.required", "must be true or false"))
    if "enum" in field:
        enum = field["enum"]
        if not isinstance(enum, list) or not enum:
            problems.append((f"{name}.enum", "must be a non-empty list"))
        else:
            problems += [(f"{name}.enum[{i}]", problem) for i, item in enumerate(enum)
                         if (problem := _type_problem(field["type"], item))]  # fmt: skip
    if "pattern" in field:
        try:
            _full_pattern(field["pattern"])
        except RegexError as exc:
            problems.append((f"{name}.pattern", f"not a valid regular expression: {exc}"))
    if "format" in field and field["format"] != "url":
        problems.append((f"{name}.format", "only 'url' is supported"))
    for key in ("min", "max", "max_length"):
        if key in field and _type_problem("number", field[key]):
            problems.append((f"{name}.{key}", "must be a number"))
    return problems


def resolve_params(
    schema: dict[str, Any], params: object, deferred: Collection[str] = ()
) -> tuple[dict[str, Any], Problems]:
    """Params with defaults filled in, and every problem as (parameter name, reason).

    `deferred` names parameters that hold references (`{{var.x}}`, see
    variables.param_refs): they are kept as written, and checked once resolved per hit."""
    if not isinstance(params, dict):
        return {}, [("", "params must be an object")]
    problems: Problems = [
        (str(name), "unknown parameter") for name in params.keys() - schema.keys()
    ]
    values: dict[str, Any] = {}
    for name, field in schema.items():
        if name in params and name in deferred:
            values[name] = params[name]
        elif name in params:
            problem = _value_problem(field, params[name])
            if problem:
                problems.append((name, problem))
            else:
                values[name] = params[name]
        elif "default" in field:
            values[name] = copy.deepcopy(field["default"])  # never alias the schema's default
        elif field.get("required"):
            problems.append((name, "required"))
    return values, sorted(problems)

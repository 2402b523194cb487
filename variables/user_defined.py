"""User-defined variables: the types a container document can declare.

Each type has a check (problems in its params, as (path, reason)) and a compile step that
turns valid params into a function of the hit's Resolver. Types:

- `constant`     {value}
- `event_field`  {path, default?}                 a dotted path into the hit, e.g. custom.plan
- `cookie`       {name, default?}
- `query_param`  {name, default?}                 of the page URL
- `lookup`       {input, map, default?}           exact match of another reference's value
- `regex_table`  {input, rows: [{pattern, output}], ignore_case?, default?}
                 first matching row wins; `$1`..`$9` in output insert capture groups
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from variables.references import reference_problem
from variables.resolver import Accessor, Resolver, VariableFunction, accessor
from variables.safe_regex import RegexError, compile_regex

__all__ = ["TYPES", "check_variable", "compile_variable", "variable_inputs"]

Problems = list[tuple[str, str]]
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_PATH = re.compile(r"[A-Za-z0-9_]{1,64}(\.[A-Za-z0-9_]{1,64}){0,3}")
_GROUP = re.compile(r"\$([1-9])")
_SCALAR = (str, int, float, bool, type(None))
MAX_ROWS = 200

TYPES = ("constant", "event_field", "cookie", "query_param", "lookup", "regex_table")
_PARAMS = {
    "constant": ({"value"}, {"value"}),
    "event_field": ({"path"}, {"path", "default"}),
    "cookie": ({"name"}, {"name", "default"}),
    "query_param": ({"name"}, {"name", "default"}),
    "lookup": ({"input", "map"}, {"input", "map", "default"}),
    "regex_table": ({"input", "rows"}, {"input", "rows", "default", "ignore_case"}),
}


def _scalar(value: object) -> bool:
    return isinstance(value, _SCALAR)


def variable_inputs(kind: str, params: dict[str, Any]) -> list[str]:
    """References this variable reads (for cycle detection)."""
    return [params["input"]] if kind in ("lookup", "regex_table") else []


def check_variable(kind: object, params: object, variable_ids: set[str]) -> Problems:
    if kind not in TYPES:
        return [("type", "must be one of " + ", ".join(TYPES))]
    if not isinstance(params, dict):
        return [("params", "must be an object")]
    required, allowed = _PARAMS[kind]
    problems: Problems = [(f"params.{k}", "required") for k in sorted(required - params.keys())]
    problems += [(f"params.{k}", "unknown field") for k in sorted(params.keys() - allowed)]
    if "default" in params and not _scalar(params["default"]):
        problems.append(("params.default", "must be a string, number, boolean or null"))
    if kind == "constant" and "value" in params and not _scalar(params["value"]):
        problems.append(("params.value", "must be a string, number, boolean or null"))
    if kind == "event_field" and "path" in params:
        path = params["path"]
        if not isinstance(path, str) or not _PATH.fullmatch(path):
            problems.append(("params.path", "must be a dotted path such as 'custom.plan'"))
    if kind in ("cookie", "query_param") and "name" in params:
        name = params["name"]
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            problems.append(("params.name", "must be 1-64 characters of A-Z, a-z, 0-9, '_.-'"))
    if "input" in params:
        problem = reference_problem(params["input"], variable_ids)
        if problem:
            problems.append(("params.input", problem))
    if kind == "lookup" and "map" in params:
        mapping = params["map"]
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and _scalar(v) for k, v in mapping.items()
        ):
            problems.append(("params.map", "must map strings to strings, numbers or booleans"))
        elif len(mapping) > 1000:
            problems.append(("params.map", "more than 1000 entries"))
    if kind == "regex_table":
        problems += _check_rows(params.get("rows"), params.get("ignore_case", False))
        if "ignore_case" in params and type(params["ignore_case"]) is not bool:
            problems.append(("params.ignore_case", "must be true or false"))
    return problems


def _check_rows(rows: object, ignore_case: object) -> Problems:
    if rows is None:
        return []
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ROWS:
        return [("params.rows", f"must be a list of 1-{MAX_ROWS} {{pattern, output}} rows")]
    problems: Problems = []
    for i, row in enumerate(rows):
        where = f"params.rows[{i}]"
        if not isinstance(row, dict) or set(row) != {"pattern", "output"}:
            problems.append((where, "must be an object with exactly 'pattern' and 'output'"))
            continue
        try:
            regex = compile_regex(row["pattern"], ignore_case=ignore_case is True)
        except RegexError as exc:
            problems.append((f"{where}.pattern", str(exc)))
            continue
        if not _scalar(row["output"]):
            problems.append((f"{where}.output", "must be a string, number, boolean or null"))
        elif isinstance(row["output"], str):
            for group in _GROUP.findall(row["output"]):
                if int(group) > regex.groups:
                    problems.append((f"{where}.output", f"${group} but the pattern has "
                                     f"{regex.groups} capture groups"))  # fmt: skip
    return problems


def compile_variable(kind: str, params: dict[str, Any]) -> VariableFunction:
    """A function of the resolver; params must have passed check_variable.

    Everything that does not depend on the hit is done here, once: paths split, the input
    reference compiled to an accessor, patterns compiled, `$n` outputs split into parts."""
    default = params.get("default")
    if kind == "constant":
        value = params["value"]
        return lambda r: value
    if kind == "event_field":
        return _event_field(params["path"].split("."), default)
    if kind == "cookie":
        name = params["name"]

        def cookie(r: Resolver) -> Any:
            value = r.hit.cookies.get(name)
            return default if value is None or value == "" else value

        return cookie
    if kind == "query_param":
        name = params["name"]

        def query_param(r: Resolver) -> Any:
            value = r.query(name)
            return default if value is None or value == "" else value

        return query_param
    if kind == "lookup":
        return _lookup(accessor(params["input"]), dict(params["map"]), default)
    return _regex_table(params, default)


def _event_field(parts: list[str], default: Any) -> VariableFunction:
    if len(parts) == 2:
        section, key = parts

        def field(r: Resolver) -> Any:
            value = r.hit.wire.get(section)
            value = value.get(key) if isinstance(value, dict) else None
            return default if value is None or value == "" else value

        return field

    def walk(r: Resolver) -> Any:
        value: Any = r.hit.wire
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        return default if value is None or value == "" else value

    return walk


def _lookup(source: Accessor, mapping: dict[str | None, Any], default: Any) -> VariableFunction:
    find = mapping.get

    def lookup(r: Resolver) -> Any:
        value = source(r)
        return find(value if value.__class__ is str else _text(value), default)

    return lookup


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 50.0 looks up "50", as conditions compare it
    return str(value)


def _output(output: Any) -> tuple[Any, tuple[str | int, ...] | None]:
    """A regex table row's output, and when it inserts capture groups, its parts: text
    and group numbers in turn (`"dach-$1"` -> ("dach-", 1, ""))."""
    if not isinstance(output, str) or "$" not in output:
        return output, None
    pieces = _GROUP.split(output)  # text, group, text, group, ..., text
    if len(pieces) == 1:
        return output, None
    return output, tuple(int(p) if i % 2 else p for i, p in enumerate(pieces))


def _expand(parts: tuple[str | int, ...], groups: list[str | None]) -> str:
    """`$1`..`$9` in a regex table's output become the match's capture groups."""
    if len(parts) == 3:  # one group, the usual shape: "dach-$1"
        before, group, after = parts
        return f"{before}{groups[group] or ''}{after}"  # type: ignore[index]
    return "".join(p if isinstance(p, str) else (groups[p] or "") for p in parts)


def _regex_table(params: dict[str, Any], default: Any) -> Callable[[Resolver], Any]:
    source = accessor(params["input"])
    ignore_case = params.get("ignore_case", False)
    rows = tuple((compile_regex(row["pattern"], ignore_case=ignore_case), *_output(row["output"]))
                 for row in params["rows"])  # fmt: skip

    def resolve(resolver: Resolver) -> Any:
        value = source(resolver)
        text = value if value.__class__ is str else _text(value)
        if text is None:
            return default
        for regex, output, parts in rows:
            if parts is None:
                if regex.matches(text):
                    return output
            else:
                groups = regex.search(text)
                if groups is not None:
                    return _expand(parts, groups)
        return default

    return resolve

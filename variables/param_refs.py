"""References in tag parameters: `{{var.page_kind}}`, `{{data.value}}`, any reference a
trigger condition can read (`variables.references`), written inside a parameter's text.

A string that is one reference and nothing else takes the referenced value as it is (a
number stays a number; a missing value leaves the parameter out, so its default applies);
a reference inside other text is replaced by the value as text (nothing when missing).
The container's validation checks each reference; the data plane resolves them per hit,
before the template runs, and checks the resolved parameters as it checks static ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from variables.resolver import Resolver, accessor

__all__ = ["MISSING", "ParamPlan", "find_refs", "referencing"]

_REF = re.compile(r"\{\{\s*([A-Za-z0-9_.-]{1,200})\s*\}\}")
MISSING: Any = object()  # a whole-value reference with no value: the parameter is left out

Resolve = Callable[[Resolver], Any]


def find_refs(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, reference) for every reference inside `value`, strings in maps and lists."""
    if isinstance(value, str):
        for match in _REF.finditer(value):
            yield path, match.group(1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from find_refs(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from find_refs(item, f"{path}[{index}]")


def referencing(params: object) -> frozenset[str]:
    """The names of the top-level parameters that hold a reference somewhere inside."""
    if not isinstance(params, dict):
        return frozenset()
    return frozenset(name for name, value in params.items() if any(find_refs(value)))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compile(value: Any) -> Resolve | None:
    """A function of the resolver building `value` with its references filled in; None
    when `value` holds no reference (it is used as it is)."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value.strip())
        if whole:
            read = accessor(whole.group(1))

            def whole_value(r: Resolver) -> Any:
                found = read(r)
                return MISSING if found is None else found

            return whole_value
        pieces: list[str | Resolve] = []
        last = 0
        for match in _REF.finditer(value):
            pieces.append(value[last : match.start()])
            pieces.append(accessor(match.group(1)))
            last = match.end()
        if not pieces:
            return None
        pieces.append(value[last:])
        return lambda r: "".join(p if isinstance(p, str) else _text(p(r)) for p in pieces)
    if isinstance(value, dict):
        parts = {key: _compile(item) for key, item in value.items()}
        if all(part is None for part in parts.values()):
            return None

        def mapping(r: Resolver) -> dict[str, Any]:
            out = {}
            for key, item in value.items():
                part = parts[key]
                found = item if part is None else part(r)
                if found is not MISSING:
                    out[key] = found
            return out

        return mapping
    if isinstance(value, list):
        items = [_compile(item) for item in value]
        if all(item is None for item in items):
            return None
        return lambda r: [
            found for raw, part in zip(value, items, strict=True)
            if (found := raw if part is None else part(r)) is not MISSING
        ]  # fmt: skip
    return None


@dataclass(frozen=True, slots=True)
class ParamPlan:
    """A tag's parameters with their references compiled once; `resolve` per hit."""

    static: dict[str, Any]
    dynamic: tuple[tuple[str, Resolve], ...]

    @classmethod
    def compile(cls, params: dict[str, Any]) -> ParamPlan | None:
        """None when no parameter holds a reference (the tag binds once, as before)."""
        dynamic = tuple((name, fn) for name, value in params.items()
                        if (fn := _compile(value)) is not None)  # fmt: skip
        if not dynamic:
            return None
        names = {name for name, _ in dynamic}
        return cls({k: v for k, v in params.items() if k not in names}, dynamic)

    def resolve(self, resolver: Resolver) -> dict[str, Any]:
        params = dict(self.static)
        for name, fn in self.dynamic:
            value = fn(resolver)
            if value is not MISSING:
                params[name] = value
        return params

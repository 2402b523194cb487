"""Validators every fake platform shares: hash format, JSON types, paths for messages.

Each platform answers in its own error shape, but the underlying rules (a SHA-256 is exactly
64 lowercase hex characters, a boolean is not a number) are the same everywhere, so they
live here once and the platform modules only translate the issues they produce.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from config.currencies import ISO_4217

__all__ = [
    "Issue",
    "Issues",
    "as_int",
    "at",
    "check_hashes",
    "is_currency",
    "is_int",
    "is_ip",
    "is_number",
    "is_one_of",
    "is_sha256",
    "json_kind",
    "key",
    "parse_json",
    "seconds_problem",
    "unknown_keys",
]

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem with a request: where it is (a JSON path) and what is wrong."""

    path: str
    message: str
    code: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class Issues:
    """The problems found in one request, in the order they were found."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Issue] = []

    def add(self, path: str, message: str, code: str = "") -> None:
        self.items.append(Issue(path, message, code))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def reasons(self) -> list[str]:
        return [str(issue) for issue in self.items]


def key(path: str, name: str) -> str:
    """The path of an object member: `data[0]` + `event_name` -> `data[0].event_name`."""
    return f"{path}.{name}" if path else name


def at(path: str, index: int) -> str:
    """The path of an array element: `data` + 0 -> `data[0]`."""
    return f"{path}[{index}]"


def json_kind(value: object) -> str:
    """The JSON type name of a parsed value, for messages ("got a string")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def is_int(value: object) -> bool:
    """A JSON integer (Python makes True an int; the platforms do not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(value: object) -> int | None:
    """The value when it is a JSON integer, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_number(value: object) -> bool:
    """A finite JSON number, integer or not, and not a boolean."""
    if isinstance(value, float):
        return math.isfinite(value)
    return is_int(value)


def is_sha256(value: object) -> bool:
    """Exactly 64 lowercase hex characters: what every platform means by a hashed value."""
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def is_currency(value: object) -> bool:
    """An active ISO 4217 code, upper case."""
    return isinstance(value, str) and value in ISO_4217


def is_one_of(value: object, options: Collection[str]) -> bool:
    """A string among `options` (safe for unhashable JSON values, unlike `in` on a set)."""
    return isinstance(value, str) and value in options


def is_ip(value: object) -> bool:
    """An IPv4 or IPv6 address in text form."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


SECONDS_CEILING = 10**11  # Unix seconds stay below this until the year 5138


def seconds_problem(
    value: object, now_s: int, *, max_age_s: int, skew_s: int
) -> tuple[str, str] | None:
    """What is wrong with a Unix-seconds timestamp, as (kind, message), or None.

    `kind` is `type`, `units` (milliseconds or microseconds sent), `future` or `too_old`,
    so each platform can map it to its own error code.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return "type", f"is required: Unix time in seconds, got {json_kind(value)}"
    if value >= SECONDS_CEILING:
        return "units", f"must be Unix seconds; {value} looks like milliseconds or microseconds"
    if value > now_s + skew_s:
        return "future", f"is more than {skew_s} seconds in the future"
    if value < now_s - max_age_s:
        return "too_old", f"is more than {max_age_s // 86400} days old"
    return None


def parse_json(raw: bytes) -> Any:
    """The parsed body; ValueError with a short reason when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc.msg}") from None


HASH_MESSAGE = "must be a SHA-256 hash: exactly 64 lowercase hex characters"


def check_hashes(value: object, path: str, issues: Issues, *, single: bool = True) -> None:
    """A hashed identifier field: a non-empty list of SHA-256 hex strings (or one string)."""
    if isinstance(value, str) and single:
        if not is_sha256(value):
            issues.add(path, HASH_MESSAGE)
        return
    if not isinstance(value, list) or not value:
        wanted = (
            "a SHA-256 hex string or a non-empty array of them"
            if single
            else ("a non-empty array of SHA-256 hex strings")
        )
        issues.add(path, f"must be {wanted}, got {json_kind(value)}")
        return
    for index, item in enumerate(value):
        if not is_sha256(item):
            issues.add(at(path, index), HASH_MESSAGE)


def unknown_keys(
    obj: Mapping[str, Any], allowed: Collection[str], path: str, issues: Issues
) -> None:
    """Reports members the platform does not define (typos would otherwise be dropped)."""
    for name in obj:
        if name not in allowed:
            issues.add(key(path, name), "unknown field")

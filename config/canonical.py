"""The canonical JSON form of a container version: the exact bytes that get signed.

A signature covers bytes, not values, so signer and verifier must turn the same document
into the same bytes whatever its key order, whitespace or language of origin. This follows
RFC 8785 (JSON Canonicalization Scheme), so a verifier written in another language can use
any JCS library:

- UTF-8, no whitespace between tokens;
- object members sorted by key, comparing keys as UTF-16 code units (as JCS does; this
  differs from code point order only for keys with characters above U+FFFF);
- strings escaped as JSON requires and no more: `\\"`, `\\\\`, `\\b \\f \\n \\r \\t`, other
  control characters as lowercase `\\u00xx`; everything else is written as itself;
- a number is written the way JavaScript writes the IEEE-754 double it denotes, so `1`,
  `1.0` and `1e0` are all `1`, and `1e21` is `1e+21`. An integer whose canonical text
  would denote another number (2**53 + 1 is written 9007199254740992 by JavaScript) is
  refused rather than signed rounded, as are NaN and infinities; ids and big counters belong
  in strings.

Anything else (sets, bytes, non-string keys, lone surrogates, dates from YAML) raises
`CanonicalError` naming its JSON path, because guessing a representation would let two
verifiers disagree about what was signed.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

__all__ = ["MAX_DEPTH", "CanonicalError", "canonical"]

MAX_DEPTH = 100  # container documents nest about 6 deep; this stops hostile input early
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CanonicalError(ValueError):
    """A value that has no canonical JSON form; `path` says where it is (`$` for the root)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def canonical(value: object) -> bytes:
    """The canonical JSON bytes of `value` (a JSON-like tree of dict, list, str, int, float,
    bool and None)."""
    parts: list[str] = []
    _write(value, "$", 0, parts)
    return "".join(parts).encode("utf-8")


def _member_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{json.dumps(key)}]"


def _write(value: object, path: str, depth: int, parts: list[str]) -> None:
    if depth > MAX_DEPTH:
        raise CanonicalError(path, f"nested more than {MAX_DEPTH} levels deep")
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        parts.append(_string(value, path))
    elif isinstance(value, int | float):
        parts.append(_number(value, path))
    elif isinstance(value, dict):
        _write_object(value, path, depth, parts)
    elif isinstance(value, list | tuple):
        parts.append("[")
        for index, item in enumerate(value):
            if index:
                parts.append(",")
            _write(item, f"{path}[{index}]", depth + 1, parts)
        parts.append("]")
    else:
        raise CanonicalError(
            path, f"a {type(value).__name__} has no JSON form; use a string, number, bool, "
            "null, list or object"
        )  # fmt: skip


def _write_object(value: dict[object, object], path: str, depth: int, parts: list[str]) -> None:
    keys: list[str] = []
    for key in value:
        if not isinstance(key, str):
            raise CanonicalError(path, f"object keys must be strings, not {type(key).__name__}")
        keys.append(key)
    parts.append("{")
    for index, key in enumerate(sorted(keys, key=_utf16)):
        member = _member_path(path, key)
        if index:
            parts.append(",")
        parts.append(_string(key, member))
        parts.append(":")
        _write(value[key], member, depth + 1, parts)
    parts.append("}")


def _utf16(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare like the code units JCS sorts by. Lone surrogates
    # pass here and are refused when the key itself is written.
    return key.encode("utf-16-be", "surrogatepass")


def _string(text: str, path: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalError(
            path, "string holds a lone surrogate, which is not Unicode text"
        ) from None
    # The standard library escapes exactly what JCS escapes when ensure_ascii is off.
    return json.dumps(text, ensure_ascii=False)


def _number(value: int | float, path: str) -> str:
    if isinstance(value, int):
        try:
            text = _double(float(value))
        except OverflowError:
            text = ""
        # Readers that hold numbers as doubles (JavaScript, most JCS libraries) would read
        # another number than the one signed; refuse rather than sign a rounded value.
        if not text or Decimal(text) != value:
            raise CanonicalError(
                path, f"integer {value} cannot be written exactly as a JSON number that "
                "readers using doubles agree on; write it as a string"
            )  # fmt: skip
        return text
    if not math.isfinite(value):
        raise CanonicalError(path, f"{value} is not a JSON number")
    return _double(value)


def _double(value: float) -> str:
    """ECMAScript Number.prototype.toString, which JCS uses, from Python's shortest
    round-trip digits (`repr`): the same digits, laid out by JavaScript's rules."""
    if value == 0:
        return "0"  # and -0 too
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)  # finite, checked by the caller
    exponent += len(digit_tuple) - len(digits)
    k = len(digits)
    n = exponent + k  # the value is 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = f"0.{'0' * -n}{digits}"
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if n > 0 else '-'}{abs(n - 1)}"
    return "-" + text if sign else text

"""Regular expressions that cannot hang a worker: RE2 runs in linear time.

Python's `re` backtracks, so a pattern like `(a*)*b` from a container document could pin a
core. RE2 refuses the few constructs that need backtracking (backreferences, lookaround)
with a clear error instead.
"""

from __future__ import annotations

import re2

__all__ = ["MAX_PATTERN", "MAX_SUBJECT", "RegexError", "SafeRegex", "compile_regex"]

MAX_PATTERN = 512
MAX_SUBJECT = 8192  # longer inputs are matched on their first MAX_SUBJECT characters

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


class RegexError(ValueError):
    """The pattern is not valid RE2 syntax or is too long."""


_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED


class SafeRegex:
    """A compiled RE2 pattern matched on UTF-8 bytes through RE2's own match call: the
    `re2` module's `search` on str re-maps every offset in Python, which cost five times
    the match itself in the trigger benchmark."""

    __slots__ = ("_match", "groups")

    def __init__(self, compiled: re2._Regexp) -> None:
        self._match = compiled._regexp.Match
        self.groups: int = compiled.groups

    def search(self, text: str) -> list[str | None] | None:
        """The whole match and each group (None for a group that did not take part), or
        None when the pattern does not match the first MAX_SUBJECT characters."""
        data = text[:MAX_SUBJECT].encode("utf-8", "surrogatepass")
        spans = self._match(_UNANCHORED, data, 0, len(data))
        if spans[0][0] < 0:
            return None
        return [data[a:b].decode("utf-8", "replace") if a >= 0 else None for a, b in spans]

    def matches(self, text: str) -> bool:
        """Whether the pattern matches the first MAX_SUBJECT characters: `search(text) is
        not None` without decoding the groups (a trigger condition needs no more)."""
        data = text[:MAX_SUBJECT].encode("utf-8", "surrogatepass")
        start: int = self._match(_UNANCHORED, data, 0, len(data))[0][0]
        return start >= 0


def compile_regex(pattern: object, *, ignore_case: bool = False) -> SafeRegex:
    if not isinstance(pattern, str):
        raise RegexError("must be a string")
    if len(pattern) > MAX_PATTERN:
        raise RegexError(f"longer than {MAX_PATTERN} characters")
    options = _OPTIONS
    if ignore_case:
        options = re2.Options()
        options.log_errors = False
        options.case_sensitive = False
    try:
        return SafeRegex(re2.compile(pattern, options))
    except re2.error as exc:
        message = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise RegexError(f"not a valid RE2 pattern: {message}") from None

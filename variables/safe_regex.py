"""Regular expressions that cannot hang a worker: RE2 runs in linear time.

Python's `re` backtracks, so a pattern like `(a*)*b` from a container document could pin a
core. RE2 refuses the few constructs that need backtracking (backreferences, lookaround)
with a clear error instead.
"""

from __future__ import annotations

import re2

__all__ = ["MAX_PATTERN", "MAX_SUBJECT", "RegexError", "compile_regex"]

MAX_PATTERN = 512
MAX_SUBJECT = 8192  # longer inputs are matched on their first MAX_SUBJECT characters

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


class RegexError(ValueError):
    """The pattern is not valid RE2 syntax or is too long."""


def compile_regex(pattern: object, *, ignore_case: bool = False) -> re2._Regexp:
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
        return re2.compile(pattern, options)
    except re2.error as exc:
        message = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise RegexError(f"not a valid RE2 pattern: {message}") from None

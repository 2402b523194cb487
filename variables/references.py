"""Variable references: the names triggers (and later tag fields) use to read a value.

Built-ins read the hit and its request; `var.<id>` reads a user-defined variable of the
container. A reference is checked when the container is validated, so a typo (`data.valeu`) is an
error with a path, not a condition that silently never matches; only `custom.`, `cookie.`,
`header.` and `page.query.` take free names.
"""

from __future__ import annotations

import re

from variables.hit import CLICK_FIELDS, CONSENT_FIELDS, DATA_FIELDS, USER_FIELDS

__all__ = ["BUILTIN_EXACT", "BUILTIN_PREFIXES", "reference_problem"]

BUILTIN_EXACT = frozenset(
    {
        "event", "event_id", "ts", "trace_id",
        "page.url", "page.host", "page.path", "page.query", "page.fragment", "page.referrer",
        "page.referrer_host", "page.title", "page.locale", "page.language",
        "client.ip", "client.user_agent", "client.id", "client.gpc",
    }
)  # fmt: skip
# prefix -> what may follow it
BUILTIN_PREFIXES = {
    "page.query.": "a query parameter name",
    "data.": "a data field",
    "custom.": "a custom parameter",
    "click.": "a click id",
    "user.": "a hashed user field",
    "consent.": "a consent field",
    "cookie.": "a cookie name",
    "header.": "a request header name",
    "var.": "a variable id",
}
_SECTION_FIELDS = {
    "data.": DATA_FIELDS,
    "user.": USER_FIELDS,
    "click.": CLICK_FIELDS,
    "consent.": CONSENT_FIELDS,
}
_TAIL = re.compile(r"[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64})?")


def reference_problem(ref: object, variable_ids: set[str]) -> str | None:
    """Why `ref` does not name a value, or None when it does."""
    if not isinstance(ref, str):
        return "must be a string such as 'page.path' or 'var.thanks_page'"
    if ref in BUILTIN_EXACT:
        return None
    for prefix, what in BUILTIN_PREFIXES.items():
        if ref.startswith(prefix):
            tail = ref.removeprefix(prefix)
            if not _TAIL.fullmatch(tail):
                return f"{prefix!r} must be followed by {what}"
            if prefix == "var." and tail not in variable_ids:
                return f"unknown variable {tail!r}"
            fields = _SECTION_FIELDS.get(prefix)
            if fields is not None and tail not in fields:
                return f"{ref!r} is not a field of the hit; {prefix[:-1]} has " + ", ".join(
                    sorted(fields)
                )
            return None
    return f"unknown reference {ref!r}"

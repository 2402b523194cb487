"""Secret references: what a template's `secret()` gives on a node, filled in at send time.

A node never puts a secret's value into a request it stores. `secret("access_token")`
returns a reference, `~tw-secret~CONTAINER~NAME~`, which the template places in a header,
a query string or a body like the value itself; the outbox keeps the reference, and the
sender replaces it with the current value just before the request leaves. So a token is
never at rest in the outbox, and a token rotated while rows wait for a retry is the one
the retry uses. The reference is made of URL-unreserved characters only, so it survives
`query_escape` and JSON encoding unchanged.

A template that computes with a secret (hashes or signs it) would compute with the
reference; the shipped templates only pass secrets through.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["MARK", "MissingSecret", "Resolve", "fill", "reference"]

Resolve = Callable[[str, str], "str | None"]

_REFERENCE = re.compile(r"~tw-secret~([a-z0-9][a-z0-9_-]{0,63})~([A-Za-z0-9][A-Za-z0-9_.-]{0,63})~")
MARK = "~tw-secret~"


class MissingSecret(LookupError):
    """A request refers to a secret this node does not have (any more)."""

    def __init__(self, container_id: str, name: str) -> None:
        super().__init__(
            f"secret {name!r} of container {container_id!r} is not configured on this node "
            f"(`tagwire secrets set {container_id} {name}`, then replay the row)"
        )


def reference(container_id: str, name: str) -> str:
    return f"{MARK}{container_id}~{name}~"


def fill(text: str, resolve: Resolve) -> tuple[str, list[tuple[str, str]]]:
    """`text` with every reference replaced by its value, and the (value, reference)
    pairs used, so an error message can be masked again. Raises MissingSecret."""
    if MARK not in text:
        return text, []
    used: list[tuple[str, str]] = []

    def value(match: re.Match[str]) -> str:
        found = resolve(match[1], match[2])
        if found is None:
            raise MissingSecret(match[1], match[2])
        used.append((found, match[0]))
        return found

    return _REFERENCE.sub(value, text), used

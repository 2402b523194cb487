"""Secret references: what a template's `secret()` gives on a node, filled in at send time.

A node never puts a secret's value into a request it stores. `secret("access_token")`
returns a reference, `~tw-secret~CONTAINER~NAME~MAC~`, which the template places in a
header, a query string or a body like the value itself; the outbox keeps the reference,
and the sender replaces it with the current value just before the request leaves. So a
token is never at rest in the outbox, and a token rotated while rows wait for a retry is
the one the retry uses. A reference is made of URL-unreserved characters only, so it
survives `query_escape` and JSON encoding unchanged.

Requests also carry what visitors send (page URLs, user agents, custom fields), so a
reference must not be forgeable: MAC is an HMAC of the container and the name under a
key the node keeps with its data, and only a reference with a valid MAC, belonging to
the row's own container, is filled. Anything else that looks like one is left as text.

A template that computes with a secret (hashes or signs it) would compute with the
reference; the shipped templates only pass secrets through.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from urllib.parse import quote

import orjson

__all__ = ["MARK", "Escape", "MissingSecret", "References", "Resolve", "json_text", "url_text"]

MARK = "~tw-secret~"
MAC_HEX = 24  # 96 bits: a visitor cannot guess one in any number of hits
Resolve = Callable[[str, str], "str | None"]
Escape = Callable[[str], str]

_REFERENCE = re.compile(
    r"~tw-secret~([a-z0-9][a-z0-9_-]{0,63})~([a-z0-9][a-z0-9_-]{0,63})~([0-9a-f]{24})~"
)


class MissingSecret(LookupError):
    """A request refers to a secret this node does not have (any more)."""

    def __init__(self, container_id: str, name: str) -> None:
        super().__init__(
            f"secret {name!r} of container {container_id!r} is not configured on this node "
            f"(`tagwire secrets set {container_id} {name}`, then replay the row)"
        )


class References:
    """Makes and fills references under one node key (`Store.node_key`)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a reference key needs at least 32 bytes")
        self._key = key
        # Made on every hit that uses a secret: kept per (container, name), which the
        # configuration bounds, so the hot path does one dict read instead of an HMAC.
        self._made: dict[tuple[str, str], str] = {}

    def _mac(self, container_id: str, name: str) -> str:
        message = f"{container_id}\0{name}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:MAC_HEX]

    def reference(self, container_id: str, name: str) -> str:
        made = self._made.get((container_id, name))
        if made is None:
            made = f"{MARK}{container_id}~{name}~{self._mac(container_id, name)}~"
            self._made[container_id, name] = made
        return made

    def fill(
        self, text: str, container_id: str, resolve: Resolve, escape: Escape
    ) -> tuple[str, list[tuple[str, str]]]:
        """`text` with the container's authentic references replaced by their values,
        written by `escape` for where they go (JSON, a URL), and the (value, reference)
        pairs used, so stored text can be masked again. Raises MissingSecret for an
        authentic reference without a value."""
        if MARK not in text:
            return text, []
        used: list[tuple[str, str]] = []

        def value(match: re.Match[str]) -> str:
            owner, name, mac = match[1], match[2], match[3]
            if owner != container_id or not hmac.compare_digest(mac, self._mac(owner, name)):
                return match[0]  # not this node's reference for this row: plain text
            found = resolve(owner, name)
            if found is None:
                raise MissingSecret(owner, name)
            written = escape(found)
            used.append((written, match[0]))
            if written != found:
                used.append((found, match[0]))
            return written

        return _REFERENCE.sub(value, text), used


def json_text(value: str) -> str:
    """`value` as it is written inside a JSON string."""
    return orjson.dumps(value).decode()[1:-1]


def url_text(value: str) -> str:
    """`value` percent-encoded but for unreserved characters: right in a path segment, a
    query value and a form field alike."""
    return quote(value, safe="-._~")

"""API tokens (Fire API and admin API): made once, shown once, stored only as a SHA-256.

A token is `tw_` plus 32 random bytes in base64url (43 characters): the prefix lets secret
scanners and people recognise a leaked tagwire token. The store keeps only the hash, so a
copy of the database cannot be used to call the API; a lost token is revoked and replaced,
never recovered.

A token's owner says what it may call: a container id (that container's Fire API), or
`ADMIN_CONTAINER` (`*`) for an agency-wide admin token, or `*` followed by a client id
(`*acme`) for an admin token limited to that client's containers. No container id starts
with `*`, so no owner can be read both ways.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable

from config.storage import TokenRecord, TokenStore

__all__ = [
    "ADMIN_CONTAINER",
    "REALM",
    "TOKEN_PREFIX",
    "TOUCH_EVERY_MS",
    "TokenRefused",
    "admin_owner",
    "admin_token",
    "bearer_token",
    "hash_token",
    "is_admin_owner",
    "is_token_shaped",
    "new_token",
    "owner_client",
    "token_client",
]

REALM = 'Bearer realm="tagwire"'
ADMIN_CONTAINER = "*"  # the owner of admin tokens: not a valid container id

TOKEN_PREFIX = "tw_"  # noqa: S105 - a public prefix, not a secret
TOKEN_BYTES = 32
_SHAPE = re.compile(r"tw_[A-Za-z0-9_-]{43}")
TOUCH_EVERY_MS = 60_000  # a token's last use is kept to the minute: no write per request


def admin_owner(client_id: str | None) -> str:
    """The owner of an admin token: `*` agency-wide (None), `*acme` limited to client acme."""
    if client_id is None:
        return ADMIN_CONTAINER
    if not client_id or client_id.startswith(ADMIN_CONTAINER):
        raise ValueError(f"{client_id!r} is not a client id")
    return ADMIN_CONTAINER + client_id


def is_admin_owner(owner: str) -> bool:
    """Whether a token of this owner is an admin token (agency-wide or of one client)."""
    return owner.startswith(ADMIN_CONTAINER)


def owner_client(owner: str) -> str | None:
    """The client an admin token of this owner is limited to; None for an agency-wide
    admin token and for a container's Fire API token."""
    if not is_admin_owner(owner):
        return None
    return owner[len(ADMIN_CONTAINER) :] or None


def token_client(record: TokenRecord) -> str | None:
    """The client a stored token is limited to (see `owner_client`)."""
    return owner_client(record.container_id)


def new_token() -> str:
    """A fresh random token, to show to the user once."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What the store keeps and looks tokens up by: lowercase hex SHA-256 of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_token_shaped(text: str) -> bool:
    """Whether `text` can be a token at all (anything else is refused without a lookup)."""
    return _SHAPE.fullmatch(text) is not None


class TokenRefused(Exception):
    """The request's bearer token is missing, malformed, unknown or revoked: answer
    `status` with `reason` about the `Authorization` header and these headers."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}


async def bearer_token(
    header: str | None,
    find: Callable[[str], Awaitable[TokenRecord | None]],
    expected: str,
) -> TokenRecord:
    """The stored record of the request's `Authorization: Bearer` token.

    `expected` names the token in messages (`token of the container`, `admin token`).
    Raises TokenRefused (401 missing/malformed/unknown, 403 revoked); a store error from
    `find` goes up unchanged, because it is the node's problem, not the caller's.
    """
    if header is None:
        raise TokenRefused(
            401, f"required: 'Authorization: Bearer <{expected}>'", {"www-authenticate": REALM}
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise TokenRefused(
            401,
            f"must be 'Bearer <{expected}>'",
            {"www-authenticate": f'{REALM}, error="invalid_request"'},
        )
    invalid = {"www-authenticate": f'{REALM}, error="invalid_token"'}
    if not is_token_shaped(token):
        raise TokenRefused(401, "not a tagwire token (tw_...)", invalid)
    record = await find(hash_token(token))
    if record is None:
        raise TokenRefused(401, "unknown token", invalid)
    if record.revoked_at is not None:
        raise TokenRefused(
            403,
            f"token {record.name!r} was revoked; create a new one with 'tagwire tokens create'",
        )
    return record


async def admin_token(header: str | None, store: TokenStore, now_ms: int) -> TokenRecord:
    """The stored record of the request's admin token, for every admin route (outbox,
    history, config): `bearer_token`'s refusals, and 403 for a container's Fire API token.
    Both kinds of admin token pass: a route that serves only some of what an agency-wide
    token may see checks `token_client(record)` itself. Its last use is recorded to the
    minute, so polling nodes do not write per request."""
    record = await bearer_token(header, store.find_token, "admin token")
    if not is_admin_owner(record.container_id):
        raise TokenRefused(
            403,
            f"a Fire API token of container {record.container_id!r} cannot use the admin "
            "API; create an admin token with 'tagwire tokens create --admin --name NAME'",
        )
    if record.last_used_at is None or now_ms - record.last_used_at >= TOUCH_EVERY_MS:
        await store.touch_token(record.id, now_ms)
    return record

"""API tokens (Fire API and admin API): made once, shown once, stored only as a SHA-256.

A token is `tw_` plus 32 random bytes in base64url (43 characters): the prefix lets secret
scanners and people recognise a leaked tagwire token. The store keeps only the hash, so a
copy of the database cannot be used to call the API; a lost token is revoked and replaced,
never recovered.
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
    "admin_token",
    "bearer_token",
    "hash_token",
    "is_token_shaped",
    "new_token",
]

REALM = 'Bearer realm="tagwire"'
ADMIN_CONTAINER = "*"  # the owner of admin tokens: not a valid container id

TOKEN_PREFIX = "tw_"  # noqa: S105 - a public prefix, not a secret
TOKEN_BYTES = 32
_SHAPE = re.compile(r"tw_[A-Za-z0-9_-]{43}")
TOUCH_EVERY_MS = 60_000  # a token's last use is kept to the minute: no write per request


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
    Its last use is recorded to the minute, so polling nodes do not write per request."""
    record = await bearer_token(header, store.find_token, "admin token")
    if record.container_id != ADMIN_CONTAINER:
        raise TokenRefused(
            403,
            f"a Fire API token of container {record.container_id!r} cannot use the admin "
            "API; create an admin token with 'tagwire tokens create --admin --name NAME'",
        )
    if record.last_used_at is None or now_ms - record.last_used_at >= TOUCH_EVERY_MS:
        await store.touch_token(record.id, now_ms)
    return record

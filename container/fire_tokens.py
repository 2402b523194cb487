"""Fire API tokens: made once, shown once, stored only as a SHA-256.

A token is `tw_` plus 32 random bytes in base64url (43 characters): the prefix lets secret
scanners and people recognise a leaked tagwire token. The store keeps only the hash, so a
copy of the database cannot be used to call the API; a lost token is revoked and replaced,
never recovered.
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["TOKEN_PREFIX", "hash_token", "is_token_shaped", "new_token"]

TOKEN_PREFIX = "tw_"  # noqa: S105 - a public prefix, not a secret
TOKEN_BYTES = 32
_SHAPE = re.compile(r"tw_[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """A fresh random token, to show to the user once."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What the store keeps and looks tokens up by: lowercase hex SHA-256 of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_token_shaped(text: str) -> bool:
    """Whether `text` can be a token at all (anything else is refused without a lookup)."""
    return _SHAPE.fullmatch(text) is not None

"""Password hashing for admin UI users: scrypt from the standard library.

A hash is one self-describing string (`scrypt$n$r$p$salt$key`, base64 without padding),
so the cost can be raised later and old hashes still verify. Verification compares in
constant time. The policy is length only (NIST SP 800-63B): 12 to 256 characters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "PasswordRejected", "check_password", "hash_password",
           "verify_password"]  # fmt: skip

MIN_PASSWORD = 12
MAX_PASSWORD = 256
_N, _R, _P = 2**15, 8, 1  # ~32 MiB and tens of ms per hash: slow for a guesser, fine at sign-in
_MAXMEM = 64 * 1024 * 1024


class PasswordRejected(ValueError):
    """A new password the policy refuses; the message says why."""


def check_password(password: str) -> str:
    """The password when the policy accepts it, else PasswordRejected."""
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordRejected(f"must be at most {MAX_PASSWORD} characters")
    return password


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches `stored`; False for a wrong password or a hash this
    version cannot read (never raises, so a damaged row cannot take sign-in down)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(key)
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
            maxmem=_MAXMEM, dklen=len(expected),
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)

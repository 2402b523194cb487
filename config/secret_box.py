"""Tag secrets encrypted at rest: AES-256-GCM under one key the operator holds.

The store keeps only nonce and ciphertext; the key comes from the environment variable
TAGWIRE_SECRETS_KEY, so a copy of the database alone reveals no platform token. The
associated data binds each ciphertext to its container and secret name: a row copied to
another name or container fails to open instead of handing one tag another's token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEY_BYTES", "NONCE_BYTES", "SecretBox", "SecretKeyError", "generate_key"]

KEY_BYTES = 32
NONCE_BYTES = 12
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_MAKE_ONE = "make one with 'openssl rand -base64 32'"


class SecretKeyError(ValueError):
    """A secrets key that cannot be used, or a secret it cannot open; never holds a value."""


def generate_key() -> str:
    """A new key: 32 random bytes as unpadded base64url text."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).rstrip(b"=").decode("ascii")


class SecretBox:
    """Seals and opens secret values with one AES-256-GCM key."""

    __slots__ = ("_aead", "key_id")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            size = len(key) if isinstance(key, bytes) else type(key).__name__
            raise SecretKeyError(f"a secrets key is {KEY_BYTES} bytes, not {size}; {_MAKE_ONE}")
        self._aead = AESGCM(key)
        # which key sealed a row, so a rotated key can be told apart without trying it
        self.key_id = hashlib.sha256(b"tagwire-secrets-key" + key).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> SecretBox:
        """The key in `text`: base64url or standard base64, with or without padding."""
        text = text.strip()
        if not _BASE64.fullmatch(text):
            raise SecretKeyError(
                f"TAGWIRE_SECRETS_KEY is not base64 text of {KEY_BYTES} bytes; {_MAKE_ONE}"
            )
        body = text.rstrip("=").replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise SecretKeyError(
                f"TAGWIRE_SECRETS_KEY is not valid base64 (its length is off); {_MAKE_ONE}"
            ) from None
        if len(key) != KEY_BYTES:
            raise SecretKeyError(
                f"TAGWIRE_SECRETS_KEY holds {len(key)} bytes; it must hold {KEY_BYTES} "
                f"(AES-256); {_MAKE_ONE}"
            )
        return cls(key)

    def seal(self, container_id: str, name: str, value: str) -> tuple[bytes, bytes]:
        """(nonce, ciphertext) of `value` as secret `name` of `container_id`."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, value.encode("utf-8"), _aad(container_id, name))

    def open(self, container_id: str, name: str, nonce: bytes, ciphertext: bytes) -> str:
        """The value sealed as secret `name` of `container_id`; raises `SecretKeyError`
        if another key sealed it, it was changed, or it was sealed for another secret."""
        try:
            plain = self._aead.decrypt(nonce, ciphertext, _aad(container_id, name))
        except (InvalidTag, ValueError):
            raise SecretKeyError(
                f"secret {name!r} of container {container_id!r} cannot be opened with key "
                f"{self.key_id}: it was sealed with another TAGWIRE_SECRETS_KEY, altered in "
                "the store, or copied from another secret or container; set it again"
            ) from None
        return plain.decode("utf-8")

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r})"


def _aad(container_id: str, name: str) -> bytes:
    # NUL cannot occur in a container id or a secret name, so the pair reads back one way.
    return b"tagwire-secret\0" + container_id.encode("utf-8") + b"\0" + name.encode("utf-8")

"""Preview tokens: what a preview link carries and the preview cookie holds.

A token names a preview session and when it stops being honoured, under an HMAC with a
key kept in the shared store (`Store.node_key(PREVIEW_KEY)`), so the control plane that
makes the link and every node that reads the cookie agree without talking to each other.
The session id alone would do as a bearer secret; the signature lets a node drop a forged
or expired cookie before any lookup, and a revoked session is refused by the node's list
of active sessions, which it reads from the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["PREVIEW_KEY", "PreviewTokens", "TokenRejected"]

PREVIEW_KEY = "preview-tokens"
_SIGNATURE_BYTES = 18  # 144 bits
_TOKEN = re.compile(r"([A-Za-z0-9_-]{16,64})\.([0-9]{1,15})\.([A-Za-z0-9_-]{24})")


class TokenRejected(ValueError):
    """A preview token that is malformed, forged or expired; `reason` is one of those."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PreviewTokens:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a preview token key needs at least 32 bytes")
        self._key = key

    def _sign(self, session_id: str, expires_ms: int) -> str:
        mac = hmac.new(self._key, f"{session_id}.{expires_ms}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:_SIGNATURE_BYTES]).decode()

    def make(self, session_id: str, expires_ms: int) -> str:
        return f"{session_id}.{expires_ms}.{self._sign(session_id, expires_ms)}"

    def read(self, token: str, now_ms: int) -> tuple[str, int]:
        """(session id, expiry) of a valid token; raises TokenRejected."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise TokenRejected("malformed")
        session_id, expires_text, signature = match.groups()
        expires_ms = int(expires_text)
        if not hmac.compare_digest(signature, self._sign(session_id, expires_ms)):
            raise TokenRejected("forged")
        if expires_ms <= now_ms:
            raise TokenRejected("expired")
        return session_id, expires_ms

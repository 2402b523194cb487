"""Idempotency-Key for the Fire API: a retried request gets the first answer, not a rerun.

The answer to the first request with a key is stored with a fingerprint of its body; a
retry with the same key and body within the TTL gets that answer again, a retry with
another body is refused. Requests with the same key wait for each other on one node
(an asyncio lock per key), so two concurrent copies never both run the tags. The lock is
per process: nodes that do not share a store do not share keys either (docs/fire-api.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

__all__ = ["HEADER", "REPLAYED_HEADER", "KeyLocks", "fingerprint", "valid_key"]

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def valid_key(key: str) -> bool:
    """1-255 printable ASCII characters without spaces (a UUID fits)."""
    return _KEY.fullmatch(key) is not None


def fingerprint(container_id: str, body: Any) -> str:
    """SHA-256 of the container and the body as canonical JSON (sorted keys), so a client
    that serialises the same request differently is not told it changed.

    Raises TypeError for JSON nested more than 254 levels (never a valid event).
    """
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(container_id.encode("utf-8") + b"\x00" + canonical).hexdigest()


class KeyLocks:
    """One lock per (container, key) while a request holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    def users(self, container_id: str, key: str) -> int:
        """How many requests hold or wait for the key's lock (0: no lock exists)."""
        entry = self._locks.get((container_id, key))
        return entry[1] if entry else 0

    @contextlib.asynccontextmanager
    async def hold(self, container_id: str, key: str) -> AsyncIterator[None]:
        name = (container_id, key)
        lock, users = self._locks.get(name, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)

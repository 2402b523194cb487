"""Tag secrets as a node holds them: decrypted in memory, looked up by container and name.

Templates read secrets while a hit runs, so the lookup is a dict read; the store is only
read by `refresh`, which the config watcher calls on its schedule. A rotated secret is
therefore live within one reload interval, without a new container version. Values are
never logged: log lines name the container and the secret only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from config.secret_box import SecretBox, SecretKeyError
from config.storage import StoredSecret

__all__ = ["NodeSecrets", "SecretSource"]

log = logging.getLogger("tagwire.secrets")

Lookup = Callable[[str], "str | None"]


class SecretSource(Protocol):
    """The store, or a control plane over HTTP: ciphertexts only, never values."""

    async def list_secrets(self, container_id: str | None) -> list[StoredSecret]: ...


class NodeSecrets:
    """`fallback` answers names the store does not hold (`TAGWIRE_SECRET_<NAME>`)."""

    def __init__(self, source: SecretSource, box: SecretBox | None, fallback: Lookup) -> None:
        self.source = source
        self.box = box
        self.fallback = fallback
        self._values: dict[tuple[str, str], str] = {}
        self._seen: dict[tuple[str, str], bytes] = {}
        self._warned_no_key = False

    def lookup_for(self, container_id: str) -> Lookup:
        """The lookup a container's templates use: its own secrets, then the fallback."""

        def lookup(name: str) -> str | None:
            # Reads self._values at call time, so a refresh reaches templates compiled before.
            return self._values.get((container_id, name)) or self.fallback(name)

        return lookup

    async def refresh(self) -> None:
        """Decrypt what changed since the last refresh; drop what was deleted."""
        stored = await self.source.list_secrets(None)
        if stored and self.box is None:
            if not self._warned_no_key:
                log.error(
                    "secrets are stored but this node has no TAGWIRE_SECRETS_KEY to read them",
                    extra={"fields": {"secrets": len(stored)}},
                )
                self._warned_no_key = True
            return
        values = dict(self._values)
        seen = dict(self._seen)
        current = set()
        for secret in stored:
            key = (secret.container_id, secret.name)
            current.add(key)
            if seen.get(key) == secret.nonce:
                continue
            assert self.box is not None
            try:
                values[key] = self.box.open(
                    secret.container_id, secret.name, secret.nonce, secret.ciphertext
                )
            except SecretKeyError as exc:
                values.pop(key, None)
                log.error(
                    "cannot decrypt a stored secret",
                    extra={
                        "fields": {
                            "container": secret.container_id,
                            "secret": secret.name,
                            "reason": str(exc),
                        }
                    },
                )
            seen[key] = secret.nonce
        for key in set(values) - current:
            del values[key]
        for key in set(seen) - current:
            del seen[key]
        self._values = values
        self._seen = seen

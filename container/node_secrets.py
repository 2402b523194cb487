"""Tag secrets as a node holds them: decrypted in memory, looked up by container and name.

Templates get a reference to a secret (`container.secret_refs`), never its value; the
sender has `fill` put the values in when a request leaves. Both are dict reads: the store is only
read by `refresh`, which the config watcher calls on its schedule, so a rotated secret
is live within one reload interval, without a new container version, and also for rows
already waiting in the outbox. Values are never logged: log lines name the container and
the secret only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from config.secret_box import SecretBox, SecretKeyError
from config.storage import StoredSecret
from container.secret_refs import Escape, References

__all__ = ["NodeSecrets", "SecretSource"]

log = logging.getLogger("tagwire.secrets")

Lookup = Callable[[str], "str | None"]


class SecretSource(Protocol):
    """The store, or a control plane over HTTP: ciphertexts only, never values."""

    async def list_secrets(self, container_id: str | None) -> list[StoredSecret]: ...


class NodeSecrets:
    """`fallback` answers names the store does not hold (`TAGWIRE_SECRET_<NAME>`);
    `source` None means no stored secrets (a node serving container files)."""

    def __init__(
        self, source: SecretSource | None, box: SecretBox | None, fallback: Lookup
    ) -> None:
        self.source = source
        self.box = box
        self.fallback = fallback
        self._values: dict[tuple[str, str], str] = {}
        self._seen: dict[tuple[str, str], bytes] = {}
        # Stored but unreadable (another TAGWIRE_SECRETS_KEY): never replaced by the
        # fallback, which may hold another token.
        self._broken: frozenset[tuple[str, str]] = frozenset()
        self._warned_no_key = False
        self._references: References | None = None

    def use_key(self, key: bytes) -> None:
        """The node key references are signed with (`SecretStore.node_key`); set before the
        first hit, so that rows queued by an earlier process stay fillable."""
        self._references = References(key)

    def value(self, container_id: str, name: str) -> str | None:
        """The current value: the container's stored secret, then the fallback."""
        key = (container_id, name)
        if key in self._broken:
            return None
        return self._values.get(key) or self.fallback(name)

    def lookup_for(self, container_id: str) -> Lookup:
        """The lookup a container's templates use: a reference to the secret when this
        node has a value for it (None otherwise, so the tag fails at once, saying so)."""

        def lookup(name: str) -> str | None:
            if self.value(container_id, name) is None:
                return None
            return self._signer().reference(container_id, name)

        return lookup

    def fill(
        self, text: str, container_id: str, escape: Escape
    ) -> tuple[str, list[tuple[str, str]]]:
        """`text` with the container's references replaced by the current values (see
        `References.fill`); raises MissingSecret."""
        return self._signer().fill(text, container_id, self.value, escape)

    def named(self, text: str, container_id: str) -> list[tuple[str, str]]:
        """(name, current value) of each of the container's authentic references in `text`,
        in order; anything else is skipped. Raises MissingSecret."""
        found: list[tuple[str, str]] = []

        def resolve(owner: str, name: str) -> str | None:
            value = self.value(owner, name)
            if value is not None:
                found.append((name, value))
            return value

        self._signer().fill(text, container_id, resolve, str)
        return found

    def _signer(self) -> References:
        if self._references is None:
            raise RuntimeError("NodeSecrets.use_key must be called before secrets are used")
        return self._references

    async def refresh(self) -> None:
        """Decrypt what changed since the last refresh; drop what was deleted."""
        if self.source is None:
            return
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
        broken = set(self._broken)
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
                broken.discard(key)
            except SecretKeyError as exc:
                values.pop(key, None)
                broken.add(key)
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
        self._broken = frozenset(broken & current)

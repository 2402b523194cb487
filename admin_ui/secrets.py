"""Operator actions on tag secrets (platform tokens): set or rotate one, delete one,
list them. Values are sealed with `config.secret_box` before they reach the store, and no
action ever gives one back: listings carry names, authors and key ids only.

A secret may be set before its container's document is imported (the setup order is
the operator's choice), so `set_secret` reports an unknown container instead of
refusing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from admin_ui.containers import check_container_id
from admin_ui.errors import FieldError, NotConfigured, NotFound
from admin_ui.times import now_ms
from config.secret_box import SecretBox
from config.storage import SecretStore, StoredSecret, VersionStore

__all__ = [
    "SECRET_NAME",
    "VALUE_LIMIT",
    "SecretSet",
    "check_secret_name",
    "check_secret_value",
    "delete_secret",
    "secret_box",
    "secret_records",
    "set_secret",
]

# The rule tags and documents use: a secret nobody can name is a mistake, not a secret.
SECRET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
VALUE_LIMIT = 16_384

Clock = Callable[[], int]


@dataclass(frozen=True, slots=True)
class SecretSet:
    """What setting a secret did: the key that sealed it, and whether the store knows its
    container yet (nodes use it once the container is imported and published)."""

    key_id: str
    container_known: bool


def check_secret_name(text: str) -> str:
    if not SECRET_NAME.fullmatch(text):
        raise FieldError(
            "name",
            f"{text!r} is not a secret name: 1 to 64 lower-case letters, digits, '_' and "
            "'-', starting with a letter or digit (the value of a tag's secret parameter)",
        )
    return text


def check_secret_value(value: str) -> str:
    if not value:
        raise FieldError("value", "the secret value is empty")
    if len(value) > VALUE_LIMIT:
        raise FieldError(
            "value", f"the secret value is {len(value)} characters; at most {VALUE_LIMIT}"
        )
    return value


def secret_box(key: str | None) -> SecretBox:
    """The box for TAGWIRE_SECRETS_KEY; NotConfigured without one, before any value is
    asked for."""
    if not key:
        raise NotConfigured(
            "TAGWIRE_SECRETS_KEY is not set: make a key with `tagwire secrets key` and give "
            "the same one to the control plane and every node"
        )
    return SecretBox.from_text(key)


class SecretsAndContainers(SecretStore, VersionStore, Protocol):
    """What setting a secret uses: the secrets, and the containers to say whether the
    secret's container is known yet."""

async def set_secret(
    store: SecretsAndContainers,
    box: SecretBox,
    container_id: str,
    name: str,
    value: str,
    actor: str,
    clock: Clock = now_ms,
) -> SecretSet:
    """Store `value` sealed for the container and name, replacing (rotating) any earlier
    one; the store audits it as `secret.set` without the value."""
    check_container_id(container_id)
    check_secret_name(name)
    nonce, ciphertext = box.seal(container_id, name, check_secret_value(value))
    known = container_id in await store.list_containers()
    await store.put_secret(
        StoredSecret(
            container_id=container_id,
            name=name,
            nonce=nonce,
            ciphertext=ciphertext,
            key_id=box.key_id,
            updated_at_ms=clock(),
            updated_by=actor,
        )
    )
    return SecretSet(box.key_id, known)


async def delete_secret(
    store: SecretStore, container_id: str, name: str, actor: str, clock: Clock = now_ms
) -> None:
    """Remove a secret (audited as `secret.delete`); NotFound when there is none."""
    check_container_id(container_id)
    check_secret_name(name)
    if not await store.delete_secret(container_id, name, actor, clock()):
        raise NotFound(f"container {container_id!r} has no secret {name!r}")


async def secret_records(store: SecretStore, container_id: str | None) -> list[dict[str, Any]]:
    """Secrets of one container (None: all) as operators see them: never a value."""
    return [
        {
            "container": s.container_id,
            "name": s.name,
            "updated_at_ms": s.updated_at_ms,
            "updated_by": s.updated_by,
            "key_id": s.key_id,
        }
        for s in await store.list_secrets(container_id)
    ]

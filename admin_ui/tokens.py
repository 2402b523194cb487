"""Operator actions on API tokens: create one (shown once), revoke one, list them.

A token belongs to one container (it may call that container's Fire API) or to the
admin API: agency-wide (owner `config.tokens.ADMIN_CONTAINER`, which no container can
have) or limited to one client's containers (owner `config.tokens.admin_owner(client)`,
`*acme`). Making and checking tokens is `config.tokens`, because the data plane checks
them too; this module adds what an operator's action needs: the name rule, refusing a
container nobody serves or a client that does not exist, and the audit trail (a stored
row and a `tagwire.audit` line).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from admin_ui.audit import Actor, audit
from admin_ui.containers import check_container_id, require_container
from admin_ui.errors import FieldError, NotFound
from admin_ui.people import check_client_id
from admin_ui.times import iso, now_ms
from config.storage import AuditStore, Client, TokenNameTaken, TokenRecord, TokenStore, VersionStore
from config.tokens import hash_token, is_admin_owner, new_token, owner_client

__all__ = [
    "TOKEN_NAME",
    "UnknownClient",
    "check_token_name",
    "create_token",
    "describe",
    "revoke_token",
    "token_records",
]

# Names show up in logs and audit lines: plain, short.
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Said when a container for a token is unknown: tokens are also made for file-served nodes.
_FILE_HINT = (
    "; for a container a node serves from a file (`tagwire serve --container FILE`), give "
    "that file: `tagwire tokens create --document FILE` or TAGWIRE_CONTAINERS"
)

Clock = Callable[[], int]


def check_token_name(text: str) -> str:
    if not TOKEN_NAME.fullmatch(text):
        raise FieldError(
            "name",
            f"{text!r} is not a token name (1-64 of A-Z, a-z, 0-9, '_', '.', '-', starting "
            "with one of A-Z, a-z, 0-9)",
        )
    return text


class UnknownClient(NotFound):
    """An admin token was asked for a client the store does not hold."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        super().__init__(
            f"no client {client_id!r}; an admin token can be limited only to an existing "
            f"client: see 'tagwire clients create', or leave out --client for an "
            "agency-wide admin token"
        )


def describe(owner: str, name: str) -> str:
    """How messages name a token: `admin token 'ops'`, `admin token 'ops' of client
    'acme'`, `token 'crm' of container 'shop'`."""
    if is_admin_owner(owner):
        client = owner_client(owner)
        if client is None:
            return f"admin token {name!r}"
        return f"admin token {name!r} of client {client!r}"
    return f"token {name!r} of container {owner!r}"


class AuditedTokens(TokenStore, AuditStore, Protocol):
    """Tokens, and the audit log their changes go to."""


class KnownClients(Protocol):
    """The clients an admin token may be limited to (from `AccountStore`)."""

    async def get_client(self, client_id: str) -> Client | None: ...


class TokenIssuer(AuditedTokens, VersionStore, KnownClients, Protocol):
    """What issuing a token uses: audited tokens, the containers a Fire API token may be
    for, and the clients an admin token may be limited to."""


def _check_owner(owner: str) -> str | None:
    """Check an owner's form: a container id, `*`, or `*` and a client id; its client."""
    if not is_admin_owner(owner):
        check_container_id(owner)
        return None
    client = owner_client(owner)
    return None if client is None else check_client_id(client)


def _audit_detail(owner: str, name: str) -> dict[str, Any]:
    client = owner_client(owner)
    return {"name": name} if client is None else {"name": name, "client": client}


async def create_token(
    store: TokenIssuer,
    owner: str,
    name: str,
    actor: Actor,
    files: Sequence[Path] = (),
    clock: Clock = now_ms,
) -> str:
    """A new token for `owner` (a container id, ADMIN_CONTAINER, or `admin_owner(client)`),
    to show once: only its hash is stored. A container must be in the store or be the
    container of one of `files` (documents a node serves from files), so a typo never
    makes a working token for a container nothing serves; a client must be in the store
    (UnknownClient). Raises TokenNameTaken (a StorageError) when the owner already has a
    live token with that name."""
    check_token_name(name)
    client = _check_owner(owner)
    if not is_admin_owner(owner):
        await require_container(store, owner, files, _FILE_HINT)
    elif client is not None and await store.get_client(client) is None:
        raise UnknownClient(client)
    token = new_token()
    try:
        await store.create_token(owner, name, hash_token(token), clock())
    except TokenNameTaken:
        if not is_admin_owner(owner):
            raise
        raise TokenNameTaken(
            f"there is already a live {describe(owner, name)}; revoke it first or choose "
            "another name"
        ) from None
    detail = _audit_detail(owner, name)
    await store.add_audit(actor.who, "token.create", owner, detail, clock())
    audit(actor, "token create", {"container": owner, **detail})
    return token


async def revoke_token(
    store: AuditedTokens, owner: str, name: str, actor: Actor, clock: Clock = now_ms
) -> None:
    """Revoke the owner's live token by name: requests with it get 403 from then on.
    The attempt is logged either way; NotFound when there was no live token."""
    check_token_name(name)
    _check_owner(owner)
    detail = _audit_detail(owner, name)
    revoked = await store.revoke_token(owner, name, clock())
    if revoked:
        await store.add_audit(actor.who, "token.revoke", owner, detail, clock())
    audit(actor, "token revoke", {"container": owner, **detail, "revoked": revoked})
    if not revoked:
        raise NotFound(f"no live {describe(owner, name)}; see 'tagwire tokens list'")


async def token_records(store: TokenStore, owner: str | None) -> list[dict[str, Any]]:
    """Tokens of one owner (None: all), revoked ones too, as operators see them: never
    the token or its hash."""
    return [_record(token) for token in await store.list_tokens(owner)]


def _record(token: TokenRecord) -> dict[str, Any]:
    return {
        "container": token.container_id,
        "name": token.name,
        "admin": is_admin_owner(token.container_id),
        "client": owner_client(token.container_id),
        "state": "revoked" if token.revoked_at is not None else "live",
        "created_at": iso(token.created_at),
        "last_used_at": None if token.last_used_at is None else iso(token.last_used_at),
        "revoked_at": None if token.revoked_at is None else iso(token.revoked_at),
    }

"""The config API: what nodes on other machines pull from a control-plane node.

A node that does not share the control plane's database (`TAGWIRE_CONFIG_URL`) reads the
environment pointers, the signed versions and the sealed secrets here, with an
agency-wide admin token: a node serves every container, so an admin token limited to one
client (`tagwire tokens create --admin --client ID`) is refused with 403. A version is
trusted by the node that reads it only once its signature checks out with the node's own
public key, and secrets leave only as the ciphertexts the store holds. The pointers are
not signed: a proxy in between could point an environment at another signed version, so
nodes reach this API over https (see docs/versions.md).

The two lists carry a strong ETag, so a node polling every reload interval gets a 304
with no body while nothing changed. A version never changes once created, so it is
cacheable for good. See docs/versions.md, "Nodes on other machines".
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from admin_ui.times import now_ms
from config.storage import (
    Environment,
    SecretStore,
    StorageError,
    StoredSecret,
    StoredVersion,
    TokenStore,
    VersionStore,
)
from config.tokens import TokenRefused, admin_token, token_client

__all__ = ["PREFIX", "ConfigEndpoint", "b64url"]

log = logging.getLogger("tagwire.config_api")

PREFIX = "/api/v1/config"
MAX_NUMBER = 2**53  # version numbers stay exact in every JSON reader
_JSON = "application/json"
_LISTS = "private, no-cache"  # any cache must ask again (with the ETag) before reusing
_IMMUTABLE = "private, max-age=31536000, immutable"

Clock = Callable[[], int]


class _Refusal(Exception):
    """Ends a request with a status and one error naming the field."""

    def __init__(
        self, status: int, field: str, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.body = {"errors": [{"field": field, "reason": reason}]}
        self.headers = headers or {}


def b64url(data: bytes) -> str:
    """Unpadded base64url, as tokens are written."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    """If-None-Match holds `etag` (weak comparison, as RFC 9110 asks for this header)."""
    if header is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


class ConfigStore(VersionStore, SecretStore, TokenStore, Protocol):
    """What the config API reads: environments and versions, sealed secrets, and the
    admin tokens edge nodes authenticate with."""


class ConfigEndpoint:
    """Serves the store's environments, versions and sealed secrets to admin tokens."""

    def __init__(self, store: ConfigStore, clock: Clock = now_ms) -> None:
        self._store = store
        self._clock = clock

    def routes(self) -> list[BaseRoute]:
        get = ["GET"]
        return [
            Route(f"{PREFIX}/environments", self._endpoint(self._environments), methods=get),
            Route(
                f"{PREFIX}/versions/{{container}}/{{number}}",
                self._endpoint(self._version),
                methods=get,
            ),
            Route(f"{PREFIX}/secrets", self._endpoint(self._secrets), methods=get),
        ]

    def _endpoint(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                await self._authenticate(request)
                return await handler(request)
            except _Refusal as refusal:
                return _json(refusal.body, refusal.status, refusal.headers)
            except StorageError as exc:
                log.error("config api store failed", extra={"fields": {"error": str(exc)}})
                body = {"errors": [{"field": "store", "reason": "temporarily unavailable; retry"}]}
                return _json(body, 503, {"retry-after": "5"})

        return endpoint

    async def _authenticate(self, request: Request) -> None:
        try:
            token = await admin_token(
                request.headers.get("authorization"), self._store, self._clock()
            )
        except TokenRefused as refused:
            raise _Refusal(
                refused.status, "Authorization", refused.reason, refused.headers
            ) from None
        client = token_client(token)
        if client is not None:
            raise _Refusal(
                403,
                "Authorization",
                f"admin token {token.name!r} is limited to client {client!r}; nodes pull "
                "every container's config, so use an agency-wide admin token "
                "('tagwire tokens create --admin --name NAME')",
            )

    async def _environments(self, request: Request) -> Response:
        environments = await self._store.list_environments(None)
        return _listing(request, {"environments": [_environment_json(e) for e in environments]})

    async def _secrets(self, request: Request) -> Response:
        secrets = await self._store.list_secrets(None)
        return _listing(request, {"secrets": [_secret_json(s) for s in secrets]})

    async def _version(self, request: Request) -> Response:
        container_id = request.path_params["container"]
        text = request.path_params["number"]
        number = int(text) if text.isascii() and text.isdigit() else 0
        if not 1 <= number <= MAX_NUMBER:
            raise _Refusal(400, "number", f"must be a whole number from 1 to {MAX_NUMBER}")
        version = await self._store.get_version(container_id, number)
        if version is None:
            if await self._store.latest_version(container_id) is None:
                raise _Refusal(404, "container", f"no container {container_id!r} in the store")
            raise _Refusal(404, "number", f"container {container_id!r} has no version {number}")
        return _json(_version_json(version), 200, {"cache-control": _IMMUTABLE})


def _listing(request: Request, body: dict[str, Any]) -> Response:
    """A list with its ETag; 304 when the caller already holds these exact bytes."""
    payload = orjson.dumps(body)
    etag = _etag(payload)
    headers = {"etag": etag, "cache-control": _LISTS}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(payload, 200, headers, media_type=_JSON)


def _json(body: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type=_JSON)


def _environment_json(environment: Environment) -> dict[str, Any]:
    return {
        "container": environment.container_id,
        "env": environment.name,
        "version": environment.version,
        "updated_at_ms": environment.updated_at_ms,
        "updated_by": environment.updated_by,
    }


def _version_json(version: StoredVersion) -> dict[str, Any]:
    # The signed bytes are canonical JSON, so UTF-8. A row changed in the store may not
    # be; it goes out with replacement characters and fails the reader's signature check.
    return {
        "container": version.container_id,
        "number": version.number,
        "parent": version.parent,
        "author": version.author,
        "note": version.note,
        "created_at_ms": version.created_at_ms,
        "key_id": version.key_id,
        "signature": version.signature,
        "body": version.body.decode("utf-8", errors="replace"),
    }


def _secret_json(secret: StoredSecret) -> dict[str, Any]:
    return {
        "container": secret.container_id,
        "name": secret.name,
        "nonce": b64url(secret.nonce),
        "ciphertext": b64url(secret.ciphertext),
        "key_id": secret.key_id,
        "updated_at_ms": secret.updated_at_ms,
        "updated_by": secret.updated_by,
    }

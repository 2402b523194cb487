"""A node's config from a control-plane node over HTTP, for nodes on other machines.

`HttpConfigSource` is the `ConfigSource` and `SecretSource` of a node whose
`TAGWIRE_CONFIG_URL` is set: it reads the config API (`admin_ui.config_api`) instead of
the store. It trusts the transport no more than the store: the watcher checks every
version's signature, and secrets arrive sealed. What it does check is shape: whatever
the other end answers (a broken proxy, a hostile server), a wrong type becomes a
`ConfigSourceError`, which the watcher logs before trying again, and never an exception
that stops the node.

The two lists are polled with If-None-Match, so an unchanged control plane answers 304
and the node reuses what it parsed last time.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson

from config.storage import Environment, StorageError, StoredSecret, StoredVersion

__all__ = ["MAX_RESPONSE_BYTES", "ConfigSourceError", "HttpConfigSource"]

PREFIX = "/api/v1/config"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a control plane cannot make a node run out of memory
_B64URL = re.compile(r"[A-Za-z0-9_-]*")

T = TypeVar("T")


class ConfigSourceError(StorageError):
    """The control plane cannot be read, or answered something that is not the config
    API. The message names the URL and the reason, never the token."""


class _Shape(Exception):
    """A field of the answer has the wrong type; the message says which."""


class HttpConfigSource:
    """Reads the config API of the node at `base_url` with the admin `token`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            headers={"authorization": f"Bearer {token}", "accept": "application/json"},
            timeout=timeout,
            follow_redirects=False,  # a redirect could carry the token elsewhere
            transport=transport,
        )
        self._cache: dict[str, tuple[str, Any]] = {}

    async def list_environments(self, container_id: str | None) -> list[Environment]:
        found = await self._listing("/environments", "environments", _environment)
        return [e for e in found if container_id is None or e.container_id == container_id]

    async def list_secrets(self, container_id: str | None) -> list[StoredSecret]:
        found = await self._listing("/secrets", "secrets", _secret)
        return [s for s in found if container_id is None or s.container_id == container_id]

    async def get_version(self, container_id: str, number: int) -> StoredVersion | None:
        url = f"{self.base_url}{PREFIX}/versions/{quote(container_id, safe='')}/{number}"
        status, _, body = await self._get(url, {})
        if status == 404:
            return None
        if status != 200:
            raise ConfigSourceError(f"{url}: {_refusal(status, body)}")
        try:
            return _version(_object(_parse(body)))
        except _Shape as exc:
            raise ConfigSourceError(f"{url}: {exc}") from None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _listing(self, path: str, key: str, item: Callable[[dict[str, Any]], T]) -> list[T]:
        """A list endpoint's items; the cached ones when it answers 304 to our ETag."""
        url = f"{self.base_url}{PREFIX}{path}"
        cached = self._cache.get(path)
        headers = {"if-none-match": cached[0]} if cached is not None else {}
        status, etag, body = await self._get(url, headers)
        if status == 304 and cached is not None:
            return list(cached[1])
        if status != 200:
            raise ConfigSourceError(f"{url}: {_refusal(status, body)}")
        try:
            items = _object(_parse(body)).get(key)
            if not isinstance(items, list):
                raise _Shape(f"{key!r} must be a list")
            parsed = [item(_object(entry)) for entry in items]
        except _Shape as exc:
            raise ConfigSourceError(f"{url}: {exc}") from None
        if etag:
            self._cache[path] = (etag, parsed)
        else:
            self._cache.pop(path, None)
        return list(parsed)

    async def _get(self, url: str, headers: dict[str, str]) -> tuple[int, str | None, bytes]:
        """(status, ETag, body) of a GET; transport failures and oversized answers raise."""
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise ConfigSourceError(
                            f"{url}: answer larger than {MAX_RESPONSE_BYTES} bytes"
                        )
                return response.status_code, response.headers.get("etag"), bytes(body)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            reason = str(exc) or type(exc).__name__
            raise ConfigSourceError(f"{url}: cannot reach the control plane: {reason}") from None


def _refusal(status: int, body: bytes) -> str:
    """Why the control plane said no, from its error body when it has one."""
    reason = f"answered HTTP {status}"
    try:
        errors = orjson.loads(body)["errors"]
        first = errors[0]
        detail = f"{first['field']}: {first['reason']}"
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return reason
    if not isinstance(detail, str):
        return reason
    return f"{reason} ({detail[:300]})"


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _Shape(f"not valid JSON: {exc}") from None


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Shape("expected a JSON object")
    return value


def _text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _Shape(f"{key!r} must be a string")
    return value


def _integer(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Shape(f"{key!r} must be a whole number")
    return value


def _optional_integer(obj: dict[str, Any], key: str) -> int | None:
    return None if obj.get(key) is None else _integer(obj, key)


def _bytes(obj: dict[str, Any], key: str) -> bytes:
    value = _text(obj, key)
    if not _B64URL.fullmatch(value):
        raise _Shape(f"{key!r} must be base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise _Shape(f"{key!r} must be base64url") from None


def _utf8(obj: dict[str, Any], key: str) -> bytes:
    try:
        return _text(obj, key).encode("utf-8")
    except UnicodeEncodeError:
        raise _Shape(f"{key!r} is not valid UTF-8 text") from None


def _environment(obj: dict[str, Any]) -> Environment:
    return Environment(
        container_id=_text(obj, "container"),
        name=_text(obj, "env"),
        version=_integer(obj, "version"),
        updated_at_ms=_integer(obj, "updated_at_ms"),
        updated_by=_text(obj, "updated_by"),
    )


def _version(obj: dict[str, Any]) -> StoredVersion:
    return StoredVersion(
        container_id=_text(obj, "container"),
        number=_integer(obj, "number"),
        parent=_optional_integer(obj, "parent"),
        author=_text(obj, "author"),
        note=_text(obj, "note"),
        created_at_ms=_integer(obj, "created_at_ms"),
        body=_utf8(obj, "body"),
        signature=_text(obj, "signature"),
        key_id=_text(obj, "key_id"),
        archived_at_ms=None,
    )


def _secret(obj: dict[str, Any]) -> StoredSecret:
    return StoredSecret(
        container_id=_text(obj, "container"),
        name=_text(obj, "name"),
        nonce=_bytes(obj, "nonce"),
        ciphertext=_bytes(obj, "ciphertext"),
        key_id=_text(obj, "key_id"),
        updated_at_ms=_integer(obj, "updated_at_ms"),
        updated_by=_text(obj, "updated_by"),
    )

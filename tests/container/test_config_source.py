"""HttpConfigSource against a real control-plane app on a real server: what the store
holds comes across intact, an unchanged list is a 304 that reuses the parsed copy, and
whatever a broken or hostile other end answers is a ConfigSourceError, never a crash.
A proxy that changes one byte of a version gets it refused by the node's watcher."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from admin_ui.config_api import ConfigEndpoint
from config.publishing import ControlPlane
from config.secret_box import SecretBox, generate_key
from config.signing import generate_keypair, load_private_key, load_public_key
from config.sqlite_store import SQLiteStore
from config.storage import StorageError, StoredSecret
from config.tokens import ADMIN_CONTAINER, hash_token, new_token
from container.config_source import ConfigSourceError, HttpConfigSource
from container.containers import ContainerSet
from container.node_secrets import NodeSecrets
from container.reload import CONFIG_REFUSED, ConfigWatcher, builder
from tests.helpers import make_document, serve_in_thread

pytestmark = pytest.mark.anyio

SECRET_VALUE = "EAAB-meta-token-value"


def control_plane_app(db: Path) -> Starlette:
    store = SQLiteStore(db)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    return Starlette(routes=ConfigEndpoint(store).routes(), lifespan=lifespan)


class Tamper:
    """A man in the middle: forwards to the control plane, and changes each version's
    `body` with `flip` when one is set."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.flip: Callable[[str], str] | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        passed = {k.decode(): v.decode() for k, v in scope["headers"]}
        headers = {k: v for k, v in passed.items() if k in ("authorization", "if-none-match")}
        async with httpx.AsyncClient() as client:
            answer = await client.get(self.upstream + scope["path"], headers=headers)
        body = answer.content
        if self.flip is not None and "/versions/" in scope["path"] and answer.status_code == 200:
            version = orjson.loads(body)
            version["body"] = self.flip(version["body"])
            body = orjson.dumps(version)
        out = [(b"content-type", b"application/json")]
        if "etag" in answer.headers:
            out.append((b"etag", answer.headers["etag"].encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": body})


class Statuses(httpx.AsyncHTTPTransport):
    """Keeps the status of every answer the source gets."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.seen.append(response.status_code)
        return response


@pytest.fixture
def keys() -> Any:
    private_pem, public_pem = generate_keypair()
    return load_private_key(private_pem), load_public_key(public_pem)


@pytest.fixture
def secrets_key() -> str:
    return generate_key()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "tagwire.db")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def control(store: SQLiteStore, keys: Any, secrets_key: str) -> ControlPlane:
    control = ControlPlane(store, signer=keys[0])
    await control.import_document(make_document(), "ana")
    await control.create_version("shop", "ana", "first")
    await control.publish("shop", 1, "live", "ana")
    nonce, ciphertext = SecretBox.from_text(secrets_key).seal("shop", "meta-token", SECRET_VALUE)
    await store.put_secret(StoredSecret("shop", "meta-token", nonce, ciphertext, "k1", 5, "ana"))
    return control


@pytest.fixture
async def token(store: SQLiteStore) -> str:
    token = new_token()
    await store.create_token(ADMIN_CONTAINER, "edge", hash_token(token), 1)
    return token


@pytest.fixture
def upstream(tmp_path: Path, control: ControlPlane) -> Iterator[str]:
    with serve_in_thread(control_plane_app(tmp_path / "tagwire.db")) as url:
        yield url


@contextlib.asynccontextmanager
async def source_for(url: str, token: str, **kwargs: Any) -> AsyncIterator[HttpConfigSource]:
    source = HttpConfigSource(url, token, timeout=5.0, **kwargs)
    try:
        yield source
    finally:
        await source.aclose()


async def test_what_the_store_holds_comes_across_intact(
    store: SQLiteStore, upstream: str, token: str
) -> None:
    async with source_for(upstream + "/", token) as source:
        assert await source.list_environments(None) == await store.list_environments(None)
        assert await source.list_environments("other") == []
        assert await source.list_secrets(None) == await store.list_secrets(None)
        assert await source.list_secrets("shop") == await store.list_secrets("shop")
        stored = await store.get_version("shop", 1)
        assert await source.get_version("shop", 1) == stored
        assert await source.get_version("shop", 2) is None
        assert await source.get_version("nosuch", 1) is None


async def test_an_unchanged_list_is_a_304_that_reuses_the_parsed_copy(
    store: SQLiteStore, control: ControlPlane, upstream: str, token: str
) -> None:
    transport = Statuses()
    async with source_for(upstream, token, transport=transport) as source:
        first = await source.list_environments(None)
        second = await source.list_environments(None)
        assert transport.seen == [200, 304]
        assert second == first
        second.clear()  # the caller's copy; the cache keeps its own
        assert await source.list_environments(None) == first
        await control.publish("shop", 1, "staging", "bo")
        third = await source.list_environments(None)
        assert transport.seen[-1] == 200
        assert [e.name for e in third] == ["live", "staging"]
        await source.list_secrets(None)
        await source.list_secrets(None)
        assert transport.seen[-2:] == [200, 304]


async def test_secrets_arrive_sealed_and_open_on_the_node(
    upstream: str, token: str, secrets_key: str
) -> None:
    async with source_for(upstream, token) as source:
        box = SecretBox.from_text(secrets_key)
        secrets = NodeSecrets(source, box, lambda name: None)
        await secrets.refresh()
        assert secrets.value("shop", "meta-token") == SECRET_VALUE
        assert secrets.value("shop", "other") is None


async def test_a_refused_token_is_an_error_that_names_the_url_not_the_token(
    upstream: str,
) -> None:
    wrong = new_token()
    async with source_for(upstream, wrong) as source:
        with pytest.raises(ConfigSourceError) as info:
            await source.list_environments(None)
    message = str(info.value)
    assert f"{upstream}/api/v1/config/environments" in message
    assert "HTTP 401" in message
    assert "unknown token" in message
    assert wrong not in message
    assert isinstance(info.value, StorageError)  # the watcher logs it and tries again


async def test_an_unreachable_control_plane_is_an_error(token: str) -> None:
    from tests.helpers import free_port

    async with source_for(f"http://127.0.0.1:{free_port()}", token) as source:
        with pytest.raises(ConfigSourceError, match="cannot reach the control plane"):
            await source.get_version("shop", 1)


def version_json(**changes: Any) -> dict[str, Any]:
    version = {"container": "shop", "number": 1, "parent": None, "author": "ana", "note": "n",
               "created_at_ms": 1, "key_id": "k", "signature": "s", "body": "{}"}  # fmt: skip
    version.update(changes)
    return version


ENVIRONMENT = {"container": "shop", "env": "live", "version": 1, "updated_at_ms": 1,
               "updated_by": "ana"}  # fmt: skip
SECRET = {"container": "shop", "name": "t", "nonce": "AAAA", "ciphertext": "AAAA",
          "key_id": "k", "updated_at_ms": 1, "updated_by": "ana"}  # fmt: skip


@pytest.mark.parametrize(
    ("method", "status", "payload", "reason"),
    [
        ("environments", 200, b"<html>login</html>", "not valid JSON"),
        ("environments", 200, b"[]", "expected a JSON object"),
        ("environments", 200, {"environments": {}}, "'environments' must be a list"),
        ("environments", 200, {"environments": [1]}, "expected a JSON object"),
        ("environments", 200, {"environments": [{**ENVIRONMENT, "version": "1"}]}, "'version'"),
        ("environments", 200, {"environments": [{**ENVIRONMENT, "version": True}]}, "'version'"),
        ("environments", 200, {"environments": [{**ENVIRONMENT, "env": None}]}, "'env'"),
        ("environments", 200, {"environments": [{"container": "shop"}]}, "'env'"),
        ("environments", 304, b"", "HTTP 304"),  # a 304 to a request without an ETag
        ("environments", 404, b"", "HTTP 404"),
        ("environments", 500, {"errors": [{"field": "store", "reason": "down"}]}, "store: down"),
        ("environments", 302, b"", "HTTP 302"),
        ("secrets", 200, {"secrets": [{**SECRET, "nonce": "A+A/"}]}, "'nonce' must be base64"),
        ("secrets", 200, {"secrets": [{**SECRET, "ciphertext": "A"}]}, "'ciphertext' must be"),
        ("secrets", 200, {"secrets": [{**SECRET, "ciphertext": 12}]}, "'ciphertext' must be"),
        ("secrets", 200, {"secrets": [{**SECRET, "updated_at_ms": 1.5}]}, "'updated_at_ms'"),
        ("version", 200, version_json(body=7), "'body' must be a string"),
        ("version", 200, b'{"body": "\\ud800"}', ""),  # a lone surrogate: not UTF-8 text
        ("version", 200, version_json(parent="1"), "'parent' must be a whole number"),
        ("version", 200, version_json(signature=None), "'signature' must be a string"),
        ("version", 200, b"null", "expected a JSON object"),
        ("version", 401, {"errors": "nope"}, "HTTP 401"),
        ("version", 500, b"", "HTTP 500"),
    ],
)
async def test_a_wrong_answer_is_a_config_source_error(
    method: str, status: int, payload: Any, reason: str
) -> None:
    content = payload if isinstance(payload, bytes) else orjson.dumps(payload)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content)

    token = new_token()
    transport = httpx.MockTransport(answer)
    async with source_for("https://cp.example", token, transport=transport) as source:
        call = {
            "environments": lambda: source.list_environments(None),
            "secrets": lambda: source.list_secrets(None),
            "version": lambda: source.get_version("shop", 1),
        }[method]
        with pytest.raises(ConfigSourceError) as info:
            await call()
    message = str(info.value)
    assert message.startswith("https://cp.example/api/v1/config/")
    assert reason in message
    assert token not in message


async def test_an_oversized_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("container.config_source.MAX_RESPONSE_BYTES", 1000)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b" " * 5000))
    async with source_for("https://cp.example", new_token(), transport=transport) as source:
        with pytest.raises(ConfigSourceError, match="larger than 1000 bytes"):
            await source.list_secrets(None)


def flip_letter(body: str) -> str:
    """One bit of one byte inside the document: still JSON, no longer what was signed."""
    at = body.index("Webhook")
    return body[:at] + chr(ord(body[at]) ^ 1) + body[at + 1 :]


def flip_first(body: str) -> str:
    """One bit of the first byte: no longer JSON at all."""
    return chr(ord(body[0]) ^ 1) + body[1:]


@pytest.mark.parametrize("flip", [flip_letter, flip_first])
async def test_a_tampering_proxy_is_refused_and_the_node_keeps_its_version(
    control: ControlPlane, upstream: str, token: str, keys: Any, flip: Callable[[str], str]
) -> None:
    proxy = Tamper(upstream)
    with serve_in_thread(proxy) as url:
        async with source_for(url, token) as source:
            secrets = NodeSecrets(source, None, lambda name: None)
            containers = ContainerSet()
            watcher = ConfigWatcher(source, containers, keys[1],
                                    builder(secrets, allow_http_loopback=False),
                                    interval_s=1.0, secrets=secrets)  # fmt: skip
            await watcher.sync()
            assert containers.get("shop").version == 1

            def refused() -> float:
                return sum(
                    CONFIG_REFUSED.labels("shop", "live", reason)._value.get()
                    for reason in ("bad_signature", "malformed")
                )

            before = refused()
            await control.import_document(make_document("https://hooks.example.com/v2"), "bo")
            await control.create_version("shop", "bo", "second")
            await control.publish("shop", 2, "live", "bo")
            proxy.flip = flip
            await watcher.sync()
            assert containers.get("shop").version == 1
            assert refused() == before + 1

            proxy.flip = None  # an honest path again: publishing again is taken
            later = ControlPlane(control.store, clock=lambda: 9_999_999_999_999)
            await later.publish("shop", 2, "live", "bo")
            await watcher.sync()
            assert containers.get("shop").version == 2

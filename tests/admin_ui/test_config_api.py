"""The config API: admin tokens only, ETags on the lists, versions by number with errors
naming the field, and secrets only as ciphertexts. Runs on a real SQLite store."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from admin_ui.config_api import ConfigEndpoint
from config.publishing import ControlPlane
from config.secret_box import SecretBox, generate_key
from config.signing import generate_keypair, load_private_key, load_public_key
from config.sqlite_store import SQLiteStore
from config.storage import StoredSecret
from config.tokens import ADMIN_CONTAINER, admin_owner, new_token
from config.versions import open_signed
from tests.container.fire_api_helpers import add_token
from tests.helpers import make_document, on_store

SECRET_VALUE = "EAAB-very-secret-meta-token"
KEY = generate_key()


def config_app(store: Any) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    return Starlette(routes=ConfigEndpoint(store).routes(), lifespan=lifespan)


@pytest.fixture
def keys() -> Any:
    private_pem, public_pem = generate_keypair()
    return load_private_key(private_pem), load_public_key(public_pem)


@pytest.fixture
def db(tmp_path: Path, keys: Any) -> Path:
    path = tmp_path / "tagwire.db"

    async def fill(store: SQLiteStore) -> None:
        control = ControlPlane(store, signer=keys[0])
        await control.import_document(make_document(), "ana")
        await control.create_version("shop", "ana", "first")
        await control.publish("shop", 1, "live", "ana")
        nonce, ciphertext = SecretBox.from_text(KEY).seal("shop", "meta-token", SECRET_VALUE)
        await store.put_secret(
            StoredSecret("shop", "meta-token", nonce, ciphertext, "k1", 5, "ana")
        )

    on_store(path, fill)
    return path


@pytest.fixture
def admin(db: Path) -> str:
    return add_token(db, ADMIN_CONTAINER, "edge")


@pytest.fixture
def client(db: Path, admin: str) -> Iterator[TestClient]:
    with TestClient(config_app(SQLiteStore(db))) as client:
        client.headers["authorization"] = f"Bearer {admin}"
        yield client


def only_error(response: Any) -> dict[str, Any]:
    [error] = response.json()["errors"]
    return error


PATHS = [
    "/api/v1/config/environments",
    "/api/v1/config/versions/shop/1",
    "/api/v1/config/secrets",
]


@pytest.mark.parametrize("path", PATHS)
def test_without_a_token_is_401_with_a_challenge(client: TestClient, path: str) -> None:
    del client.headers["authorization"]
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="tagwire"')
    assert only_error(response)["field"] == "Authorization"


@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_token_is_401(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"authorization": f"Bearer {new_token()}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert only_error(response) == {"field": "Authorization", "reason": "unknown token"}


@pytest.mark.parametrize("path", PATHS)
def test_a_fire_api_token_is_403(client: TestClient, db: Path, path: str) -> None:
    fire = add_token(db, "shop", "site")
    response = client.get(path, headers={"authorization": f"Bearer {fire}"})
    assert response.status_code == 403
    error = only_error(response)
    assert error["field"] == "Authorization"
    assert "tagwire tokens create --admin" in error["reason"]


@pytest.mark.parametrize("path", PATHS)
def test_an_admin_token_of_one_client_is_403(client: TestClient, db: Path, path: str) -> None:
    """Nodes pull every container's versions and secrets: only agency-wide admin tokens."""

    async def acme_owns_shop(store: SQLiteStore) -> None:
        await store.create_client("acme", "Acme", "ana", 1)
        await store.assign_container("shop", "acme", "ana", 1)

    on_store(db, acme_owns_shop)
    scoped = add_token(db, admin_owner("acme"), "acme-edge")
    response = client.get(path, headers={"authorization": f"Bearer {scoped}"})
    assert response.status_code == 403
    assert only_error(response) == {
        "field": "Authorization",
        "reason": "admin token 'acme-edge' is limited to client 'acme'; nodes pull every "
        "container's config, so use an agency-wide admin token "
        "('tagwire tokens create --admin --name NAME')",
    }
    assert "etag" not in response.headers
    assert client.get(path).status_code == 200  # the agency-wide token still pulls


def test_environments_list_the_pointers_with_an_etag(client: TestClient) -> None:
    response = client.get("/api/v1/config/environments")
    assert response.status_code == 200
    [environment] = response.json()["environments"]
    assert environment == {
        "container": "shop",
        "env": "live",
        "version": 1,
        "updated_at_ms": environment["updated_at_ms"],
        "updated_by": "ana",
    }
    etag = response.headers["etag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")

    again = client.get("/api/v1/config/environments", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    listed = client.get("/api/v1/config/environments", headers={"if-none-match": f'"x", {etag}'})
    assert listed.status_code == 304
    stale = client.get("/api/v1/config/environments", headers={"if-none-match": '"other"'})
    assert stale.status_code == 200


def test_a_publish_changes_the_etag(client: TestClient, db: Path, keys: Any) -> None:
    etag = client.get("/api/v1/config/environments").headers["etag"]

    async def publish(store: SQLiteStore) -> None:
        await ControlPlane(store).publish("shop", 1, "staging", "bo")

    on_store(db, publish)
    response = client.get("/api/v1/config/environments", headers={"if-none-match": etag})
    assert response.status_code == 200
    assert response.headers["etag"] != etag
    assert [e["env"] for e in response.json()["environments"]] == ["live", "staging"]


def test_a_version_is_its_signed_body_and_immutable(client: TestClient, keys: Any) -> None:
    response = client.get("/api/v1/config/versions/shop/1")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=31536000, immutable"
    version = response.json()
    assert {k: version[k] for k in ("container", "number", "parent", "author", "note")} == {
        "container": "shop",
        "number": 1,
        "parent": None,
        "author": "ana",
        "note": "first",
    }
    assert isinstance(version["created_at_ms"], int)
    record = open_signed(
        version["body"].encode("utf-8"),
        version["signature"],
        version["key_id"],
        keys[1],
        container_id="shop",
        number=1,
    )
    assert record.document["container"]["id"] == "shop"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/config/versions/shop/2", "number"),
        ("/api/v1/config/versions/nosuch/1", "container"),
    ],
)
def test_an_unknown_version_is_404_naming_the_field(
    client: TestClient, path: str, field: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert only_error(response)["field"] == field


@pytest.mark.parametrize("number", ["0", "-1", "x", "1.5", "٣", "99999999999999999999"])
def test_a_bad_version_number_is_400(client: TestClient, number: str) -> None:
    response = client.get(f"/api/v1/config/versions/shop/{number}")
    assert response.status_code == 400
    assert only_error(response)["field"] == "number"


def test_secrets_leave_only_as_ciphertexts(client: TestClient) -> None:
    response = client.get("/api/v1/config/secrets")
    assert response.status_code == 200
    assert SECRET_VALUE not in response.text
    assert base64.b64encode(SECRET_VALUE.encode()).decode()[:12] not in response.text
    [secret] = response.json()["secrets"]
    assert {k: secret[k] for k in ("container", "name", "key_id", "updated_at_ms")} == {
        "container": "shop",
        "name": "meta-token",
        "key_id": "k1",
        "updated_at_ms": 5,
    }

    def unpad(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    box = SecretBox.from_text(KEY)
    opened = box.open("shop", "meta-token", unpad(secret["nonce"]), unpad(secret["ciphertext"]))
    assert opened == SECRET_VALUE
    etag = response.headers["etag"]
    again = client.get("/api/v1/config/secrets", headers={"if-none-match": etag})
    assert again.status_code == 304


def test_a_store_failure_is_503(db: Path, admin: str) -> None:
    class Broken(SQLiteStore):
        async def list_environments(self, container_id: str | None) -> Any:
            from config.storage import StorageError

            raise StorageError("disk gone")

    with TestClient(config_app(Broken(db))) as client:
        response = client.get(
            "/api/v1/config/environments", headers={"authorization": f"Bearer {admin}"}
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert only_error(response)["field"] == "store"

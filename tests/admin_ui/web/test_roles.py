"""The role table of docs/admin-ui.md, checked over HTTP: every role against every action,
and a user of another client against each of them by id."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from admin_ui.audit import Actor
from admin_ui.people import People
from admin_ui.secrets import set_secret
from admin_ui.tokens import create_token
from admin_ui.versions import Versions
from config.secret_box import SecretBox, generate_key
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    csrf_of,
    run,
    sign_in,
    with_store,
)

# role -> rank; "outsider" has a role on another client only, "admin" is an agency admin
RANK = {"outsider": -1, "viewer": 0, "editor": 1, "publisher": 2, "owner": 3, "admin": 4}
NEEDS = {"view": 0, "edit": 1, "publish": 2, "manage": 3, "agency": 4}

OTHER = {**DOCUMENT, "container": {**DOCUMENT["container"], "id": "shop2"}}
CHANGED = {**DOCUMENT, "triggers": [{"id": "leads", "name": "All leads", "events": ["lead"]}]}

ACTIONS = [
    ("view", "GET", "/admin/clients/acme", None),
    ("view", "GET", "/admin/containers/shop", None),
    ("view", "GET", "/admin/containers/shop/diff?from=1&to=workspace", None),
    ("edit", "POST", "/admin/containers/shop/workspace", {"document": orjson.dumps(CHANGED)}),
    ("edit", "POST", "/admin/containers/shop/versions", {"note": "n"}),
    ("edit", "POST", "/admin/clients/acme/containers", {"document": orjson.dumps(OTHER)}),
    ("publish", "GET", "/admin/containers/shop/publish?version=1&env=staging", None),
    ("publish", "POST", "/admin/containers/shop/publish", {"version": "1", "env": "staging"}),
    ("publish", "GET", "/admin/containers/shop/rollback?env=live&to=1", None),
    ("publish", "POST", "/admin/containers/shop/environments/remove", {"env": "staging"}),
    ("view", "GET", "/admin/history?container=shop", None),
    ("view", "GET", "/admin/dead-letters?container=shop", None),
    ("publish", "POST", "/admin/dead-letters/replay", {"container": "shop"}),
    ("publish", "POST", "/admin/dead-letters/release", {"container": "shop"}),
    ("edit", "GET", "/admin/containers/shop/tags/hook/test", None),
    ("edit", "POST", "/admin/containers/shop/tags/hook/test", {"test_code": "T1", "sample": "{"}),
    ("view", "GET", "/admin/containers/shop/previews", None),
    ("edit", "POST", "/admin/containers/shop/previews",
     {"source": "workspace", "mode": "dry_run", "hours": "1"}),
    ("manage", "POST", "/admin/clients/acme/members", {"email": "v@a.example", "role": "viewer"}),
    ("manage", "POST", "/admin/clients/acme/members/reset", {"email": "v@a.example"}),
    ("manage", "POST", "/admin/containers/shop/secrets", {"name": "api_token", "value": "s3"}),
    ("manage", "POST", "/admin/containers/shop/secrets/delete", {"name": "api_token"}),
    ("manage", "POST", "/admin/containers/shop/tokens", {"name": "crm"}),
    ("manage", "POST", "/admin/containers/shop/tokens/revoke", {"name": "crm"}),
    ("agency", "POST", "/admin/clients", {"id": "newco", "name": "New Co"}),
    ("agency", "GET", "/admin/people", None),
    ("agency", "POST", "/admin/people/reset", {"email": "v@a.example"}),
    ("agency", "POST", "/admin/containers/shop/assign", {"client": "acme"}),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roles") / "tagwire.db"
    signer = Ed25519PrivateKey.generate()

    async def setup(store):
        clock = People(store).clock
        await store.create_client("acme", "Acme", "test", clock())
        await store.create_client("other", "Other", "test", clock())
        versions = Versions(store, signer=signer)
        await versions.import_document(DOCUMENT, "test", "test")
        await versions.create_version("shop", "test", "first")
        await versions.publish("shop", 1, "live", "test")
        await store.assign_container("shop", "acme", "test", clock())

    run(with_store(path, setup))
    add_user(path, "admin@a.example", admin=True)
    for role in ("viewer", "editor", "publisher", "owner", "outsider"):
        user_id = add_user(path, f"{role[0]}@a.example" if role != "outsider" else "x@a.example")
        client = "other" if role == "outsider" else "acme"
        granted = "owner" if role == "outsider" else role

        async def grant(store, user_id=user_id, client=client, granted=granted):
            await store.set_membership(user_id, client, granted, "test", 0)

        run(with_store(path, grant))
    return path


KEY = generate_key()


def _ensure_target(db: Path, path: str) -> None:
    """What a delete or revoke acts on exists before each try, so an allowed role is
    answered for its role, not refused because an earlier role removed the target."""

    async def ensure(store):
        if path.endswith("/secrets/delete"):
            await set_secret(store, SecretBox.from_text(KEY), "shop", "api_token", "v", "test")
        if path.endswith("/tokens/revoke"):
            live = [t for t in await store.list_tokens("shop") if t.revoked_at is None]
            if not live:
                await create_token(store, "shop", "crm", Actor("test", "test"))

    run(with_store(db, ensure))


EMAIL = {"viewer": "v@a.example", "editor": "e@a.example", "publisher": "p@a.example",
         "owner": "o@a.example", "outsider": "x@a.example", "admin": "admin@a.example"}  # fmt: skip


@pytest.mark.parametrize("role", list(RANK))
@pytest.mark.parametrize(("action", "method", "path", "data"), ACTIONS)
def test_role_table(db, role, action, method, path, data):
    _ensure_target(db, path)
    with browser(db, KEY) as client:
        assert sign_in(client, EMAIL[role]).status_code == 303
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf": csrf_of(client), **(data or {})})
    allowed = RANK[role] >= NEEDS[action]
    if allowed:
        assert response.status_code not in (401, 403, 404), (role, path, response.text[:300])
        assert "Not allowed" not in response.text
    elif role == "outsider" and action != "agency":
        # another client's id: answered as if it did not exist
        assert response.status_code == 404, (role, path, response.status_code)
    else:
        assert response.status_code == 403, (role, path, response.status_code)


def test_an_outsider_sees_no_trace_of_the_other_client(db):
    with browser(db) as client:
        sign_in(client, EMAIL["outsider"])
        pages = [client.get(p).text for p in ("/admin/clients", "/admin/audit")]
    for page in pages:
        assert "Acme" not in page
        assert "shop" not in page

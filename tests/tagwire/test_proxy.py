"""Behind a trusted TLS-terminating proxy the apps see the scheme the visitor used: the
admin UI accepts its own forms and marks its cookie Secure; the header from any other
peer changes nothing."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from tagwire.node import build_control_plane
from tagwire.proxy import ForwardedScheme
from tests.admin_ui.web.helpers import PASSWORD, add_user

TRUSTED = (ipaddress.ip_network("127.0.0.1/32"),)
_PRE = re.compile(r'name="pre" value="([^"]+)"')


def seen_scheme(peer: str, headers: list[tuple[bytes, bytes]], path: str = "/admin/") -> str:
    seen: dict[str, Any] = {}

    async def app(scope, receive, send):
        seen.update(scope)

    scope = {"type": "http", "scheme": "http", "path": path, "headers": headers,
             "client": (peer, 5000)}  # fmt: skip
    asyncio.run(ForwardedScheme(app, TRUSTED)(scope, None, None))
    return str(seen["scheme"])


@pytest.mark.parametrize(
    ("peer", "headers", "path", "scheme"),
    [
        ("127.0.0.1", [(b"x-forwarded-proto", b"https")], "/admin/", "https"),
        ("127.0.0.1", [(b"x-forwarded-proto", b"HTTPS, http")], "/admin/", "https"),
        ("127.0.0.1", [(b"x-forwarded-proto", b"http")], "/admin/", "http"),
        ("127.0.0.1", [], "/admin/", "http"),
        ("203.0.113.7", [(b"x-forwarded-proto", b"https")], "/admin/", "http"),
        ("127.0.0.1", [(b"x-forwarded-proto", b"https")], "/collect", "http"),
    ],
)
def test_only_a_trusted_peer_sets_the_scheme(peer, headers, path, scheme):
    assert seen_scheme(peer, headers, path) == scheme


def sign_in(db: Path, peer: str) -> Any:
    """Sign in as a browser behind a TLS proxy would: https Origin, X-Forwarded-Proto."""
    settings = load_settings({"TAGWIRE_TRUSTED_PROXIES": "127.0.0.1"})
    app = build_control_plane(settings, SQLiteStore(db), None)
    proxied = {"x-forwarded-proto": "https", "origin": "https://t.example.com"}
    with TestClient(app, base_url="http://t.example.com", client=(peer, 5000)) as client:
        form = client.get("/admin/signin", headers=proxied)
        pre = _PRE.search(form.text)
        assert pre, form.text
        # the pre-session cookie is Secure behind the proxy: sent back as the browser would
        cookie = form.headers["set-cookie"].split(";", 1)[0]
        return client.post(
            "/admin/signin", headers={**proxied, "cookie": cookie}, follow_redirects=False,
            data={"pre": pre.group(1), "email": "ed@agency.example", "password": PASSWORD},
        )  # fmt: skip


def test_the_admin_ui_accepts_its_forms_behind_a_trusted_proxy_only(tmp_path):
    db = tmp_path / "tagwire.db"
    add_user(db, "ed@agency.example", admin=True)
    through_proxy = sign_in(db, "127.0.0.1")
    forged = sign_in(db, "203.0.113.7")
    assert through_proxy.status_code == 303
    assert "Secure" in through_proxy.headers["set-cookie"]
    assert forged.status_code == 403

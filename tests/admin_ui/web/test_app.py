"""The sign-in gate, CSRF, security headers and escaping of the admin UI, over HTTP against
a real SQLite store. The route inventory walks every route the app declares, so a route
added later without the gate fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Mount, Route

from admin_ui.web import AdminUI
from admin_ui.web.app import COOKIE
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    csrf_of,
    post_form,
    run,
    sign_in,
    with_store,
)

OPEN = ("/signin", "/reset/{token}")  # reachable without a session, with the stylesheet


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    add_user(path, "owner@agency.example", admin=True, name="Olivia Owner")
    return path


def _routes() -> list[tuple[str, str]]:
    from starlette.applications import Starlette

    ui = AdminUI.__new__(AdminUI)
    AdminUI.__init__(ui, store=None, signer=None)  # type: ignore[arg-type]
    app = ui.app.app
    assert isinstance(app, Starlette)
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, route.path))
        elif isinstance(route, Mount):
            found.append(("GET", route.path + "/admin.css"))
    return found


ROUTES = _routes()


PARAMS = {
    "{client}": "acme",
    "{container}": "shop",
    "{token}": "x" * 43,
    "{name}": "meta",
    "{variable}": "v1",
    "{template}": "t1",
    "{trigger}": "leads",
    "{tag}": "hook",
    "{row}": "1",
    "{session}": "s" * 22,
    "{trace}": "1",
}


def _concrete(path: str) -> str:
    for param, value in PARAMS.items():
        path = path.replace(param, value)
    assert "{" not in path, f"give the route parameter in {path} a value in PARAMS"
    return path


def test_the_inventory_sees_every_kind_of_route():
    methods = {m for m, _ in ROUTES}
    assert methods == {"GET", "POST"}
    assert len(ROUTES) >= 25


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_without_a_session_every_route_redirects_or_refuses(db, method, path):
    with browser(db) as client:
        response = client.request(method, "/admin" + _concrete(path), data={"x": "1"})
    if path in OPEN or path.startswith("/static/"):
        assert response.status_code in (200, 400, 401, 403), (method, path)
        assert "location" not in response.headers
        return
    if method == "GET":
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/signin"
    else:
        assert response.status_code == 401
        assert "Sign in again" in response.text


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r[0] == "POST"])
def test_every_state_change_without_csrf_is_403_and_changes_nothing(db, method, path):
    with browser(db) as client:
        assert sign_in(client, "owner@agency.example").status_code == 303
        before = run(with_store(db, lambda s: s.audit_log(None, 1000)))
        for token in ("", "forged-token"):
            response = client.post(
                "/admin" + _concrete(path),
                data={
                    "csrf": token,
                    "id": "x",
                    "name": "X",
                    "email": "a@b.example",
                    "role": "owner",
                },
            )
            if path in ("/signin", "/reset/{token}"):
                assert response.status_code in (400, 401, 403)
            else:
                assert response.status_code == 403, (path, response.text[:200])
        assert run(with_store(db, lambda s: s.audit_log(None, 1000))) == before


def test_a_post_from_another_origin_is_refused(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        token = csrf_of(client)
        response = client.post(
            "/admin/clients",
            data={"csrf": token, "id": "acme", "name": "Acme"},
            headers={"origin": "https://evil.example"},
        )
        assert response.status_code == 403
        assert run(with_store(db, lambda s: s.get_client("acme"))) is None


def test_pages_carry_a_strict_csp_with_a_fresh_nonce_and_no_inline_code(db):
    with browser(db) as client:
        first = client.get("/admin/signin")
        second = client.get("/admin/signin")
    csp = first.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    nonces = [
        re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"]).group(1)
        for r in (first, second)
    ]
    assert nonces[0] != nonces[1]
    assert first.headers["x-frame-options"] == "DENY"
    assert first.headers["x-content-type-options"] == "nosniff"
    assert first.headers["cache-control"] == "no-store"
    assert "<script>" not in first.text
    assert " style=" not in first.text


def test_the_session_cookie_is_httponly_and_lax(db):
    with browser(db) as client:
        response = sign_in(client, "owner@agency.example")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/admin" in cookie


def test_sign_in_makes_a_new_session_whatever_cookie_came_with_it(db):
    with browser(db) as client:
        client.cookies.set(COOKIE, "attacker-chosen-value", path="/admin")
        response = sign_in(client, "owner@agency.example")
        issued = response.cookies.get(COOKIE)
        assert issued
        assert issued != "attacker-chosen-value"
        client.cookies.clear()
        client.cookies.set(COOKIE, "attacker-chosen-value", path="/admin")
        assert client.get("/admin/clients").status_code == 303


def test_wrong_password_and_unknown_email_read_the_same(db):
    with browser(db) as client:
        wrong = sign_in(client, "owner@agency.example", "not the password at all")
        unknown = sign_in(client, "nobody@agency.example", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "email or password is wrong" in wrong.text
    assert "email or password is wrong" in unknown.text


def test_five_failures_lock_the_account_with_a_clear_message(db):
    with browser(db) as client:
        for _ in range(5):
            assert sign_in(client, "owner@agency.example", "wrong password 123").status_code == 401
        locked = sign_in(client, "owner@agency.example")
    assert locked.status_code == 401
    assert "locked for 15 more minute(s)" in locked.text


def test_sign_out_ends_the_session_and_everywhere_ends_all(db):
    with browser(db) as one, browser(db) as two:
        sign_in(one, "owner@agency.example")
        sign_in(two, "owner@agency.example")
        assert post_form(one, "/admin/signout", {"everywhere": "on"}).status_code == 303
        assert one.get("/admin/clients").status_code == 303
        assert two.get("/admin/clients").status_code == 303


def test_markup_in_names_notes_and_documents_renders_inert(db):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        assert post_form(client, "/admin/clients", {"id": "acme", "name": evil}).status_code == 303
        doc = {**DOCUMENT, "container": {**DOCUMENT["container"], "name": evil}}
        import orjson

        response = post_form(
            client, "/admin/clients/acme/containers", {"document": orjson.dumps(doc).decode()}
        )
        assert response.status_code == 303, response.text
        post_form(client, "/admin/containers/shop/versions", {"note": evil})
        pages = [
            client.get(p).text
            for p in (
                "/admin/clients",
                "/admin/clients/acme",
                "/admin/containers/shop",
                "/admin/audit",
            )
        ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[0]


def test_a_reset_link_works_once(db):
    with browser(db) as admin:
        sign_in(admin, "owner@agency.example")
        add_user(db, "ed@agency.example")
        page = post_form(
            admin,
            "/admin/people/reset",
            {"email": "ed@agency.example"},
            csrf_of(admin, "/admin/people"),
        )
        link = re.search(r"(/admin/reset/[A-Za-z0-9_-]+)", page.text).group(1)
    with browser(db) as ed:
        new = "a brand new password"
        first = ed.post(link, data={"password": new, "again": new})
        second = ed.post(link, data={"password": new + "!", "again": new + "!"})
        assert first.status_code == 200
        assert "Password changed" in first.text
        assert second.status_code == 400
        assert "used already" in second.text
        assert sign_in(ed, "ed@agency.example", new).status_code == 303


def test_a_client_owner_makes_reset_links_for_its_people_only(db):
    async def setup(store):
        await store.create_client("acme", "Acme", "test", 0)
        await store.create_client("other", "Other", "test", 0)
        for email, client in (
            ("olga@agency.example", "acme"),
            ("ed@agency.example", "acme"),
            ("x@agency.example", "other"),
        ):
            user = await store.find_user(email)
            await store.set_membership(
                user.id, client, "owner" if email[0] == "o" else "editor", "test", 0
            )

    for email in ("olga@agency.example", "ed@agency.example", "x@agency.example"):
        add_user(db, email)
    run(with_store(db, setup))
    with browser(db) as client:
        sign_in(client, "olga@agency.example")
        page = "/admin/clients/acme"
        ok = post_form(
            client, f"{page}/members/reset", {"email": "ed@agency.example"}, csrf_of(client, page)
        )
        outsider = post_form(
            client, f"{page}/members/reset", {"email": "x@agency.example"}, csrf_of(client, page)
        )
        admin = post_form(
            client,
            f"{page}/members/reset",
            {"email": "owner@agency.example"},
            csrf_of(client, page),
        )
        other = post_form(
            client,
            "/admin/clients/other/members/reset",
            {"email": "x@agency.example"},
            csrf_of(client, page),
        )
    assert ok.status_code == 200
    assert re.search(r"/admin/reset/[A-Za-z0-9_-]{40,}", ok.text)
    assert outsider.status_code == admin.status_code == 400
    assert other.status_code == 404

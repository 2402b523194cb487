import sqlite3

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from config.schema import apply_defaults
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from container.app import create_app
from container.containers import ContainerSet
from container.hit import MAX_BODY_BYTES
from container.pipeline import CompiledContainer
from tags.runtime import TemplateRuntime
from tests.helpers import make_document, make_hit, serve_in_thread


def build_app(tmp_path, doc=None, containers=None, **env):
    settings = load_settings({"TAGWIRE_SENDER": "off", **env})
    store = SQLiteStore(tmp_path / "tagwire.db")
    if containers is None:
        container = CompiledContainer.compile(
            apply_defaults(doc or make_document()), TemplateRuntime()
        )
        containers = ContainerSet.of({container.id: container})
    return create_app(settings, store, containers)


def live_and_staging() -> ContainerSet:
    """Container shop as served from a file ("live") and as version 7 in "staging",
    each sending to its own webhook."""
    runtime = TemplateRuntime()
    live = CompiledContainer.compile(apply_defaults(make_document()), runtime)
    staging_doc = apply_defaults(make_document("https://staging-hooks.example.com/tagwire"))
    staging = CompiledContainer.compile(staging_doc, runtime, version=7, env="staging")
    containers = ContainerSet.of({"shop": live})
    containers.put("shop", "staging", staging)
    return containers


@pytest.fixture
def client(tmp_path):
    with TestClient(build_app(tmp_path), base_url="https://t.example.com") as client:
        yield client


def outbox(tmp_path):
    conn = sqlite3.connect(tmp_path / "tagwire.db")
    rows = conn.execute("SELECT tag_id, event_id, state, body FROM outbox ORDER BY id").fetchall()
    conn.close()
    return rows


def post(client, body, content_type="application/json", **headers):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/collect?id=shop", content=data,
                       headers={"content-type": content_type, **headers})  # fmt: skip


def test_accepted_hit_is_committed_before_the_answer(client, tmp_path):
    response = post(client, make_hit())
    assert response.status_code == 204
    (row,) = outbox(tmp_path)
    assert row[:3] == ("hook", make_hit()["event_id"], "pending")
    assert orjson.loads(row[3])["event"] == "Lead"


def test_text_plain_beacon_is_accepted(client, tmp_path):
    assert post(client, make_hit(), "text/plain;charset=UTF-8").status_code == 204
    assert len(outbox(tmp_path)) == 1


def test_repeated_hit_is_accepted_but_sent_once(client, tmp_path):
    assert post(client, make_hit()).status_code == 204
    assert post(client, make_hit()).status_code == 204
    assert len(outbox(tmp_path)) == 1


def test_batch_with_bad_hits_keeps_the_good_ones(client, tmp_path):
    good = make_hit()
    other = make_hit(event_id="11111111-2222-3333-4444-555555555555")
    bad = make_hit(data={"value": "50"})
    response = post(client, [good, bad, other, {"v": 1}])
    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == [0, 2]
    assert {"index": 1, "field": "data.value", "reason": "must be a number"} in body["errors"]
    assert {"index": 3, "field": "event", "reason": "required"} in body["errors"]
    assert [r[1] for r in outbox(tmp_path)] == [good["event_id"], other["event_id"]]


def test_all_bad_is_400_naming_fields(client, tmp_path):
    response = post(client, make_hit(user={"em": "jane@example.com"}, extra=1))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == {"user.em", "extra"}
    assert outbox(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        (b"{", "application/json", 400, "body"),
        (b"\xff\xfe{}", "application/json", 400, "body"),
        (b"{}", "application/x-www-form-urlencoded", 415, "Content-Type"),
        (b"{}", "", 415, "Content-Type"),
        (b"[" + b"{}," * 50 + b"{}]", "application/json", 413, "body"),
        (b'{"a":"' + b"x" * MAX_BODY_BYTES + b'"}', "application/json", 413, "body"),
    ],
)
def test_bad_bodies(client, body, content_type, status, field):
    response = post(client, body, content_type)
    assert response.status_code == status
    assert response.json()["errors"][0]["field"] == field


def test_container_id_is_required_and_must_exist(client):
    response = client.post("/collect", content=b"{}", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "id"
    response = client.post("/collect?id=nope", content=b"{}")
    assert response.status_code == 404
    assert "unknown container 'nope'" in response.json()["errors"][0]["reason"]


def test_cookie_is_set_only_with_storage_consent(client):
    response = post(client, make_hit())
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("tw_id=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Max-Age=34560000", "Secure", "Path=/"):
        assert attribute in cookie
    denied = make_hit(event_id="denied-0001", consent={"analytics_storage": "denied"})
    assert "set-cookie" not in post(client, denied).headers


def test_existing_cookie_is_kept(client):
    client.cookies.set("tw_id", "abcdefghijklmnopqrstuv")
    response = post(client, make_hit())
    assert response.headers["set-cookie"].startswith("tw_id=abcdefghijklmnopqrstuv;")


def test_cookie_domain_and_plain_http(tmp_path):
    app = build_app(tmp_path, TAGWIRE_COOKIE_DOMAIN="example.com")
    with TestClient(app, base_url="http://t.example.com") as client:
        cookie = post(client, make_hit()).headers["set-cookie"]
    assert "Domain=example.com" in cookie
    assert "Secure" not in cookie


@pytest.mark.parametrize(
    ("trusted", "secure", "ip"),
    [("127.0.0.1", True, "198.51.100.7"), ("10.0.0.0/8", False, "127.0.0.1")],
)
def test_forwarded_headers_only_from_trusted_proxy(tmp_path, trusted, secure, ip):
    doc = make_document(params={"url": "https://hooks.example.com/x", "include_client": True})
    app = build_app(tmp_path, doc, TAGWIRE_TRUSTED_PROXIES=trusted)
    with serve_in_thread(app) as base:
        response = httpx.post(
            f"{base}/collect?id=shop",
            content=orjson.dumps(make_hit()),
            # a browser's User-Agent: the visitor behind the proxy passes the bot filter
            headers={"content-type": "application/json", "x-forwarded-proto": "https",
                     "x-forwarded-for": "1.1.1.1, 198.51.100.7",
                     "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0"},
        )  # fmt: skip
    assert response.status_code == 204
    assert ("Secure" in response.headers["set-cookie"]) is secure
    assert orjson.loads(outbox(tmp_path)[0][3])["client_ip"] == ip


def test_cors_for_allowed_origins(client):
    allowed = post(client, make_hit(), origin="https://www.example.com")
    assert allowed.headers["access-control-allow-origin"] == "https://www.example.com"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    refused = post(client, make_hit(), origin="https://evil.example.net")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "Origin"
    same_origin = post(client, make_hit(), origin="https://t.example.com")
    assert same_origin.status_code == 204


def test_preflight(client):
    response = client.options("/collect?id=shop", headers={"origin": "https://www.example.com"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-methods"] == "POST"


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "containers": ["shop"],
        "environments": [{"container": "shop", "env": "live", "version": None}],
        "quarantined": [],
    }


def test_readiness_lists_every_environment_and_its_version(tmp_path):
    with TestClient(build_app(tmp_path, containers=live_and_staging())) as client:
        assert client.get("/readyz").json() == {
            "status": "ready",
            "containers": ["shop"],
            "environments": [
                {"container": "shop", "env": "live", "version": None},
                {"container": "shop", "env": "staging", "version": 7},
            ],
            "quarantined": [],
        }


def hook_urls(tmp_path):
    conn = sqlite3.connect(tmp_path / "tagwire.db")
    urls = [url for (url,) in conn.execute("SELECT url FROM outbox ORDER BY id")]
    conn.close()
    return urls


def test_env_sends_hits_to_that_environments_container(tmp_path):
    app = build_app(tmp_path, containers=live_and_staging())
    hits = [make_hit(event_id=f"evt-0000000{n}") for n in range(4)]
    with TestClient(app, base_url="https://t.example.com") as client:
        for query, hit in zip(
            ["id=shop&env=staging", "id=shop", "env=live&id=shop", "id=shop&env=st%61ging"],
            hits,
            strict=True,
        ):
            response = client.post(
                f"/collect?{query}",
                content=orjson.dumps(hit),
                headers={"content-type": "text/plain"},
            )
            assert response.status_code == 204, (query, response.text)
    assert hook_urls(tmp_path) == [
        "https://staging-hooks.example.com/tagwire",
        "https://hooks.example.com/tagwire",
        "https://hooks.example.com/tagwire",
        "https://staging-hooks.example.com/tagwire",
    ]


@pytest.mark.parametrize("env", ["", "Staging", "pr_12", "-x", "a" * 41, "st%20aging", "%ff"])
def test_a_bad_env_is_400_naming_it(tmp_path, env):
    with TestClient(build_app(tmp_path, containers=live_and_staging())) as client:
        response = client.post(f"/collect?id=shop&env={env}", content=orjson.dumps(make_hit()))
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "env"
    assert "environment name" in error["reason"]
    assert outbox(tmp_path) == []


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("id=shop&env=pr-12", "env", "container 'shop' has no environment 'pr-12' on this node"),
        ("id=nope&env=staging", "id", "unknown container 'nope'"),
    ],
)
def test_an_environment_not_served_is_404_naming_the_parameter(tmp_path, query, field, reason):
    with TestClient(build_app(tmp_path, containers=live_and_staging())) as client:
        response = client.post(f"/collect?{query}", content=orjson.dumps(make_hit()))
    assert response.status_code == 404
    assert response.json()["errors"] == [{"field": field, "reason": reason}]


def test_wrong_method_is_405(client):
    assert client.get("/collect?id=shop").status_code == 405


def test_plaintext_pii_in_free_form_fields_never_reaches_the_outbox(client, tmp_path):
    hit = make_hit(
        page={"url": "https://www.example.com/thanks?email=jane%40example.com&step=2",
              "title": "Thanks jane@example.com"},
        custom={"note": "call me on +41 44 668 18 00", "phone": "0791234567"},
    )  # fmt: skip
    assert post(client, hit).status_code == 204
    body = outbox(tmp_path)[0][3].decode()
    assert "jane@example.com" not in body
    assert "668 18 00" not in body
    assert orjson.loads(body)["page_url"] == "https://www.example.com/thanks?step=2"
    assert client.get("/metrics").text.count('tagwire_pii_removed_total{field="page.url"}') == 1

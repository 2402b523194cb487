"""Nodes on other machines: an edge node with its own data dir follows a control-plane
node over HTTP (TAGWIRE_CONFIG_URL), and refuses to start half-configured."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from config.signing import generate_keypair
from tests.helpers import (
    isolate_settings,
    make_document,
    make_hit,
    run_cli,
    served_version,
    tagwire_cli,
    tagwire_process,
    wait_until,
)

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
TOKEN = "tw_" + "a" * 43


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_settings(monkeypatch, tmp_path / "data")
    monkeypatch.setenv("TAGWIRE_PORT", "0")


def test_a_config_url_without_a_token_stops_serve(clean_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TAGWIRE_CONFIG_URL", "http://127.0.0.1:9")
    code, _, err = run_cli(capsys, "serve")
    assert code == 2
    assert "TAGWIRE_CONFIG_URL is set but TAGWIRE_CONFIG_TOKEN is not" in err


def test_a_config_url_without_a_public_key_stops_serve(clean_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TAGWIRE_CONFIG_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TAGWIRE_CONFIG_TOKEN", TOKEN)
    code, _, err = run_cli(capsys, "serve")
    assert code == 2
    assert "TAGWIRE_CONFIG_URL" in err
    assert "TAGWIRE_SIGNING_PUBLIC_KEY_FILE" in err
    assert TOKEN not in err


def test_a_bad_config_token_is_not_echoed(clean_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TAGWIRE_CONFIG_TOKEN", "tw_leaked token")
    code, _, err = run_cli(capsys, "serve")
    assert code == 2
    assert "TAGWIRE_CONFIG_TOKEN: must be an admin token" in err
    assert "leaked" not in err


@pytest.mark.e2e
def test_an_edge_node_follows_a_control_plane_over_http(tmp_path: Path) -> None:
    private_pem, public_pem = generate_keypair()
    (tmp_path / "signing.key").write_bytes(private_pem)
    (tmp_path / "signing.pub").write_bytes(public_pem)
    common = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAGWIRE_")},
        "TAGWIRE_SIGNING_PUBLIC_KEY_FILE": str(tmp_path / "signing.pub"),
        "TAGWIRE_RELOAD_INTERVAL_S": "0.2",
        "TAGWIRE_SENDER": "off",
        "TAGWIRE_ACTOR": "ci",
    }
    plane = {
        **common,
        "TAGWIRE_DATA_DIR": str(tmp_path / "plane"),
        "TAGWIRE_SIGNING_KEY_FILE": str(tmp_path / "signing.key"),
    }
    for marker in ("v1", "v2"):
        doc = make_document(f"https://hooks.example.com/{marker}")
        (tmp_path / f"{marker}.json").write_text(json.dumps(doc))
    tagwire_cli(plane, "import", str(tmp_path / "v1.json"))
    tagwire_cli(plane, "version", "create", "shop", "--note", "first")
    tagwire_cli(plane, "publish", "shop", "1")
    token = tagwire_cli(plane, "tokens", "create", "--admin", "--name", "edge").stdout.strip()

    with tagwire_process(env=plane) as plane_url:
        edge = {
            **common,
            "TAGWIRE_DATA_DIR": str(tmp_path / "edge"),
            "TAGWIRE_CONFIG_URL": plane_url,
            "TAGWIRE_CONFIG_TOKEN": token,
        }
        with tagwire_process(env=edge) as edge_url:
            assert served_version(edge_url) == 1
            tagwire_cli(plane, "import", str(tmp_path / "v2.json"))
            tagwire_cli(plane, "version", "create", "shop", "--note", "second")
            tagwire_cli(plane, "publish", "shop", "2")
            wait_until(lambda: served_version(edge_url) == 2, what="the edge to serve version 2")
            hit = make_hit(event_id=str(uuid.uuid4()))
            answer = httpx.post(
                f"{edge_url}/collect?id=shop",
                content=orjson.dumps(hit),
                headers={"user-agent": BROWSER, "content-type": "text/plain"},
            )
            assert answer.status_code == 204
            tagwire_cli(plane, "rollback", "shop", "--to", "1")
            wait_until(lambda: served_version(edge_url) == 1, what="the edge to roll back")

    conn = sqlite3.connect(tmp_path / "edge" / "tagwire.db")
    try:
        outbox = conn.execute("SELECT url FROM outbox").fetchall()
        versions = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    finally:
        conn.close()
    assert outbox == [("https://hooks.example.com/v2",)]  # the edge's own outbox
    assert versions == 0  # versions came over HTTP, not into the edge's store


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("cp.internal:8000", "must be an absolute http(s) URL"),
        ("https://ops:pw@cp.internal", "must not hold credentials"),
        ("https://cp.internal/?x=1", "must not have a query"),
        ("http://cp.internal:8000", "must be https (the admin token goes with every request)"),
        ("http://10.0.0.7:8000", "must be https"),
    ],
)
def test_a_bad_config_url_stops_start_up(url: str, reason: str) -> None:
    from config.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=re.escape(f"TAGWIRE_CONFIG_URL: {reason}")):
        load_settings({"TAGWIRE_CONFIG_URL": url})


def test_a_config_url_keeps_its_path_without_the_trailing_slash() -> None:
    from config.settings import load_settings

    settings = load_settings({"TAGWIRE_CONFIG_URL": "https://cp.internal/tagwire/"})
    assert settings.config_url == "https://cp.internal/tagwire"
    for loopback in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        assert load_settings({"TAGWIRE_CONFIG_URL": loopback}).config_url == loopback
    assert TOKEN not in repr(load_settings({"TAGWIRE_CONFIG_TOKEN": TOKEN}))

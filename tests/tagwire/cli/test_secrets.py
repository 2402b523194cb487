"""`tagwire secrets key|set|list|delete` through the real `main()`: values go in from
stdin or an environment variable, are stored only encrypted, and no command, export or
audit entry ever shows them."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from config.secret_box import SecretBox, generate_key
from demo import demo_document
from tests.helpers import isolate_settings
from tests.helpers import run_cli as run

TOKEN = "EAAB-plaintext-meta-token-7f3c9a1d"
ROTATED = "EAAB-rotated-meta-token-0b5e2d44"


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_settings(monkeypatch, tmp_path / "data")


@pytest.fixture
def secrets_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = generate_key()
    monkeypatch.setenv("TAGWIRE_SECRETS_KEY", key)
    return key


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def fails(capsys: pytest.CaptureFixture[str], code: int, *argv: str) -> str:
    got, out, err = run(capsys, *argv)
    assert (got, out) == (code, ""), err
    return err


def set_secret(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str = "demo_meta_token",
    value: str = TOKEN,
    *extra: str,
) -> str:
    stdin(monkeypatch, value)
    return ok(capsys, "secrets", "set", "demo", name, *extra)


def stored_value(data_dir: Path, key: str, container: str, name: str) -> str:
    """Decrypts the row the CLI wrote, straight from the database file."""
    with sqlite3.connect(data_dir / "tagwire.db") as conn:
        nonce, ciphertext = conn.execute(
            "SELECT nonce, ciphertext FROM secrets WHERE container_id = ? AND name = ?",
            (container, name),
        ).fetchone()
    return SecretBox.from_text(key).open(container, name, nonce, ciphertext)


def listing(capsys: pytest.CaptureFixture[str], *container: str) -> list[dict[str, Any]]:
    return json.loads(ok(capsys, "secrets", "list", *container, "--json"))


def database_bytes(data_dir: Path) -> bytes:
    files = sorted(path for path in data_dir.glob("tagwire.db*") if path.is_file())
    assert data_dir / "tagwire.db" in files
    return b"".join(path.read_bytes() for path in files)


# key


def test_key_prints_32_random_bytes_as_base64url(capsys):
    code, out, err = run(capsys, "secrets", "key")
    assert code == 0
    key = out.strip()
    assert out == key + "\n"
    assert "=" not in key
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 32
    assert "TAGWIRE_SECRETS_KEY" in err
    assert key not in err
    SecretBox.from_text(key)  # usable as TAGWIRE_SECRETS_KEY
    assert ok(capsys, "secrets", "key").strip() != key


# set


def test_set_from_stdin_stores_the_value_encrypted(capsys, monkeypatch, secrets_key, data_dir):
    out = set_secret(capsys, monkeypatch, "demo_meta_token", TOKEN + "\n", "--actor", "ana")
    box = SecretBox.from_text(secrets_key)
    assert out == f"stored secret 'demo_meta_token' of 'demo' (key {box.key_id})\n"
    assert TOKEN not in out
    assert stored_value(data_dir, secrets_key, "demo", "demo_meta_token") == TOKEN
    [row] = listing(capsys)
    assert (row["container"], row["name"], row["updated_by"], row["key_id"]) == (
        "demo", "demo_meta_token", "ana", box.key_id,
    )  # fmt: skip


def test_set_from_an_environment_variable(capsys, monkeypatch, secrets_key, data_dir):
    monkeypatch.setenv("META_TOKEN", TOKEN)
    stdin(monkeypatch, "not this one")
    out = ok(capsys, "secrets", "set", "demo", "demo_meta_token", "--from-env", "META_TOKEN")
    assert out.startswith("stored secret 'demo_meta_token' of 'demo'")
    assert stored_value(data_dir, secrets_key, "demo", "demo_meta_token") == TOKEN


def test_setting_again_rotates_the_value(capsys, monkeypatch, secrets_key, data_dir):
    set_secret(capsys, monkeypatch, "demo_meta_token", TOKEN, "--actor", "ana")
    set_secret(capsys, monkeypatch, "demo_meta_token", ROTATED, "--actor", "bo")
    assert stored_value(data_dir, secrets_key, "demo", "demo_meta_token") == ROTATED
    assert [(r["name"], r["updated_by"]) for r in listing(capsys)] == [("demo_meta_token", "bo")]


def test_set_without_a_secrets_key_names_the_setting(capsys, monkeypatch, data_dir):
    stdin(monkeypatch, TOKEN)
    err = fails(capsys, 1, "secrets", "set", "demo", "demo_meta_token")
    assert "TAGWIRE_SECRETS_KEY is not set" in err
    assert "tagwire secrets key" in err
    assert TOKEN not in err
    assert not (data_dir / "tagwire.db").exists()


def test_a_malformed_secrets_key_is_a_settings_error(capsys, monkeypatch):
    monkeypatch.setenv("TAGWIRE_SECRETS_KEY", "c2hvcnQ")
    stdin(monkeypatch, TOKEN)
    err = fails(capsys, 2, "secrets", "set", "demo", "demo_meta_token")
    assert "TAGWIRE_SECRETS_KEY" in err
    assert "32" in err


@pytest.mark.parametrize(
    "name", ["_token", "meta token", "a" * 65, "tök", ".hidden", "", "a/b", "Meta", "ga4.secret"]
)
def test_bad_names_are_usage_errors(capsys, monkeypatch, secrets_key, data_dir, name):
    stdin(monkeypatch, TOKEN)
    err = fails(capsys, 2, "secrets", "set", "demo", name)
    assert f"{name!r} is not a secret name" in err
    assert not (data_dir / "tagwire.db").exists()


@pytest.mark.parametrize("name", ["a", "meta-token", "ga4_api_secret", "x" * 64, "0-key"])
def test_good_names_are_taken(capsys, monkeypatch, secrets_key, name):
    set_secret(capsys, monkeypatch, name)
    assert [r["name"] for r in listing(capsys)] == [name]


@pytest.mark.parametrize("value", ["", "\n"])
def test_an_empty_value_is_refused(capsys, monkeypatch, secrets_key, data_dir, value):
    stdin(monkeypatch, value)
    err = fails(capsys, 2, "secrets", "set", "demo", "demo_meta_token")
    assert "the secret value is empty" in err
    assert not (data_dir / "tagwire.db").exists()


def test_from_env_naming_an_unset_variable(capsys, monkeypatch, secrets_key):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    err = fails(capsys, 2, "secrets", "set", "demo", "t", "--from-env", "NO_SUCH_TOKEN")
    assert "--from-env NO_SUCH_TOKEN: the environment variable is not set" in err


def test_a_value_over_the_limit_is_refused(capsys, monkeypatch, secrets_key):
    stdin(monkeypatch, "x" * 16_385)
    err = fails(capsys, 2, "secrets", "set", "demo", "t")
    assert "16385 characters; at most 16384" in err


def test_the_value_is_never_an_argument(capsys, secrets_key):
    err = fails(capsys, 2, "secrets", "set", "demo", "demo_meta_token", TOKEN)
    assert "unrecognized arguments" in err


# list


def test_list_shows_names_never_values(capsys, monkeypatch, secrets_key):
    set_secret(capsys, monkeypatch, "demo_meta_token", TOKEN, "--actor", "ana")
    set_secret(capsys, monkeypatch, "demo_tiktok_token", ROTATED, "--actor", "bo")
    stdin(monkeypatch, "shop-value-91e2")
    monkeypatch.setenv("TAGWIRE_ACTOR", "cy")
    ok(capsys, "secrets", "set", "shop", "ga4-secret")
    table = ok(capsys, "secrets", "list")
    as_json = ok(capsys, "secrets", "list", "--json")
    for out in (table, as_json):
        for value in (TOKEN, ROTATED, "shop-value-91e2"):
            assert value not in out
    lines = table.splitlines()
    assert lines[0].split() == ["CONTAINER", "NAME", "UPDATED", "BY", "KEY"]
    # UPDATED is "YYYY-MM-DD HH:MM:SSZ": two cells when split on spaces
    rows = sorted((cells[0], cells[1], cells[4]) for cells in map(str.split, lines[1:]))
    assert rows == [
        ("demo", "demo_meta_token", "ana"),
        ("demo", "demo_tiktok_token", "bo"),
        ("shop", "ga4-secret", "cy"),
    ]
    records = json.loads(as_json)
    assert {key for record in records for key in record} == {
        "container", "name", "updated_at_ms", "updated_by", "key_id",
    }  # fmt: skip
    assert sorted(r["name"] for r in listing(capsys, "demo")) == [
        "demo_meta_token", "demo_tiktok_token",
    ]  # fmt: skip
    assert [r["name"] for r in listing(capsys, "shop")] == ["ga4-secret"]
    assert listing(capsys, "other") == []


def test_list_without_a_database_points_at_the_data_dir(capsys, data_dir):
    err = fails(capsys, 1, "secrets", "list")
    assert f"no database at {data_dir / 'tagwire.db'}" in err


# delete


def test_delete_removes_the_secret(capsys, monkeypatch, secrets_key, data_dir):
    set_secret(capsys, monkeypatch, "demo_meta_token")
    set_secret(capsys, monkeypatch, "demo_tiktok_token", ROTATED)
    out = ok(capsys, "secrets", "delete", "demo", "demo_meta_token", "--actor", "ana")
    assert out == "deleted secret 'demo_meta_token' of 'demo'\n"
    assert [r["name"] for r in listing(capsys)] == ["demo_tiktok_token"]
    with sqlite3.connect(data_dir / "tagwire.db") as conn:
        assert conn.execute("SELECT count(*) FROM secrets").fetchone() == (1,)


def test_delete_of_an_unknown_secret(capsys, monkeypatch, secrets_key):
    set_secret(capsys, monkeypatch, "demo_meta_token")
    before = ok(capsys, "audit", "--json")
    err = fails(capsys, 1, "secrets", "delete", "demo", "demo_tiktok_token")
    assert "container 'demo' has no secret 'demo_tiktok_token'" in err
    err = fails(capsys, 1, "secrets", "delete", "shop", "demo_meta_token")
    assert "container 'shop' has no secret 'demo_meta_token'" in err
    assert ok(capsys, "audit", "--json") == before
    assert [r["name"] for r in listing(capsys)] == ["demo_meta_token"]


def test_delete_with_a_bad_name_is_a_usage_error(capsys, secrets_key):
    err = fails(capsys, 2, "secrets", "delete", "demo", "bad name")
    assert "is not a secret name" in err


# the value is nowhere


def test_set_and_delete_are_audited_without_the_value(capsys, monkeypatch, secrets_key):
    set_secret(capsys, monkeypatch, "demo_meta_token", TOKEN, "--actor", "ana")
    ok(capsys, "secrets", "delete", "demo", "demo_meta_token", "--actor", "bo")
    out = ok(capsys, "audit", "--json")
    assert TOKEN not in out
    entries = [json.loads(line) for line in out.splitlines()]
    assert [(e["action"], e["actor"], e["container"]) for e in entries] == [
        ("secret.delete", "bo", "demo"),
        ("secret.set", "ana", "demo"),
    ]
    assert entries[1]["detail"] == {
        "name": "demo_meta_token",
        "key_id": SecretBox.from_text(secrets_key).key_id,
    }
    assert entries[0]["detail"]["name"] == "demo_meta_token"
    assert TOKEN not in ok(capsys, "audit")


def test_the_plaintext_is_in_no_file_and_no_output(
    capsys, monkeypatch, tmp_path, secrets_key, data_dir
):
    doc = tmp_path / "demo.json"
    doc.write_text(json.dumps(demo_document("https://receiver.example/demo/events")))
    ok(capsys, "import", str(doc))
    set_secret(capsys, monkeypatch, "demo_meta_token", TOKEN)
    monkeypatch.setenv("GA4_SECRET", ROTATED)
    ok(capsys, "secrets", "set", "demo", "demo_ga4_secret", "--from-env", "GA4_SECRET")
    assert stored_value(data_dir, secrets_key, "demo", "demo_ga4_secret") == ROTATED

    stored = database_bytes(data_dir)
    for value in (TOKEN, ROTATED):
        assert value.encode() not in stored
        assert value.encode("utf-16-le") not in stored
        assert base64.b64encode(value.encode()) not in stored
    assert secrets_key.encode() not in stored

    outputs = [
        ok(capsys, "export", "demo"),
        ok(capsys, "export", "demo", "--format", "yaml"),
        ok(capsys, "audit", "--json"),
        ok(capsys, "audit"),
        ok(capsys, "secrets", "list", "--json"),
        ok(capsys, "secrets", "list"),
    ]
    exported = json.loads(outputs[0])
    assert "demo_meta_token" in json.dumps(exported)  # the document names the secret
    for out in outputs:
        assert TOKEN not in out
        assert ROTATED not in out


@pytest.mark.parametrize("container", ["Acme Shop!", "Shop", "a" * 65, "_shop"])
def test_bad_container_ids_are_usage_errors(capsys, monkeypatch, secrets_key, data_dir, container):
    stdin(monkeypatch, TOKEN)
    err = fails(capsys, 2, "secrets", "set", container, "meta-token")
    assert f"{container!r} is not a container id" in err
    assert not (data_dir / "tagwire.db").exists()

"""`tagwire tokens create|list|revoke`: shown once, stored hashed, refused once revoked."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from config.tokens import hash_token, is_token_shaped
from tests.container.fire_api_helpers import build_app, crm_event
from tests.helpers import isolate_settings
from tests.helpers import run_cli as run


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_settings(monkeypatch, tmp_path)
    return tmp_path


def create(capsys: pytest.CaptureFixture[str], *owner: str, name: str = "crm") -> str:
    code, out, err = run(capsys, "tokens", "create", *owner, "--name", name)
    assert code == 0, err
    token = out.strip()
    assert out == token + "\n"
    assert is_token_shaped(token)
    return token


@pytest.mark.parametrize(
    "command", [["tokens"], ["tokens", "create"], ["tokens", "list"], ["tokens", "revoke"]]
)
def test_every_command_has_help(command, capsys):
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    assert "usage: tagwire" in out


def test_create_prints_the_token_once_and_stores_only_its_hash(data_dir, capsys):
    code, out, err = run(capsys, "tokens", "create", "--container", "shop", "--name", "crm")
    assert code == 0
    token = out.strip()
    assert is_token_shaped(token)
    assert "shown only this once" in err
    assert "cannot show it again" in err
    assert token not in err
    assert hash_token(token) not in out + err
    audit = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert audit[0]["action"] == "token create"
    assert (audit[0]["container"], audit[0]["name"], audit[0]["via"]) == ("shop", "crm", "cli")
    database = b"".join(path.read_bytes() for path in data_dir.glob("tagwire.db*"))
    assert token.encode() not in database
    assert hash_token(token).encode() in database
    code, out, err = run(capsys, "tokens", "list")
    assert token not in out + err
    assert hash_token(token) not in out + err


def test_create_and_revoke_are_in_the_stored_audit_log(data_dir, capsys):
    token = create(capsys, "--container", "shop")
    assert run(capsys, "tokens", "revoke", "--container", "shop", "--name", "crm")[0] == 0
    assert run(capsys, "tokens", "revoke", "--container", "shop", "--name", "crm")[0] == 1
    code, out, _ = run(capsys, "audit", "--json")
    assert code == 0
    entries = [json.loads(line) for line in out.splitlines()]
    assert [(e["action"], e["container"], e["detail"]) for e in entries] == [
        ("token.revoke", "shop", {"name": "crm"}),
        ("token.create", "shop", {"name": "crm"}),
    ]
    assert token not in out


def test_list_shows_names_states_and_times_never_tokens(data_dir, capsys):
    shop = create(capsys, "--container", "shop")
    admin = create(capsys, "--admin", name="ops")
    create(capsys, "--container", "blog", name="cms")
    assert run(capsys, "tokens", "revoke", "--container", "blog", "--name", "cms")[0] == 0
    code, out, _ = run(capsys, "tokens", "list")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["container", "name", "state", "created", "last", "used", "revoked"]
    assert [line.split()[:3] for line in lines] == [
        ["*", "(admin)", "ops"],
        ["blog", "cms", "revoked"],
        ["shop", "crm", "live"],
    ]
    code, out, _ = run(capsys, "tokens", "list", "--json", "--container", "shop")
    [record] = json.loads(out)
    assert set(record) == {"container", "name", "admin", "state", "created_at",
                           "last_used_at", "revoked_at"}  # fmt: skip
    assert (record["name"], record["admin"], record["state"]) == ("crm", False, "live")
    code, out, _ = run(capsys, "tokens", "list", "--json", "--admin")
    assert [(r["name"], r["admin"]) for r in json.loads(out)] == [("ops", True)]
    for token in (shop, admin):
        assert token not in out
        assert hash_token(token) not in out


def test_list_without_tokens(data_dir, capsys):
    assert run(capsys, "migrate")[0] == 0
    assert run(capsys, "tokens", "list")[1] == "no tokens\n"


def test_a_live_name_is_unique_until_revoked(data_dir, capsys):
    create(capsys, "--container", "shop")
    code, out, err = run(capsys, "tokens", "create", "--container", "shop", "--name", "crm")
    assert (code, out) == (1, "")
    assert "already has a token named 'crm'" in err
    assert run(capsys, "tokens", "revoke", "--container", "shop", "--name", "crm")[0] == 0
    create(capsys, "--container", "shop")


def test_revoke_unknown_is_an_error(data_dir, capsys):
    create(capsys, "--container", "shop")
    code, _, err = run(capsys, "tokens", "revoke", "--container", "blog", "--name", "crm")
    assert code == 1
    assert "no live token 'crm' of container 'blog'" in err
    code, _, err = run(capsys, "tokens", "revoke", "--admin", "--name", "crm")
    assert code == 1
    assert "no live admin token 'crm'" in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["create", "--name", "crm"], "--container --admin"),
     (["create", "--container", "shop"], "--name"),
     (["create", "--container", "shop", "--admin", "--name", "x"], "--admin"),
     (["create", "--container", "*", "--name", "x"], "--container"),
     (["create", "--container", "Shop", "--name", "x"], "--container"),
     (["create", "--container", "shop", "--name", "has space"], "--name"),
     (["create", "--container", "shop", "--name", "x" * 65], "--name"),
     (["revoke", "--container", "shop"], "--name"),
     (["list", "--container", "shop", "--admin"], "--admin")],
)  # fmt: skip
def test_bad_arguments_exit_2_naming_the_argument(data_dir, capsys, argv, named):
    code, out, err = run(capsys, "tokens", *argv)
    assert code == 2
    assert named in err
    assert out == ""
    assert not (data_dir / "tagwire.db").exists()


def test_the_fire_api_takes_a_created_token_and_refuses_it_once_revoked(data_dir, capsys):
    token = create(capsys, "--container", "shop")
    admin = create(capsys, "--admin", name="ops")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    body = orjson.dumps(crm_event())
    with TestClient(build_app(data_dir / "tagwire.db")) as client:
        assert client.post("/api/v1/events", content=body, headers=headers).status_code == 200
        code, out, _ = run(capsys, "tokens", "revoke", "--container", "shop", "--name", "crm")
        assert (code, out) == (
            0,
            "revoked token 'crm' of container 'shop'; requests with it now get 403\n",
        )
        refused = client.post("/api/v1/events", content=body, headers=headers)
        assert refused.status_code == 403
        assert "revoked" in refused.json()["errors"][0]["reason"]
        as_admin = {**headers, "authorization": f"Bearer {admin}"}
        assert client.post("/api/v1/events", content=body, headers=as_admin).status_code >= 400
    code, out, _ = run(capsys, "tokens", "list", "--json", "--container", "shop")
    [record] = json.loads(out)
    assert record["state"] == "revoked"
    assert record["last_used_at"] is not None

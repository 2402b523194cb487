"""`tagwire tokens create|list|revoke`: shown once, stored hashed, refused once revoked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from config.tokens import hash_token, is_token_shaped
from tests.container.fire_api_helpers import add_token, build_app, crm_event
from tests.helpers import isolate_settings, make_document
from tests.helpers import run_cli as run


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_settings(monkeypatch, tmp_path)
    return tmp_path


def document(folder: Path, container_id: str) -> Path:
    """A valid container document file for `container_id`."""
    doc = make_document()
    doc["container"]["id"] = container_id
    path = folder / f"{container_id}.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def known(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The data dir, with containers shop and blog imported into its store."""
    for container_id in ("shop", "blog"):
        code, _, err = run(capsys, "import", str(document(data_dir, container_id)))
        assert code == 0, err
    return data_dir


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


def test_create_prints_the_token_once_and_stores_only_its_hash(known, capsys):
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
    database = b"".join(path.read_bytes() for path in known.glob("tagwire.db*") if path.is_file())
    assert token.encode() not in database
    assert hash_token(token).encode() in database
    code, out, err = run(capsys, "tokens", "list")
    assert token not in out + err
    assert hash_token(token) not in out + err


def test_create_and_revoke_are_in_the_stored_audit_log(known, capsys):
    token = create(capsys, "--container", "shop")
    assert run(capsys, "tokens", "revoke", "--container", "shop", "--name", "crm")[0] == 0
    assert run(capsys, "tokens", "revoke", "--container", "shop", "--name", "crm")[0] == 1
    code, out, _ = run(capsys, "audit", "--json")
    assert code == 0
    entries = [json.loads(line) for line in out.splitlines()]
    assert [(e["action"], e["container"], e["detail"]) for e in entries[:2]] == [
        ("token.revoke", "shop", {"name": "crm"}),
        ("token.create", "shop", {"name": "crm"}),
    ]
    assert {e["action"] for e in entries[2:]} == {"workspace.import"}
    assert token not in out


def test_list_shows_names_states_and_times_never_tokens(known, capsys):
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
    assert set(record) == {"container", "name", "admin", "client", "state", "created_at",
                           "last_used_at", "revoked_at"}  # fmt: skip
    assert (record["name"], record["admin"], record["state"]) == ("crm", False, "live")
    assert record["client"] is None
    code, out, _ = run(capsys, "tokens", "list", "--json", "--admin")
    assert [(r["name"], r["admin"]) for r in json.loads(out)] == [("ops", True)]
    for token in (shop, admin):
        assert token not in out
        assert hash_token(token) not in out


def test_list_without_tokens(data_dir, capsys):
    assert run(capsys, "migrate")[0] == 0
    assert run(capsys, "tokens", "list")[1] == "no tokens\n"


def test_a_live_name_is_unique_until_revoked(known, capsys):
    create(capsys, "--container", "shop")
    code, out, err = run(capsys, "tokens", "create", "--container", "shop", "--name", "crm")
    assert (code, out) == (1, "")
    assert "already has a token named 'crm'" in err
    assert run(capsys, "tokens", "revoke", "--container", "shop", "--name", "crm")[0] == 0
    create(capsys, "--container", "shop")


def test_revoke_unknown_is_an_error(known, capsys):
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


def test_the_fire_api_takes_a_created_token_and_refuses_it_once_revoked(known, capsys):
    token = create(capsys, "--container", "shop")
    admin = create(capsys, "--admin", name="ops")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    body = orjson.dumps(crm_event())
    with TestClient(build_app(known / "tagwire.db")) as client:
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


# --- the container must exist ------------------------------------------------------------


def test_create_refuses_a_container_the_store_does_not_know(known, capsys):
    before = run(capsys, "audit", "--json")[1]
    code, out, err = run(capsys, "tokens", "create", "--container", "nosuch", "--name", "crm")
    assert (code, out) == (1, "")
    assert err.startswith("tagwire: container 'nosuch' is not in the store (it holds blog, shop)")
    assert "import its document with `tagwire import FILE`" in err
    assert "--document FILE" in err
    assert "tw_" not in err
    assert not any(line.startswith("{") for line in err.splitlines())  # nothing to audit
    assert json.loads(run(capsys, "tokens", "list", "--json")[1]) == []
    assert run(capsys, "audit", "--json")[1] == before


def test_create_on_an_empty_store_says_it_holds_no_container(data_dir, capsys):
    code, out, err = run(capsys, "tokens", "create", "--container", "shop", "--name", "crm")
    assert (code, out) == (1, "")
    assert "container 'shop' is not in the store (it holds none yet)" in err


def test_a_container_served_from_a_settings_file_is_known(data_dir, capsys, monkeypatch):
    monkeypatch.setenv("TAGWIRE_CONTAINERS", str(document(data_dir, "shop")))
    token = create(capsys, "--container", "shop")
    code, out, err = run(capsys, "tokens", "create", "--container", "blog", "--name", "crm")
    assert (code, out) == (1, "")
    assert "container 'blog' is not in the store" in err
    [record] = json.loads(run(capsys, "tokens", "list", "--json")[1])
    assert (record["container"], record["state"]) == ("shop", "live")
    assert token not in err


def test_document_names_a_file_served_container(data_dir, capsys):
    blog = str(document(data_dir, "blog"))
    create(capsys, "--container", "blog", "--document", blog)
    code, out, err = run(capsys, "tokens", "create", "--container", "shop", "--name", "x",
                         "--document", blog)  # fmt: skip
    assert (code, out) == (1, "")
    assert "container 'shop' is not in the store" in err


def test_document_that_is_not_a_valid_container_exits_1_naming_it(data_dir, capsys):
    bad = data_dir / "bad.json"
    bad.write_text("{}")
    code, out, err = run(capsys, "tokens", "create", "--container", "shop", "--name", "x",
                         "--document", str(bad))  # fmt: skip
    assert (code, out) == (1, "")
    assert str(bad) in err


def test_admin_tokens_need_no_container(data_dir, capsys):
    create(capsys, "--admin", name="ops")
    assert (data_dir / "tagwire.db").exists()
    code, out, err = run(capsys, "tokens", "create", "--admin", "--name", "x",
                         "--document", str(document(data_dir, "shop")))  # fmt: skip
    assert (code, out) == (2, "")
    assert "--document: an admin token belongs to no container" in err


def test_revoke_works_for_a_container_the_store_no_longer_knows(data_dir, capsys):
    """Revoking is always possible: a token must not outlive its container's removal."""
    add_token(data_dir / "tagwire.db", "gone", "crm")
    code, out, _ = run(capsys, "tokens", "revoke", "--container", "gone", "--name", "crm")
    assert (code, out) == (
        0,
        "revoked token 'crm' of container 'gone'; requests with it now get 403\n",
    )


# --- admin tokens limited to one client ------------------------------------------------------


@pytest.fixture
def acme(known: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The data dir with containers shop and blog, and client acme owning shop."""
    assert run(capsys, "clients", "create", "acme", "--name", "Acme")[0] == 0
    assert run(capsys, "clients", "assign", "acme", "shop")[0] == 0
    return known


def test_create_list_and_revoke_an_admin_token_of_a_client(acme, capsys):
    code, out, err = run(capsys, "tokens", "create", "--admin", "--client", "acme",
                         "--name", "ops")  # fmt: skip
    assert code == 0, err
    token = out.strip()
    assert is_token_shaped(token)
    assert "created admin token 'ops' of client 'acme'. It is shown only this once" in err
    audit = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [(a["action"], a["container"], a["client"]) for a in audit] == [
        ("token create", "*acme", "acme")
    ]
    create(capsys, "--admin", name="ops")
    create(capsys, "--container", "shop")

    code, out, _ = run(capsys, "tokens", "list")
    assert [line.split()[:3] for line in out.splitlines()[1:]] == [
        ["*", "(admin)", "ops"],
        ["*acme", "(admin)", "ops"],
        ["shop", "crm", "live"],
    ]
    listed = json.loads(run(capsys, "tokens", "list", "--json", "--admin")[1])
    assert [(r["container"], r["admin"], r["client"]) for r in listed] == [
        ("*", True, None),
        ("*acme", True, "acme"),
    ]
    code, out, _ = run(capsys, "tokens", "list", "--json", "--admin", "--client", "acme")
    [record] = json.loads(out)
    assert (record["name"], record["admin"], record["client"]) == ("ops", True, "acme")
    assert token not in out
    assert hash_token(token) not in out

    code, out, _ = run(capsys, "tokens", "revoke", "--admin", "--client", "acme", "--name", "ops")
    assert (code, out) == (
        0,
        "revoked admin token 'ops' of client 'acme'; requests with it now get 403\n",
    )
    states = {r["container"]: r["state"] for r in json.loads(run(capsys, "tokens", "list",
                                                                 "--json")[1])}  # fmt: skip
    assert states == {"*": "live", "*acme": "revoked", "shop": "live"}
    code, _, err = run(capsys, "tokens", "revoke", "--admin", "--client", "acme", "--name", "ops")
    assert code == 1
    assert "no live admin token 'ops' of client 'acme'" in err


def test_create_refuses_a_client_the_store_does_not_hold(acme, capsys):
    code, out, err = run(capsys, "tokens", "create", "--admin", "--client", "acne",
                         "--name", "ops")  # fmt: skip
    assert (code, out) == (1, "")
    assert err.startswith("tagwire: no client 'acne'; ")
    assert "tagwire clients create" in err
    assert "tw_" not in err
    assert json.loads(run(capsys, "tokens", "list", "--json")[1]) == []


@pytest.mark.parametrize(
    "argv",
    [["create", "--container", "shop", "--client", "acme", "--name", "x"],
     ["list", "--client", "acme"],
     ["list", "--container", "shop", "--client", "acme"],
     ["revoke", "--container", "shop", "--client", "acme", "--name", "x"]],
)  # fmt: skip
def test_client_without_admin_is_a_usage_error_naming_it(data_dir, capsys, argv):
    code, out, err = run(capsys, "tokens", *argv)
    assert (code, out) == (2, "")
    assert "--client: only an admin token is limited to a client; add --admin" in err
    assert not (data_dir / "tagwire.db").exists()


@pytest.mark.parametrize("client", ["Acme", "*acme", "a b", "x" * 65])
def test_a_bad_client_id_exits_2_naming_it(data_dir, capsys, client):
    code, out, err = run(capsys, "tokens", "create", "--admin", "--client", client,
                         "--name", "ops")  # fmt: skip
    assert (code, out) == (2, "")
    assert "--client" in err
    assert "is not a client id" in err
    assert not (data_dir / "tagwire.db").exists()


def test_an_admin_token_of_a_client_sends_no_events(acme, capsys):
    scoped = create(capsys, "--admin", "--client", "acme", name="ops")
    headers = {"authorization": f"Bearer {scoped}", "content-type": "application/json"}
    with TestClient(build_app(acme / "tagwire.db")) as client:
        refused = client.post("/api/v1/events", content=orjson.dumps(crm_event()),
                              headers=headers)  # fmt: skip
    assert refused.status_code == 403
    assert "admin token 'ops' cannot send events" in refused.json()["errors"][0]["reason"]


# --- stdout holds only the token -----------------------------------------------------------


@pytest.mark.parametrize("log_level", ["info", "debug"])
def test_stdout_is_the_token_alone_and_log_lines_go_to_stderr(known, log_level):
    """The `tagwire.audit` line (admin_ui.audit) is a log line: JSON on stderr, with the
    note, never on stdout, so `TOKEN=$(tagwire tokens create ...)` holds just the token."""
    env = {**os.environ, "TAGWIRE_DATA_DIR": str(known), "TAGWIRE_LOG_LEVEL": log_level}
    result = subprocess.run(
        [sys.executable, "-m", "tagwire", "tokens", "create", "--container", "shop", "--name",
         "crm"], env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    token = result.stdout.removesuffix("\n")
    assert is_token_shaped(token)
    assert result.stdout == token + "\n"
    notes = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    logs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [note.split(".")[0] for note in notes] == ["created token 'crm' of container 'shop'"]
    audits = [line["action"] for line in logs if line["logger"] == "tagwire.audit"]
    assert audits == ["token create"]
    assert token not in result.stderr

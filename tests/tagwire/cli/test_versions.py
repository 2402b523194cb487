"""`tagwire import|export|version create|versions|publish|rollback|archive|audit` through
the real `main()` on a fresh data dir: what each prints, its exit status, and what it
leaves in the store (read back with the same commands)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.signing import key_id, load_public_key
from demo import demo_document
from tagwire.cli.keys import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE
from tests.helpers import isolate_settings
from tests.helpers import run_cli as run

RECEIVER = "https://receiver.example/demo/events"


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_settings(monkeypatch, tmp_path / "data")


@pytest.fixture
def keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A key pair made by `tagwire keys generate`; the folder holding it."""
    folder = tmp_path / "keys"
    code, _, err = run(capsys, "keys", "generate", "--out", str(folder))
    assert code == 0, err
    return folder


@pytest.fixture
def signing(keys: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """TAGWIRE_SIGNING_KEY_FILE set to the generated private key; its key id."""
    monkeypatch.setenv("TAGWIRE_SIGNING_KEY_FILE", str(keys / PRIVATE_KEY_FILE))
    return key_id(load_public_key((keys / PUBLIC_KEY_FILE).read_bytes()))


def demo(**lead_value: Any) -> dict[str, Any]:
    doc = demo_document(RECEIVER)
    if "value" in lead_value:
        doc["triggers"][1]["conditions"]["all"][1]["value"] = lead_value["value"]
    return doc


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
def demo_file(tmp_path: Path) -> str:
    return write(tmp_path / "demo.json", demo())


@pytest.fixture
def changed_file(tmp_path: Path) -> str:
    """The demo container with the lead trigger's minimum value raised from 0 to 10."""
    return write(tmp_path / "demo-v2.json", demo(value=10))


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


def fails(capsys: pytest.CaptureFixture[str], code: int, *argv: str) -> str:
    """Runs a command expected to exit `code` with nothing on stdout; its stderr."""
    got, out, err = run(capsys, *argv)
    assert (got, out) == (code, ""), err
    return err


def audit(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = ok(capsys, "audit", "--json")
    return [json.loads(line) for line in out.splitlines()]


def versions(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    return json.loads(ok(capsys, "versions", "demo", "--json", *extra))


@pytest.fixture
def two_versions(capsys, signing, demo_file, changed_file) -> None:
    """demo: version 1 (by ana) and version 2 (by bo), nothing published."""
    ok(capsys, "import", demo_file, "--actor", "ana")
    ok(capsys, "version", "create", "demo", "--note", "first import", "--actor", "ana")
    ok(capsys, "import", changed_file, "--actor", "bo")
    ok(capsys, "version", "create", "demo", "--note", "leads need a value", "--actor", "bo")


# import


def test_import_fills_the_workspace_and_says_so(capsys, demo_file):
    code, out, err = run(capsys, "import", demo_file, "--actor", "ana")
    assert (code, err) == (0, "")
    assert out == f"imported {demo_file} into the workspace of 'demo'\n"
    assert json.loads(ok(capsys, "export", "demo")) == demo()
    [entry] = audit(capsys)[1:]  # the newest entry is the export just made
    assert (entry["action"], entry["actor"], entry["container"]) == (
        "workspace.import", "ana", "demo",
    )  # fmt: skip
    assert entry["detail"] == {"source": demo_file}


def test_importing_the_same_file_again_changes_nothing(capsys, demo_file):
    ok(capsys, "import", demo_file)
    before = audit(capsys)
    out = ok(capsys, "import", demo_file)
    assert out == f"{demo_file}: the workspace of 'demo' already holds this document\n"
    assert audit(capsys) == before


def test_invalid_document_lists_every_problem_and_changes_nothing(capsys, tmp_path, demo_file):
    ok(capsys, "import", demo_file, "--actor", "ana")
    before = ok(capsys, "export", "demo")
    entries = audit(capsys)
    bad = demo()
    bad["tags"][0]["firing_triggers"] = ["purchases-v2"]
    bad["tags"][1]["params"]["access_token"] = 42
    bad["triggers"][0]["events"] = []
    bad_file = write(tmp_path / "bad.json", bad)
    err = fails(capsys, 1, "import", bad_file, "--actor", "mallory")
    lines = err.splitlines()
    assert lines[0] == f"tagwire: {bad_file}: 3 issues in the container document"
    problems = {line.strip().split(":")[0] for line in lines[1:]}
    assert {
        "tags[0].firing_triggers[0]",
        "tags[1].params.access_token",
        "triggers[0].events",
    } <= problems
    assert "unknown trigger 'purchases-v2'" in err
    assert audit(capsys) == entries
    assert ok(capsys, "export", "demo") == before


def test_lua_that_does_not_compile_is_refused_with_its_path(capsys, tmp_path):
    doc = json.loads((Path(__file__).parents[3] / "examples" / "container.json").read_text())
    good = write(tmp_path / "shop.json", doc)
    ok(capsys, "import", good)
    before = ok(capsys, "export", "acme-shop")
    entries = audit(capsys)
    broken = copy.deepcopy(doc)
    broken["templates"][0]["lua"] = "if true then"
    err = fails(capsys, 1, "import", write(tmp_path / "broken.json", broken))
    assert "broken.json: 1 issue" in err
    assert "templates[0].lua:" in err
    assert "'end' expected" in err
    assert audit(capsys) == entries
    assert ok(capsys, "export", "acme-shop") == before


def test_import_of_a_missing_file_names_it(capsys, tmp_path):
    err = fails(capsys, 1, "import", str(tmp_path / "gone.yaml"))
    assert "gone.yaml" in err
    assert "cannot read file" in err
    assert not (tmp_path / "data" / "tagwire.db").exists()


# version create


def test_version_create_without_a_signing_key_names_the_setting(capsys, demo_file):
    ok(capsys, "import", demo_file)
    err = fails(capsys, 1, "version", "create", "demo", "--note", "first")
    assert "TAGWIRE_SIGNING_KEY_FILE" in err
    assert versions(capsys)["versions"] == []


def test_version_create_signs_and_refuses_an_unchanged_workspace(
    capsys, signing, demo_file, changed_file
):
    ok(capsys, "import", demo_file)
    out = ok(capsys, "version", "create", "demo", "--note", "first")
    assert out == f"created version 1 of 'demo' (parent -, signed by key {signing})\n"
    err = fails(capsys, 1, "version", "create", "demo", "--note", "nothing changed")
    assert "same as version 1" in err
    ok(capsys, "import", changed_file)
    out = ok(capsys, "version", "create", "demo", "--note", "second")
    assert out == f"created version 2 of 'demo' (parent 1, signed by key {signing})\n"
    assert [v["number"] for v in versions(capsys)["versions"]] == [2, 1]


def test_version_create_without_a_workspace(capsys, signing, demo_file):
    ok(capsys, "import", demo_file)
    err = fails(capsys, 1, "version", "create", "nope", "--note", "x")
    assert "container 'nope' is not in the store (it holds demo)" in err
    assert "`tagwire import FILE`" in err


def test_note_is_required(capsys, signing, demo_file):
    err = fails(capsys, 2, "version", "create", "demo")
    assert "--note" in err


def test_unreadable_signing_key_file_names_it(capsys, tmp_path, monkeypatch, demo_file):
    ok(capsys, "import", demo_file)
    missing = tmp_path / "no-such.key"
    monkeypatch.setenv("TAGWIRE_SIGNING_KEY_FILE", str(missing))
    err = fails(capsys, 1, "version", "create", "demo", "--note", "x")
    assert f"TAGWIRE_SIGNING_KEY_FILE {missing}: cannot read" in err


@pytest.fixture
def encrypted_key(tmp_path, capsys, monkeypatch) -> str:
    """An encrypted key made with `keys generate --passphrase-env`, named by
    TAGWIRE_SIGNING_KEY_FILE; its key id."""
    monkeypatch.setenv("NEW_KEY_PASSPHRASE", "correct horse")
    folder = tmp_path / "locked"
    out = ok(
        capsys, "keys", "generate", "--out", str(folder), "--passphrase-env", "NEW_KEY_PASSPHRASE"
    )
    monkeypatch.setenv("TAGWIRE_SIGNING_KEY_FILE", str(folder / PRIVATE_KEY_FILE))
    return out.strip()


def test_encrypted_key_with_its_passphrase_signs(capsys, monkeypatch, encrypted_key, demo_file):
    monkeypatch.setenv("TAGWIRE_SIGNING_KEY_PASSPHRASE", "correct horse")
    ok(capsys, "import", demo_file)
    out = ok(capsys, "version", "create", "demo", "--note", "first")
    assert f"signed by key {encrypted_key}" in out
    assert versions(capsys)["versions"][0]["key_id"] == encrypted_key


@pytest.mark.parametrize(
    ("passphrase", "message"),
    [
        ("battery staple", "cannot decrypt the private key: wrong passphrase"),
        (None, "the private key is encrypted; give its passphrase"),
    ],
)
def test_encrypted_key_without_the_right_passphrase_is_refused(
    capsys, monkeypatch, encrypted_key, demo_file, passphrase, message
):
    if passphrase is not None:
        monkeypatch.setenv("TAGWIRE_SIGNING_KEY_PASSPHRASE", passphrase)
    ok(capsys, "import", demo_file)
    err = fails(capsys, 1, "version", "create", "demo", "--note", "first")
    assert "TAGWIRE_SIGNING_KEY_FILE" in err
    assert message in err
    assert "battery staple" not in err
    assert versions(capsys)["versions"] == []


# versions


def test_versions_json_has_numbers_parents_authors_and_environments(capsys, two_versions):
    ok(capsys, "publish", "demo", "1", "--env", "live")
    ok(capsys, "publish", "demo", "2", "--env", "staging")
    listing = versions(capsys)
    assert listing["container"] == "demo"
    assert listing["environments"] == {"live": 1, "staging": 2}
    summary = [
        (v["number"], v["parent"], v["author"], v["note"], v["environments"], v["archived_at_ms"])
        for v in listing["versions"]
    ]
    assert summary == [
        (2, 1, "bo", "leads need a value", ["staging"], None),
        (1, None, "ana", "first import", ["live"], None),
    ]


def test_versions_table(capsys, two_versions):
    ok(capsys, "publish", "demo", "1")
    lines = ok(capsys, "versions", "demo").splitlines()
    assert lines[0].split() == ["VERSION", "CREATED", "AUTHOR", "ENVIRONMENTS", "NOTE"]
    assert len(lines) == 3
    newest, oldest = (line.split() for line in lines[1:])
    assert newest[0] == "2"
    assert (newest[3], newest[4], " ".join(newest[5:])) == ("bo", "-", "leads need a value")
    assert oldest[0] == "1"
    assert (oldest[3], oldest[4], " ".join(oldest[5:])) == ("ana", "live", "first import")
    assert newest[2].endswith("Z")


def test_author_comes_from_tagwire_actor(capsys, monkeypatch, signing, demo_file):
    monkeypatch.setenv("TAGWIRE_ACTOR", "ci-bot")
    ok(capsys, "import", demo_file)
    ok(capsys, "version", "create", "demo", "--note", "from ci")
    assert versions(capsys)["versions"][0]["author"] == "ci-bot"
    assert {e["actor"] for e in audit(capsys)} == {"ci-bot"}


def test_actor_flag_wins_over_tagwire_actor(capsys, monkeypatch, signing, demo_file):
    monkeypatch.setenv("TAGWIRE_ACTOR", "ci-bot")
    ok(capsys, "import", demo_file)
    ok(capsys, "version", "create", "demo", "--note", "by hand", "--actor", "ana")
    assert versions(capsys)["versions"][0]["author"] == "ana"


def test_versions_of_a_container_without_any(capsys, demo_file):
    ok(capsys, "import", demo_file)
    out = ok(capsys, "versions", "demo")
    assert "container 'demo' has no versions" in out


def test_versions_without_a_database_points_at_the_data_dir(capsys, tmp_path):
    err = fails(capsys, 1, "versions", "demo")
    assert f"no database at {tmp_path / 'data' / 'tagwire.db'}" in err
    assert not (tmp_path / "data" / "tagwire.db").exists()


# publish, rollback, archive


def test_publish_to_live_and_staging(capsys, two_versions):
    out = ok(capsys, "publish", "demo", "1")
    assert out == "published version 1 of 'demo' to live (new environment)\n"
    out = ok(capsys, "publish", "demo", "2", "--env", "staging")
    assert out == "published version 2 of 'demo' to staging (new environment)\n"
    out = ok(capsys, "publish", "demo", "2", "--env", "live")
    assert out == "published version 2 of 'demo' to live (was version 1)\n"
    assert versions(capsys)["environments"] == {"live": 2, "staging": 2}


def test_publish_an_unknown_version_names_it(capsys, two_versions):
    err = fails(capsys, 1, "publish", "demo", "7")
    assert "version 7" in err
    assert "'demo'" in err
    assert versions(capsys)["environments"] == {}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["publish", "demo", "1", "--env", "Live"], "environment 'Live' is not a valid name"),
        (["publish", "demo", "1", "--env", "-x"], "expected one argument"),
        (["publish", "demo", "1", "--env", "a" * 41], "is not a valid name"),
        (["publish", "demo", "0"], "'0' is not a version number"),
        (["publish", "demo", "two"], "'two' is not a version number"),
        (["rollback", "demo", "--env", "pr_12", "--to", "1"], "'pr_12' is not a valid name"),
        (["rollback", "demo"], "the following arguments are required: --to"),
        (["archive", "demo", "-1"], "'-1' is not a version number"),
        (["archive", "demo"], "the following arguments are required: VERSION"),
    ],
)
def test_bad_command_lines_exit_2(capsys, two_versions, argv, message):
    err = fails(capsys, 2, *argv)
    assert message in err
    assert versions(capsys)["environments"] == {}


def test_rollback_points_live_back(capsys, two_versions):
    ok(capsys, "publish", "demo", "1")
    ok(capsys, "publish", "demo", "2")
    out = ok(capsys, "rollback", "demo", "--to", "1")
    assert out == "rolled live of 'demo' back to version 1 (was 2)\n"
    assert versions(capsys)["environments"] == {"live": 1}
    assert json.loads(ok(capsys, "export", "demo", "live")) == demo()


def test_rollback_to_the_current_version_is_refused(capsys, two_versions):
    ok(capsys, "publish", "demo", "2", "--env", "staging")
    before = audit(capsys)
    err = fails(capsys, 1, "rollback", "demo", "--env", "staging", "--to", "2")
    assert "'staging' of 'demo' already runs version 2" in err
    assert audit(capsys) == before


def test_rollback_of_an_environment_that_does_not_exist(capsys, two_versions):
    err = fails(capsys, 1, "rollback", "demo", "--env", "staging", "--to", "1")
    assert "no environment 'staging'" in err


def test_an_in_use_version_cannot_be_archived(capsys, two_versions):
    ok(capsys, "publish", "demo", "1", "--env", "staging")
    err = fails(capsys, 1, "archive", "demo", "1")
    assert "version 1" in err
    assert "staging" in err
    assert [v["number"] for v in versions(capsys)["versions"]] == [2, 1]


def test_archive_hides_a_version_and_stops_its_publishing(capsys, two_versions):
    assert ok(capsys, "archive", "demo", "1") == "archived version 1 of 'demo'\n"
    assert [v["number"] for v in versions(capsys)["versions"]] == [2]
    every = versions(capsys, "--all")["versions"]
    assert [v["number"] for v in every] == [2, 1]
    assert every[1]["archived_at_ms"] is not None
    assert every[0]["archived_at_ms"] is None
    archived = ok(capsys, "versions", "demo", "--all").splitlines()[2].split()
    assert (archived[0], archived[3], archived[4]) == ("1", "ana", "archived")
    assert "archived" not in ok(capsys, "versions", "demo")
    err = fails(capsys, 1, "publish", "demo", "1")
    assert "archived" in err
    assert versions(capsys)["environments"] == {}
    ok(capsys, "publish", "demo", "2")
    err = fails(capsys, 1, "rollback", "demo", "--to", "1")
    assert "archived" in err
    assert versions(capsys)["environments"] == {"live": 2}


# export


def test_export_workspace_version_and_environment(capsys, two_versions):
    ok(capsys, "publish", "demo", "1", "--env", "live")
    assert json.loads(ok(capsys, "export", "demo")) == demo(value=10)
    assert json.loads(ok(capsys, "export", "demo", "workspace")) == demo(value=10)
    assert json.loads(ok(capsys, "export", "demo", "1")) == demo()
    assert json.loads(ok(capsys, "export", "demo", "2")) == demo(value=10)
    assert json.loads(ok(capsys, "export", "demo", "live")) == demo()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("9", "has no version 9"),
        ("staging", "has no environment 'staging'"),
        ("NOT-AN-ENV", "'NOT-AN-ENV' is not a valid name"),
    ],
)
def test_export_of_an_unknown_ref(capsys, two_versions, ref, message):
    err = fails(capsys, 1, "export", "demo", ref)
    assert message in err


def test_export_of_an_unknown_container(capsys, two_versions):
    err = fails(capsys, 1, "export", "shop")
    assert "container 'shop' is not in the store (it holds demo)" in err


@pytest.mark.parametrize("ref", ["workspace", "1", "live"])
def test_yaml_export_imports_back_as_the_same_document(capsys, tmp_path, two_versions, ref):
    ok(capsys, "publish", "demo", "2")
    target = tmp_path / f"export-{ref}.yaml"
    code, out, err = run(capsys, "export", "demo", ref, "--format", "yaml", "--out", str(target))
    assert (code, out) == (0, "")
    assert err == f"wrote demo@{ref} to {target}\n"
    exported = yaml.safe_load(target.read_text())
    assert json.loads(ok(capsys, "export", "demo", ref)) == exported
    if ref == "1":  # the workspace holds version 2: importing version 1 changes it back
        assert ok(capsys, "import", str(target)) == (
            f"imported {target} into the workspace of 'demo'\n"
        )
    out = ok(capsys, "import", str(target))
    assert out == f"{target}: the workspace of 'demo' already holds this document\n"


def test_yaml_on_stdout(capsys, two_versions):
    out = ok(capsys, "export", "demo", "1", "--format", "yaml")
    assert out.startswith("container:\n")
    assert yaml.safe_load(out) == demo()


def test_json_out_writes_a_file(capsys, tmp_path, two_versions):
    target = tmp_path / "v2.json"
    code, out, err = run(capsys, "export", "demo", "2", "--out", str(target))
    assert (code, out) == (0, "")
    assert str(target) in err
    assert json.loads(target.read_text()) == demo(value=10)


def test_out_into_a_missing_folder_is_an_error(capsys, tmp_path, two_versions):
    target = tmp_path / "missing" / "v2.json"
    err = fails(capsys, 1, "export", "demo", "2", "--out", str(target))
    assert f"--out {target}: cannot write" in err
    assert not target.exists()


# audit


def test_audit_lists_every_change_with_its_actor(capsys, monkeypatch, tmp_path, two_versions):
    ok(capsys, "publish", "demo", "1", "--actor", "cy")
    ok(capsys, "publish", "demo", "2", "--env", "staging", "--actor", "cy")
    ok(capsys, "publish", "demo", "2", "--actor", "dee")
    ok(capsys, "rollback", "demo", "--to", "1", "--actor", "eve")
    monkeypatch.setenv("TAGWIRE_ACTOR", "fay")
    ok(capsys, "export", "demo", "2")
    entries = audit(capsys)
    assert [(e["action"], e["actor"]) for e in reversed(entries)] == [
        ("workspace.import", "ana"),
        ("version.create", "ana"),
        ("workspace.import", "bo"),
        ("version.create", "bo"),
        ("environment.publish", "cy"),
        ("environment.publish", "cy"),
        ("environment.publish", "dee"),
        ("environment.rollback", "eve"),
        ("container.export", "fay"),
    ]
    assert {e["container"] for e in entries} == {"demo"}
    assert entries[0]["detail"] == {"ref": "2"}
    assert entries[1]["detail"]["env"] == "live"
    assert entries[1]["detail"]["version"] == 1
    assert entries[1]["detail"]["previous"] == 2
    assert entries[5]["detail"]["number"] == 2
    assert entries[5]["detail"]["note"] == "leads need a value"
    at = [e["at_ms"] for e in entries]
    assert at == sorted(at, reverse=True)

    lines = ok(capsys, "audit").splitlines()
    assert lines[0].split() == ["AT", "ACTOR", "ACTION", "CONTAINER", "DETAIL"]
    rows = [line.split() for line in lines[1:]]
    assert [(row[2], row[3], row[4]) for row in rows] == [
        (e["actor"], e["action"], e["container"]) for e in entries
    ]
    assert '{"ref":"2"}' in lines[1]


def test_audit_filters_by_container_and_limits(capsys, tmp_path, two_versions):
    doc = json.loads((Path(__file__).parents[3] / "examples" / "container.json").read_text())
    ok(capsys, "import", write(tmp_path / "shop.json", doc), "--actor", "zed")
    out = ok(capsys, "audit", "--json", "--container", "acme-shop")
    only = [json.loads(line) for line in out.splitlines()]
    assert [(e["action"], e["actor"]) for e in only] == [("workspace.import", "zed")]
    limited = ok(capsys, "audit", "--json", "--limit", "2").splitlines()
    assert [json.loads(line)["actor"] for line in limited] == ["zed", "bo"]
    assert "'0' is not a number from 1 to 10000" in fails(capsys, 2, "audit", "--limit", "0")


def test_archive_is_audited(capsys, two_versions):
    ok(capsys, "archive", "demo", "1", "--actor", "gus")
    newest = audit(capsys)[0]
    assert (newest["action"], newest["actor"], newest["container"]) == (
        "version.archive", "gus", "demo",
    )  # fmt: skip

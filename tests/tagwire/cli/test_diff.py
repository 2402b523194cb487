"""`tagwire diff OLD NEW`: text and JSON on real files, exit 0 whether or not they differ,
1 naming the file for an invalid one, 2 for a bad command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from config.signing import generate_keypair
from demo import demo_document
from tests.helpers import isolate_settings
from tests.helpers import run_cli as run

EXAMPLE = Path(__file__).parents[3] / "examples" / "container.json"
RECEIVER = "https://receiver.example/demo/events"


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_settings(monkeypatch, tmp_path / "data")


def _write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture
def changed(tmp_path: Path) -> str:
    """The example container with one tag edited, one removed, one trigger added and the
    container renamed; the remaining items are moved around, which is not a change."""
    doc = json.loads(EXAMPLE.read_text())
    doc["container"]["name"] = "ACME Shop"
    doc["tags"] = [tag for tag in doc["tags"] if tag["id"] != "funnel-debug"]
    doc["tags"][0]["params"]["url"] = "https://ingest.acme-shop.example/v2/orders"
    doc["tags"].reverse()
    doc["triggers"].append({"id": "refunds", "name": "Refunds", "events": ["refund"]})
    return _write(tmp_path / "new.json", doc)


def test_text_diff_of_two_files(capsys, changed):
    code, out, err = run(capsys, "diff", str(EXAMPLE), changed)
    assert code == 0, err
    assert out.splitlines() == [
        '~ container: name "ACME Shop (www.acme-shop.example)" -> "ACME Shop"',
        "+ trigger refunds",
        "- tag funnel-debug",
        '~ tag warehouse-orders: params.url "https://ingest.acme-shop.example/tagwire/orders"'
        ' -> "https://ingest.acme-shop.example/v2/orders"',
        "1 added, 1 removed, 1 changed, 7 unchanged",
    ]


def test_json_diff_of_two_files(capsys, changed):
    code, out, err = run(capsys, "diff", str(EXAMPLE), changed, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["equal"] is False
    assert result["container"] == [
        {"path": "name", "old": "ACME Shop (www.acme-shop.example)", "new": "ACME Shop"}
    ]
    assert result["triggers"]["added"] == ["refunds"]
    assert result["tags"]["removed"] == ["funnel-debug"]
    assert [item["id"] for item in result["tags"]["changed"]] == ["warehouse-orders"]


def test_equal_files_exit_zero_with_no_changes(capsys, tmp_path):
    copy = _write(tmp_path / "same.json", json.loads(EXAMPLE.read_text()))
    assert run(capsys, "diff", str(EXAMPLE), copy) == (0, "no changes\n", "")
    code, out, _ = run(capsys, "diff", str(EXAMPLE), copy, "--json")
    assert code == 0
    assert json.loads(out)["equal"] is True


def test_invalid_file_exits_one_naming_it(capsys, tmp_path):
    doc = json.loads(EXAMPLE.read_text())
    doc["tags"][0]["firing_triggers"] = ["nope"]
    bad = _write(tmp_path / "bad.json", doc)
    code, out, err = run(capsys, "diff", str(EXAMPLE), bad)
    assert code == 1
    assert out == ""
    assert f"{bad}: 1 issue" in err
    assert "tags[0].firing_triggers[0]: unknown trigger 'nope'" in err


def test_missing_file_exits_one(capsys, tmp_path):
    code, _, err = run(capsys, "diff", str(tmp_path / "gone.json"), str(EXAMPLE))
    assert code == 1
    assert "gone.json" in err
    assert "cannot read" in err


@pytest.mark.parametrize("argv", [["diff"], ["diff", "only-one.json"]])
def test_missing_arguments_are_usage_errors(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "the following arguments are required" in err


# CONTAINER@REF: documents from the store


def _demo(lead_value: int = 0) -> dict[str, Any]:
    doc = demo_document(RECEIVER)
    doc["triggers"][1]["conditions"]["all"][1]["value"] = lead_value
    return doc


def _ok(capsys: Any, *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    return out


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> dict[str, str]:
    """demo version 1 (the lead trigger needs a value above 0) published to live, version 2
    (above 10) in the workspace and published to staging; the files each was made from."""
    private_pem, _ = generate_keypair()
    key = tmp_path / "signing.key"
    key.write_bytes(private_pem)
    monkeypatch.setenv("TAGWIRE_SIGNING_KEY_FILE", str(key))
    files = {
        "v1": _write(tmp_path / "v1.json", _demo(0)),
        "v2": _write(tmp_path / "v2.json", _demo(10)),
    }
    _ok(capsys, "import", files["v1"])
    _ok(capsys, "version", "create", "demo", "--note", "first")
    _ok(capsys, "publish", "demo", "1")
    _ok(capsys, "import", files["v2"])
    _ok(capsys, "version", "create", "demo", "--note", "leads need a value")
    _ok(capsys, "publish", "demo", "2", "--env", "staging")
    return files


CHANGED_TRIGGER = "~ trigger leads: conditions.all[1].value 0 -> 10"


def test_text_diff_of_two_versions(capsys, stored):
    code, out, err = run(capsys, "diff", "demo@1", "demo@2")
    assert (code, err) == (0, "")
    assert out.splitlines() == [CHANGED_TRIGGER, "0 added, 0 removed, 1 changed, 8 unchanged"]


def test_json_diff_of_two_versions(capsys, stored):
    result = json.loads(_ok(capsys, "diff", "demo@1", "demo@2", "--json"))
    assert result["equal"] is False
    assert result["triggers"]["changed"] == [
        {"id": "leads", "changes": [{"path": "conditions.all[1].value", "old": 0, "new": 10}]}
    ]
    assert result["triggers"]["unchanged"] == 1
    assert result["tags"] == {"added": [], "removed": [], "changed": [], "unchanged": 6}
    assert result["container"] == []


def test_reversed_refs_reverse_the_change(capsys, stored):
    out = _ok(capsys, "diff", "demo@2", "demo@1")
    assert out.splitlines()[0] == "~ trigger leads: conditions.all[1].value 10 -> 0"


def test_environments_resolve_to_their_versions(capsys, stored):
    assert _ok(capsys, "diff", "demo@live", "demo@staging").splitlines()[0] == CHANGED_TRIGGER
    assert _ok(capsys, "diff", "demo@staging", "demo@2") == "no changes\n"
    _ok(capsys, "rollback", "demo", "--env", "staging", "--to", "1")
    assert _ok(capsys, "diff", "demo@live", "demo@staging") == "no changes\n"


def test_a_file_against_the_workspace(capsys, stored):
    out = _ok(capsys, "diff", stored["v1"], "demo@workspace")
    assert out.splitlines()[0] == CHANGED_TRIGGER
    assert _ok(capsys, "diff", stored["v2"], "demo@workspace") == "no changes\n"
    result = json.loads(_ok(capsys, "diff", "demo@1", stored["v1"], "--json"))
    assert result["equal"] is True


def test_a_diff_is_not_audited_and_changes_nothing(capsys, stored):
    before = _ok(capsys, "audit", "--json")
    _ok(capsys, "diff", "demo@live", "demo@workspace")
    assert _ok(capsys, "audit", "--json") == before


@pytest.mark.parametrize(
    ("old", "message"),
    [
        ("demo@9", "container 'demo' has no version 9"),
        ("demo@pr-12", "container 'demo' has no environment 'pr-12'"),
        ("shop@1", "container 'shop' is not in the store (it holds demo)"),
        ("shop@workspace", "container 'shop' is not in the store (it holds demo)"),
        ("demo@Live", "environment 'Live' is not a valid name"),
    ],
)
def test_unknown_reference_exits_one(capsys, stored, old, message):
    code, out, err = run(capsys, "diff", old, "demo@2")
    assert (code, out) == (1, "")
    assert message in err


@pytest.mark.parametrize("ref", ["@1", "demo@", "@"])
def test_malformed_reference_is_a_usage_error(capsys, stored, ref):
    code, out, err = run(capsys, "diff", ref, "demo@1")
    assert (code, out) == (2, "")
    assert f"{ref!r}: write CONTAINER@REF" in err


def test_reference_without_a_database_points_at_the_data_dir(capsys, tmp_path):
    code, out, err = run(capsys, "diff", "demo@1", str(EXAMPLE))
    assert (code, out) == (1, "")
    assert "no database at" in err
    assert not (tmp_path / "data" / "tagwire.db").exists()


def test_an_existing_file_with_at_in_its_name_is_a_file(capsys, tmp_path, stored):
    odd = _write(tmp_path / "demo@2.json", _demo(10))
    assert _ok(capsys, "diff", odd, "demo@2") == "no changes\n"


@pytest.mark.parametrize("name", ["shop@v3.yaml", "exports/demo@2.json", "demo@live.yml"])
def test_a_missing_file_with_at_in_its_name_is_reported_as_a_file(capsys, tmp_path, stored, name):
    missing = str(tmp_path / name)
    code, out, err = run(capsys, "diff", missing, "demo@2")
    assert (code, out) == (1, "")
    assert f"{missing}: 1 issue" in err
    assert "cannot read file" in err

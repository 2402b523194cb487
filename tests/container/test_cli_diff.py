"""`tagwire diff OLD NEW`: text and JSON on real files, exit 0 whether or not they differ,
1 naming the file for an invalid one, 2 for a bad command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli as run

EXAMPLE = Path(__file__).parents[2] / "examples" / "container.json"


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGWIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TAGWIRE_DATABASE_URL", raising=False)
    monkeypatch.delenv("TAGWIRE_SETTINGS_FILE", raising=False)


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

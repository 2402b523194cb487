"""The `tagwire template run|test` contract that external checks rely on."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tags
from tags.package import SHIPPED
from tagwire.cli import main

HIT = {"v": 1, "event": "lead", "event_id": "evt-00000001", "data": {"value": 5, "currency": "EUR"}}
KEYS = {"pixels", "requests", "logs", "error"}


def template(tmp_path, lua, meta=None):
    folder = tmp_path / "tpl"
    folder.mkdir(exist_ok=True)
    (folder / "template.lua").write_text(lua)
    (folder / "template.json").write_text(json.dumps({"name": "tpl", **(meta or {})}))
    return folder


def run(tmp_path, path, params=None, hit=HIT, capsys=None):
    hit_file = tmp_path / "hit.json"
    hit_file.write_text(json.dumps(hit))
    argv = ["template", "run", str(path), "--hit", str(hit_file)]
    if params is not None:
        params_file = tmp_path / "params.json"
        params_file.write_text(json.dumps(params))
        argv += ["--params", str(params_file)]
    status = main(argv)
    out = capsys.readouterr().out
    return status, (json.loads(out) if out.strip() else None)


def test_success_prints_exactly_the_contract(tmp_path, capsys):
    path = template(
        tmp_path,
        'pixel{vendor="fbq", command="track", args={"Lead", {value=event.get("data.value")}}}\n'
        'send_http{url="https://api.example.com/e", body={n=1}}',
        {"permissions": {"read_event_data": ["data.*"], "pixel": ["fbq"],
                         "send_http": [{"url": "https://api.example.com/*"}]}},
    )  # fmt: skip
    status, doc = run(tmp_path, path, capsys=capsys)
    assert status == 0
    assert set(doc) == KEYS
    assert doc["error"] is None
    assert doc["pixels"] == [{"vendor": "fbq", "command": "track", "args": ["Lead", {"value": 5}]}]
    assert doc["requests"] == [
        {"method": "POST", "url": "https://api.example.com/e", "headers": {}, "body": '{"n":1}'}
    ]


@pytest.mark.parametrize(
    ("lua", "meta", "params", "kind"),
    [
        ("local x = = 1", {}, None, "syntax"),
        ('error("boom")', {}, None, "runtime"),
        ('fail("no consent id")', {}, None, "runtime"),
        ('event.get("user.em")', {}, None, "permission"),
        ("while true do end", {}, None, "budget"),
        ("local x = params.url", {"params": {"url": {"type": "string", "required": True}}}, {},
         "params"),
    ],
)  # fmt: skip
def test_each_error_kind_exits_1_with_json(tmp_path, capsys, lua, meta, params, kind):
    status, doc = run(tmp_path, template(tmp_path, lua, meta), params, capsys=capsys)
    assert status == 1
    assert set(doc) == KEYS
    assert doc["error"]["kind"] == kind
    assert doc["error"]["message"]


def test_single_lua_file_has_an_empty_manifest(tmp_path, capsys):
    lua = tmp_path / "one.lua"
    lua.write_text('send_http{url="https://api.example.com/"}')
    status, doc = run(tmp_path, lua, capsys=capsys)
    assert status == 1
    assert doc["error"]["kind"] == "permission"


def test_invalid_metadata_is_a_template_error(tmp_path, capsys):
    path = template(tmp_path, "local a = 1", {"permissions": {"teleport": True}})
    status, doc = run(tmp_path, path, capsys=capsys)
    assert status == 1
    assert "teleport" in doc["error"]["message"]


@pytest.mark.parametrize(
    ("hit", "params", "message"),
    [
        ("not json", None, "invalid JSON"),
        ({"v": 1, "event": "lead"}, None, "event_id: required"),
        (HIT, [1, 2], "must be a JSON object"),
    ],
)
def test_bad_cli_input_exits_2(tmp_path, capsys, hit, params, message):
    path = template(tmp_path, "local a = 1")
    hit_file = tmp_path / "hit.json"
    hit_file.write_text(hit if isinstance(hit, str) else json.dumps(hit))
    argv = ["template", "run", str(path), "--hit", str(hit_file)]
    if params is not None:
        (tmp_path / "p.json").write_text(json.dumps(params))
        argv += ["--params", str(tmp_path / "p.json")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_missing_hit_flag_is_a_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "tagwire", "template", "run", "x.lua"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--hit" in result.stderr


def test_template_test_passes_and_fails_with_a_diff(tmp_path, capsys):
    meta = {
        "permissions": {"read_event_data": ["event"], "pixel": ["ttq"]},
        "tests": [
            {"name": "tracks", "hit": HIT,
             "expect": {"pixels": [{"vendor": "ttq", "command": "track", "args": ["lead"]}]}},
            {"name": "wrong expectation", "hit": HIT,
             "expect": {"pixels": [{"vendor": "ttq", "command": "track", "args": ["Lead"]}]}},
        ],
    }  # fmt: skip
    path = template(
        tmp_path, 'pixel{vendor="ttq", command="track", args={event.get("event")}}', meta
    )
    assert main(["template", "test", str(path)]) == 1
    out = capsys.readouterr().out
    assert "PASS tpl: tracks" in out
    assert "FAIL tpl: wrong expectation" in out
    assert '-        "Lead"' in out
    assert '+        "lead"' in out


def test_shipped_templates_pass_their_own_tests(capsys):
    for name in SHIPPED:
        folder = Path(tags.__file__).parent / "templates" / name
        assert main(["template", "test", str(folder)]) == 0, capsys.readouterr().out


def test_missing_template_path_is_bad_input(tmp_path, capsys):
    hit_file = tmp_path / "hit.json"
    hit_file.write_text(json.dumps(HIT))
    assert main(["template", "run", str(tmp_path / "nope"), "--hit", str(hit_file)]) == 2
    assert main(["template", "test", str(tmp_path / "nope")]) == 2
    assert "no such template" in capsys.readouterr().err


def test_test_expectations_compare_text_bodies_as_text_and_bad_tests_fail(tmp_path, capsys):
    meta = {
        "permissions": {"send_http": [{"url": "https://api.example.com/*"}]},
        "tests": [
            {"name": "text body", "hit": HIT,
             "expect": {"requests": [{"method": "POST", "url": "https://api.example.com/e",
                                      "headers": {}, "body": '{"n": 1}'}]}},
            {"name": "error without kind", "hit": HIT, "expect": {"error": None}},
            {"name": "hit is not an object", "hit": [1], "expect": {}},
        ],
    }  # fmt: skip
    path = template(tmp_path, 'send_http{url="https://api.example.com/e", body=\'{"n": 1}\'}', meta)
    assert main(["template", "test", str(path)]) == 1
    out = capsys.readouterr().out
    assert "PASS tpl: text body" in out
    assert "PASS tpl: error without kind" in out
    assert "FAIL tpl: hit is not an object" in out

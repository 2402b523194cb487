import argparse
import json
from collections.abc import Iterator

import pytest

from config.sqlite.migrations import migrations
from tagwire.cli import build_parser, main
from tests.helpers import make_document


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["admin"],
        ["migrate"],
        ["backup"],
        ["validate"],
        ["template"],
        ["template", "test"],
        ["template", "run"],
        ["fake-platforms"],
        ["outbox"],
        ["history"],
        ["tokens"],
        ["users"],
        ["users", "create"],
        ["users", "list"],
        ["users", "reset-link"],
        ["clients"],
        ["clients", "create"],
        ["clients", "grant"],
        ["clients", "assign"],
        ["keys"],
        ["keys", "generate"],
        ["keys", "sign"],
        ["keys", "verify"],
        ["diff"],
        ["import"],
        ["export"],
        ["version"],
        ["version", "create"],
        ["versions"],
        ["publish"],
        ["rollback"],
        ["archive"],
        ["unpublish"],
        ["audit"],
        ["secrets"],
        ["secrets", "key"],
        ["secrets", "set"],
        ["secrets", "list"],
        ["secrets", "delete"],
    ],
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: tagwire" in capsys.readouterr().out


def test_every_subcommand_is_covered_by_the_help_test():
    commands = build_parser()._subparsers._group_actions[0].choices
    assert set(commands) == {"serve", "migrate", "validate", "template", "fake-platforms",
                             "outbox", "history", "tokens", "keys", "diff", "import", "export",
                             "version", "versions", "publish", "rollback", "archive", "unpublish",
                             "audit", "secrets", "users", "clients", "admin", "backup"}  # fmt: skip


def _positionals(
    parser: argparse.ArgumentParser, path: str
) -> Iterator[tuple[str, argparse.Action]]:
    """Every positional argument of `parser` and of all its sub-commands, with the
    command line that reaches it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _positionals(sub, f"{path} {name}")
        elif not action.option_strings:
            yield path, action


def test_every_positional_argument_has_help():
    found = list(_positionals(build_parser(), "tagwire"))
    missing = [
        f"{path} {action.metavar or action.dest}"
        for path, action in found
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert missing == []
    assert ("tagwire secrets set", "name") in {(path, a.dest) for path, a in found}


def test_unknown_command_and_bad_flag_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as info:
        main(["explode"])
    assert info.value.code == 2
    assert "invalid choice: 'explode'" in capsys.readouterr().err


def test_validate_valid_and_invalid(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(make_document()))
    bad_doc = make_document(firing_triggers=["lead_confirm"])
    bad_doc["container"]["currency_default"] = "EUX"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_doc))
    assert main(["validate", str(good)]) == 0
    assert "valid (container 'shop', 1 tags, 3 triggers)" in capsys.readouterr().out
    assert main(["validate", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert "tags[0].firing_triggers[0]: unknown trigger 'lead_confirm'" in err
    assert "container.currency_default" in err


def test_validate_missing_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.json")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_migrate_creates_the_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TAGWIRE_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate"]) == 0
    assert f"schema at version {migrations()[-1][0]}" in capsys.readouterr().out
    assert (tmp_path / "data" / "tagwire.db").exists()


def test_serve_without_containers_explains(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TAGWIRE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TAGWIRE_PORT", "0")
    assert main(["serve"]) == 1
    assert "no container to serve" in capsys.readouterr().err


def test_serve_with_invalid_container_lists_issues(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(make_document(template="nope")))
    monkeypatch.setenv("TAGWIRE_PORT", "0")
    assert main(["serve", "--container", str(bad)]) == 1
    assert "tags[0].template: unknown template 'nope'" in capsys.readouterr().err


def test_serve_on_a_busy_port(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setenv("TAGWIRE_DATA_DIR", str(tmp_path))
        assert main(["serve", "--demo", "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_validate_compiles_document_templates(tmp_path, capsys):
    doc = make_document(template="broken", params={})
    doc["templates"] = [{"id": "broken", "lua": "local x = = 1"}]
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    assert main(["validate", str(path)]) == 1
    assert "templates[0].lua: broken:1:" in capsys.readouterr().err


def test_version_names_the_installed_release(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tagwire {version('tagwire')}"

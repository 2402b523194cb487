"""What every command shares: refusals of the control plane become the same exit codes
and messages whichever command meets them (an unknown container above all), argparse
types from the control plane's checks, and the actor of a change."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from admin_ui.errors import FieldError, NotFound, UnknownContainer
from config.publishing import PublishError
from demo import demo_document
from tagwire.cli.common import (
    CommandError,
    UsageError,
    actor,
    argument_type,
    command_error,
    container_id,
)
from tests.helpers import isolate_settings
from tests.helpers import run_cli as run

UNKNOWN = (
    "tagwire: container 'nosuch' is not in the store (it holds demo); import its document "
    "with `tagwire import FILE`"
)


@pytest.fixture
def store_with_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A data dir whose store holds the demo container's workspace."""
    isolate_settings(monkeypatch, tmp_path / "data")
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(demo_document("https://receiver.example/demo/events")))
    code, _, err = run(capsys, "import", str(path))
    assert code == 0, err


@pytest.mark.parametrize(
    "argv",
    [
        ["versions", "nosuch"],
        ["versions", "nosuch", "--json"],
        ["export", "nosuch"],
        ["export", "nosuch", "live"],
        ["version", "create", "nosuch", "--note", "first"],
        ["publish", "nosuch", "1"],
        ["rollback", "nosuch", "--to", "1"],
        ["unpublish", "nosuch", "--env", "pr-1"],
        ["archive", "nosuch", "1"],
        ["diff", "nosuch@1", "demo@workspace"],
        ["tokens", "create", "--container", "nosuch", "--name", "crm"],
    ],
)
def test_an_unknown_container_exits_1_with_one_message(store_with_demo, capsys, argv):
    before = run(capsys, "audit", "--json")[1]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.startswith(UNKNOWN)
    assert len(err.splitlines()) == 1
    assert run(capsys, "audit", "--json")[1] == before


@pytest.mark.parametrize(
    "argv",
    [
        ["versions", "Shop"],
        ["export", "no such"],
        ["publish", "_x", "1"],
        ["secrets", "delete", "Shop", "token"],
        ["tokens", "create", "--container", "Shop", "--name", "crm"],
    ],
)
def test_a_malformed_container_id_is_a_usage_error(store_with_demo, capsys, argv):
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert "is not a container id" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "--container", "nosuch"],
        ["secrets", "list", "nosuch"],
        ["tokens", "list", "--container", "nosuch"],
        ["outbox", "status", "--container", "nosuch"],
        ["history", "--container", "nosuch"],
    ],
)
def test_filters_naming_an_unknown_container_match_nothing(store_with_demo, capsys, argv):
    """Listings filter: outbox rows, tokens and audit entries also belong to containers
    served from files, which the store does not hold."""
    code, _, err = run(capsys, *argv)
    assert (code, err) == (0, "")


def test_command_error_exit_codes():
    assert type(command_error(FieldError("actor", "too long"))) is UsageError
    assert str(command_error(FieldError("actor", "too long"))) == "actor: too long"
    for refusal in (NotFound("no such token"), UnknownContainer("x", []), PublishError("no")):
        error = command_error(refusal)
        assert type(error) is CommandError
        assert str(error) == str(refusal)


def test_argument_type_gives_argparse_the_reason():
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'Shop' is not a container id"):
        container_id("Shop")
    assert container_id("shop") == "shop"

    def refuse(text: str) -> str:
        raise PublishError(f"{text!r} is refused")

    with pytest.raises(argparse.ArgumentTypeError, match=r"^'x' is refused$"):
        argument_type(refuse)("x")


def test_actor_names_the_option(monkeypatch):
    monkeypatch.setenv("TAGWIRE_ACTOR", "ci-bot")
    assert actor(argparse.Namespace(actor=None)) == "ci-bot"
    assert actor(argparse.Namespace(actor=" ana ")) == "ana"
    with pytest.raises(UsageError, match=r"^--actor: give a name of 1 to 200 characters$"):
        actor(argparse.Namespace(actor="x" * 201))

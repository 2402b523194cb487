"""`tagwire keys generate`: two key files with the right modes, never overwritten, the
passphrase only from the environment, and the key id on stdout."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from config.signing import key_id, load_private_key, load_public_key, sign, verify
from tagwire.cli.keys import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE
from tests.helpers import isolate_settings
from tests.helpers import run_cli as run


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_settings(monkeypatch, tmp_path / "data")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generate_writes_a_usable_pair_and_prints_its_key_id(tmp_path, capsys):
    keys = tmp_path / "keys"
    code, out, err = run(capsys, "keys", "generate", "--out", str(keys))
    assert code == 0, err
    private_path, public_path = keys / PRIVATE_KEY_FILE, keys / PUBLIC_KEY_FILE
    assert _mode(private_path) == 0o600
    assert _mode(keys) == 0o700
    private = load_private_key(private_path.read_bytes())
    public = load_public_key(public_path.read_bytes())
    assert out == key_id(public) + "\n"
    assert str(private_path) in err
    assert "unencrypted" in err
    verify({"a": 1}, sign({"a": 1}, private), public)


def test_private_key_is_0600_whatever_the_umask(tmp_path, capsys):
    import os

    previous = os.umask(0o277)
    try:
        code, _, err = run(capsys, "keys", "generate", "--out", str(tmp_path))
    finally:
        os.umask(previous)
    assert code == 0, err
    assert _mode(tmp_path / PRIVATE_KEY_FILE) == 0o600


def test_generate_into_an_existing_folder(tmp_path, capsys):
    (tmp_path / "other.txt").write_text("kept")
    code, out, _ = run(capsys, "keys", "generate", "--out", str(tmp_path))
    assert code == 0
    assert len(out.strip()) == 16
    assert (tmp_path / "other.txt").read_text() == "kept"


@pytest.mark.parametrize("existing", [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE])
def test_existing_key_files_are_never_overwritten(tmp_path, capsys, existing):
    (tmp_path / existing).write_text("precious")
    code, out, err = run(capsys, "keys", "generate", "--out", str(tmp_path))
    assert code == 1
    assert out == ""
    assert f"{tmp_path / existing} already exists" in err
    assert (tmp_path / existing).read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


def test_a_second_generate_refuses_and_keeps_the_first_pair(tmp_path, capsys):
    assert run(capsys, "keys", "generate", "--out", str(tmp_path))[0] == 0
    before = (tmp_path / PRIVATE_KEY_FILE).read_bytes()
    code, _, err = run(capsys, "keys", "generate", "--out", str(tmp_path))
    assert code == 1
    assert PRIVATE_KEY_FILE in err
    assert (tmp_path / PRIVATE_KEY_FILE).read_bytes() == before


def test_passphrase_comes_from_the_named_environment_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SIGNING_PASSPHRASE", "correct horse")
    code, out, err = run(
        capsys, "keys", "generate", "--out", str(tmp_path), "--passphrase-env", "SIGNING_PASSPHRASE"
    )
    assert code == 0, err
    pem = (tmp_path / PRIVATE_KEY_FILE).read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "correct horse" not in out + err
    assert "$SIGNING_PASSPHRASE" in err
    private = load_private_key(pem, b"correct horse")
    assert key_id(private.public_key()) == out.strip()


@pytest.mark.parametrize(("value", "reason"), [(None, "is not set"), ("", "is empty")])
def test_missing_or_empty_passphrase_is_a_usage_error(tmp_path, capsys, monkeypatch, value, reason):
    if value is None:
        monkeypatch.delenv("NO_SUCH_PASSPHRASE", raising=False)
    else:
        monkeypatch.setenv("NO_SUCH_PASSPHRASE", value)
    code, out, err = run(
        capsys, "keys", "generate", "--out", str(tmp_path / "k"), "--passphrase-env",
        "NO_SUCH_PASSPHRASE",
    )  # fmt: skip
    assert code == 2
    assert f"--passphrase-env NO_SUCH_PASSPHRASE: the environment variable {reason}" in err
    assert out == ""
    assert not (tmp_path / "k").exists()


def test_unwritable_folder_is_an_error_naming_it(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "keys", "generate", "--out", str(blocker / "keys"))
    assert code == 1
    assert f"cannot create {blocker / 'keys'}" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys"], "the following arguments are required: COMMAND"),
        (["keys", "generate"], "the following arguments are required: --out"),
        (["keys", "generate", "--out"], "expected one argument"),
        (["keys", "rotate"], "invalid choice: 'rotate'"),
        (["keys", "generate", "--out", "x", "--passphrase", "pw"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert out == ""


def test_sign_then_verify_a_document_file(tmp_path, capsys):
    code, _, _ = run(capsys, "keys", "generate", "--out", str(tmp_path / "k"))
    assert code == 0
    doc = Path(__file__).parents[3] / "examples" / "container.json"
    code, signature, _ = run(
        capsys, "keys", "sign", str(doc), "--key", str(tmp_path / "k" / PRIVATE_KEY_FILE)
    )
    assert code == 0
    pub = str(tmp_path / "k" / PUBLIC_KEY_FILE)
    code, said, _ = run(
        capsys, "keys", "verify", str(doc), f"--signature={signature.strip()}", "--public-key", pub
    )
    assert code == 0
    assert "signature valid" in said
    changed = tmp_path / "changed.json"
    changed.write_text(doc.read_text().replace('"name": "', '"name": "x', 1))
    assert changed.read_text() != doc.read_text()
    code, _, err = run(
        capsys, "keys", "verify", str(changed), f"--signature={signature.strip()}",
        "--public-key", pub,
    )  # fmt: skip
    assert code == 1
    assert "signature refused" in err
    assert "changed after signing" in err


def test_sign_with_a_public_key_names_the_file(tmp_path, capsys):
    run(capsys, "keys", "generate", "--out", str(tmp_path / "k"))
    doc = Path(__file__).parents[3] / "examples" / "container.json"
    pub = tmp_path / "k" / PUBLIC_KEY_FILE
    code, _, err = run(capsys, "keys", "sign", str(doc), "--key", str(pub))
    assert code == 1
    assert str(pub) in err


def test_a_signature_starting_with_a_dash_is_read_as_the_signature(tmp_path, capsys):
    """Base64url signatures start with '-' one time in 64; with `--signature=SIG` such a
    value is the signature (checked and refused here, exit 1), not a missing argument."""
    code, _, _ = run(capsys, "keys", "generate", "--out", str(tmp_path / "k"))
    assert code == 0
    doc = Path(__file__).parents[3] / "examples" / "container.json"
    pub = str(tmp_path / "k" / PUBLIC_KEY_FILE)
    code, _, err = run(
        capsys, "keys", "verify", str(doc), "--signature=-" + "A" * 85, "--public-key", pub
    )
    assert code == 1, err
    assert "signature refused" in err

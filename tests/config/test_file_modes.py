"""The data folder is its user's only (0700) and so are the store's files (0600): made so,
whatever the umask; an operator's folder is left as it is, with one warning."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from config.file_modes import check_private_dir, private_file
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from demo.publish import demo_keys
from tagwire.logs import JSONFormatter

pytestmark = pytest.mark.anyio


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o077], ids=["umask000", "umask022", "umask077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def warnings(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The warnings as the node's JSON log lines."""
    return [
        orjson.loads(JSONFormatter().format(r))
        for r in caplog.records
        if r.name == "tagwire.files" and r.levelno == logging.WARNING
    ]


async def fill(path: Path) -> None:
    """Open the store, write, and keep it open: the -wal and -shm files exist meanwhile."""
    store = SQLiteStore(path)
    await store.open()
    try:
        await store.node_key("files-test")
        for suffix in ("", "-wal", "-shm"):
            assert mode(path.with_name(path.name + suffix)) == 0o600, suffix
    finally:
        await store.close()


async def test_a_new_data_folder_and_its_database_are_private(
    tmp_path: Path, umask: int, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "deep" / "data"
    await fill(data / "tagwire.db")
    assert mode(data) == 0o700
    assert mode(data / "tagwire.db") == 0o600
    assert warnings(caplog) == []


async def test_an_operators_open_folder_is_left_alone_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)
    await fill(data / "tagwire.db")
    assert mode(data) == 0o755
    assert warnings(caplog) == [
        {
            "ts": warnings(caplog)[0]["ts"],
            "level": "warning",
            "logger": "tagwire.files",
            "msg": "data folder is accessible to other users",
            "path": str(data),
            "mode": "0755",
            "fix": f"chmod 700 {data}",
        }
    ]


async def test_readable_files_of_an_older_release_are_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "tagwire.db"
    await fill(db)
    os.chmod(db, 0o644)
    (tmp_path / "tagwire.db-shm").write_bytes(b"")  # a leftover of a crashed node
    os.chmod(tmp_path / "tagwire.db-shm", 0o664)
    await fill(db)
    assert mode(db) == 0o600
    lines = warnings(caplog)
    assert [(line["path"], line["mode"], line["now"]) for line in lines] == [
        (str(db), "0644", "0600"),
        (str(tmp_path / "tagwire.db-shm"), "0664", "0600"),
    ]


async def test_private_folder_and_files_give_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await fill(tmp_path / "tagwire.db")
    await fill(tmp_path / "tagwire.db")
    assert warnings(caplog) == []


def test_a_file_that_cannot_be_tightened_is_named_with_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tagwire.db"
    path.write_bytes(b"")
    os.chmod(path, 0o640)

    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chmod", refuse)
    private_file(path)
    (line,) = warnings(caplog)
    assert (line["mode"], line["fix"]) == ("0640", f"chmod 600 {path}")


def test_check_private_dir_makes_a_missing_folder_0700(tmp_path: Path, umask: int) -> None:
    check_private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a" / "b") == 0o700


def test_the_demo_makes_its_data_folder_private(tmp_path: Path, umask: int) -> None:
    settings = demo_keys(load_settings({"TAGWIRE_DATA_DIR": str(tmp_path / "data")}))
    assert mode(tmp_path / "data") == 0o700
    assert settings.signing_key_file is not None
    assert mode(settings.signing_key_file) == 0o600

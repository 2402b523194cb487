"""scripts/_venv.sh installs tagwire only when something it depends on changed.

The script runs in a copy of the repository's scripts and pyproject.toml whose `.venv` is a
stand-in: its `python` runs the real interpreter but records `pip` calls instead of making
them, so the test needs no network and no real install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

STAND_IN = f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    echo "$*" >> "$(dirname "$0")/../pip-calls"
    exit 0
fi
exec {sys.executable} "$@"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", STAND_IN), ("tagwire", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def installs(repo: Path, extras: str) -> list[str]:
    """The pip calls one sourcing of the script made."""
    calls = repo / ".venv" / "pip-calls"
    calls.unlink(missing_ok=True)
    subprocess.run(
        ["bash", "-c", '. scripts/_venv.sh "$1"', "_venv", extras],
        cwd=repo,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
        check=True,
    )
    return calls.read_text().splitlines() if calls.exists() else []


def test_first_run_installs_and_an_unchanged_project_is_not_installed_again(repo: Path) -> None:
    first = installs(repo, "[test]")
    assert first[-1].endswith("install --quiet --disable-pip-version-check -e .[test]")
    assert installs(repo, "[test]") == []
    assert installs(repo, "") == [], "an install with extras serves a call without"


def test_extras_not_installed_yet_are_installed(repo: Path) -> None:
    installs(repo, "")
    assert installs(repo, "[test]")[-1].endswith("-e .[test]")
    assert installs(repo, "[test]") == []


def test_a_changed_pyproject_installs_again(repo: Path) -> None:
    installs(repo, "[test]")
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# changed\n")
    assert installs(repo, "")[-1].endswith("-e .")
    assert installs(repo, "[test]")[-1].endswith("-e .[test]")


def test_a_missing_tagwire_command_installs_again(repo: Path) -> None:
    installs(repo, "")
    (repo / ".venv" / "bin" / "tagwire").unlink()
    assert installs(repo, "")[-1].endswith("-e .")


def test_editable_install_uses_a_plain_path_entry() -> None:
    """With the root named as the package directory, setuptools makes the editable install
    a .pth file; otherwise it installs an import finder and prints a warning each time."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"": "."}

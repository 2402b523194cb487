"""`tagwire serve` keeps test doubles out of production: what a node process has imported
just before it starts serving, for a plain node and for the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "container.json"

# Runs the real `tagwire serve` up to the moment uvicorn would serve, then prints the
# top-level packages of every loaded module that belongs to the test doubles.
PROBE = """
import json, sys
import uvicorn

def run(self, sockets=None):
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    print(json.dumps([name for name in loaded if name in ("demo", "fake_platforms")]))
    self.started = True

uvicorn.Server.run = run
from tagwire.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _doubles_loaded(tmp_path: Path, *argv: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAGWIRE_")}
    env["TAGWIRE_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "serve", "--host", "127.0.0.1", "--port", "0", *argv],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_plain_node_imports_no_demo_or_fake_module(tmp_path: Path) -> None:
    assert _doubles_loaded(tmp_path, "--container", str(EXAMPLE)) == []


def test_the_demo_node_loads_the_demo_and_the_fakes(tmp_path: Path) -> None:
    """The probe can see them: `--demo` is the one path that loads both."""
    assert _doubles_loaded(tmp_path, "--demo") == ["demo", "fake_platforms"]

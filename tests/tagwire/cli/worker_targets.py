"""Worker bodies for the supervisor's tests: importable, as `spawn` needs them to be."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

from tagwire.cli.workers import STARTUP_FAILED


def cannot_start(folder: Path, sock: socket.socket, slot: int) -> None:
    """A worker whose server does not start."""
    sys.exit(STARTUP_FAILED)


def dies_once(folder: Path, sock: socket.socket, slot: int) -> None:
    """Worker 0's first life ends by SIGKILL; every other life runs until SIGTERM. Each
    life leaves a file named `<slot>-<pid>`."""
    (folder / f"{slot}-{os.getpid()}").touch()
    if slot == 0 and len(list(folder.glob("0-*"))) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    while not stopped:
        time.sleep(0.05)
    (folder / f"stopped-{slot}-{os.getpid()}").touch()


def ignores_sigterm(folder: Path, sock: socket.socket, slot: int) -> None:
    """A worker that never stops on SIGTERM."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    (folder / f"{slot}-{os.getpid()}").touch()
    while True:
        time.sleep(0.05)

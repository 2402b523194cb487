"""The `--workers` supervisor: restarts a worker that dies, stops everything when a
worker cannot start, and stops its workers gracefully on SIGTERM."""

import os
import signal
import socket
import threading
import time

import pytest

from tagwire.cli.main import main
from tagwire.cli.workers import Supervisor
from tests.tagwire.cli import worker_targets


@pytest.fixture
def sock():
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    yield listening
    listening.close()


def test_workers_that_cannot_start_stop_the_supervisor(tmp_path, sock):
    assert Supervisor(2, worker_targets.cannot_start, (tmp_path,), sock, stop_grace_s=10).run() == 1


def test_a_dead_worker_is_started_again_and_sigterm_stops_every_worker(tmp_path, sock):
    def stop_when_restarted() -> None:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("0-*"))) < 2 or not list(tmp_path.glob("1-*")):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # the supervisor's handler, in this process

    watcher = threading.Thread(target=stop_when_restarted)
    watcher.start()
    try:
        supervisor = Supervisor(2, worker_targets.dies_once, (tmp_path,), sock, stop_grace_s=10)
        assert supervisor.run() == 0
    finally:
        watcher.join()
    _killed, second = sorted(tmp_path.glob("0-*"), key=lambda p: p.stat().st_mtime_ns)
    (other,) = tmp_path.glob("1-*")
    # the killed life stopped nothing; the new life and the other worker stopped gracefully
    assert sorted(p.name for p in tmp_path.glob("stopped-*")) == sorted(
        [f"stopped-{second.name}", f"stopped-{other.name}"]
    )
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0", "must be 1 to 64, got 0"), ("-3", "must be 1 to 64, got -3"),
     ("many", "must be a whole number, got 'many'"), ("65", "must be 1 to 64, got 65")],
)  # fmt: skip
def test_a_bad_worker_count_is_a_usage_error_naming_the_option(value, reason, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--workers", value])
    assert exit_.value.code == 2
    assert f"argument --workers: {reason}" in capsys.readouterr().err


def test_the_demo_runs_in_one_process(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TAGWIRE_DATA_DIR", str(tmp_path))
    assert main(["serve", "--demo", "--workers", "2", "--port", "0"]) == 2
    assert "--demo runs in one process: leave out --workers" in capsys.readouterr().err


def test_a_worker_that_outlives_the_stop_grace_is_killed(tmp_path, sock, caplog):
    def stop_when_started() -> None:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("0-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=stop_when_started)
    watcher.start()
    try:
        supervisor = Supervisor(1, worker_targets.ignores_sigterm, (tmp_path,), sock,
                                stop_grace_s=0.5)  # fmt: skip
        assert supervisor.run() == 0
    finally:
        watcher.join()
    (life,) = tmp_path.glob("0-*")
    pid = int(life.name.split("-")[1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone, and reaped
    assert "worker outlived the stop grace: killed" in caplog.text

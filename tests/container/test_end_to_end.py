"""The whole way over real HTTP: tagwire process → pipeline → outbox → receiver."""

import json
import os
import signal
import sqlite3
import subprocess
import sys

import httpx
import orjson
import pytest

from tests.helpers import (
    EMAIL_HASH,
    LOOPBACK_EGRESS,
    Recorder,
    make_document,
    make_hit,
    serve_in_thread,
    tagwire_process,
    wait_until,
)

pytestmark = pytest.mark.e2e


def post(base, body, container="shop"):
    return httpx.post(f"{base}/collect?id={container}", content=orjson.dumps(body),
                      headers={"content-type": "text/plain"})  # fmt: skip


def test_hits_reach_the_receiver_mapped_and_once(tmp_path):
    recorder = Recorder()
    with serve_in_thread(recorder) as receiver:
        doc = make_document(url=f"{receiver}/hook", fire_once="lead_id")
        (tmp_path / "shop.json").write_text(json.dumps(doc))
        env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data"), "TAGWIRE_ALLOW_HTTP_LOOPBACK": "on",
               **LOOPBACK_EGRESS}
        with tagwire_process("--container", str(tmp_path / "shop.json"), env=env) as base:
            assert post(base, make_hit()).status_code == 204
            # the same lead again (a CRM resend or a refresh) and a page view (no tag)
            again = make_hit(event_id="another-event-id-0001")
            assert (
                post(base, [again, make_hit(event="page_view", event_id="pv-00000001")]).status_code
                == 204
            )
            wait_until(lambda: len(recorder.requests) >= 1, what="delivery")
            assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        (request,) = recorder.requests
    body = orjson.loads(request["body"])
    assert request["path"] == "/hook"
    assert body["event"] == "Lead"
    assert body["event_id"] == make_hit()["event_id"]
    assert body["user"] == {"em": EMAIL_HASH}
    assert body["data"]["lead_id"] == "L-1001"
    conn = sqlite3.connect(tmp_path / "data" / "tagwire.db")
    assert conn.execute("SELECT state, last_status FROM outbox").fetchall() == [("sent", 204)]
    conn.close()


def test_a_loopback_receiver_is_refused_unless_the_node_allows_it(tmp_path):
    """The egress policy in a real node: without TAGWIRE_EGRESS_ALLOW the row is dead with
    the reason and the receiver sees nothing; a replay after allowing it delivers."""
    recorder = Recorder()
    with serve_in_thread(recorder) as receiver:
        (tmp_path / "shop.json").write_text(json.dumps(make_document(url=f"{receiver}/hook")))
        env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data"), "TAGWIRE_ALLOW_HTTP_LOOPBACK": "on"}
        args = ("--container", str(tmp_path / "shop.json"))
        db = tmp_path / "data" / "tagwire.db"

        def outbox():
            conn = sqlite3.connect(db)
            try:
                query = "SELECT state, last_status, last_response FROM outbox"
                return conn.execute(query).fetchall()
            finally:
                conn.close()

        with tagwire_process(*args, env=env) as base:
            assert post(base, make_hit()).status_code == 204
            wait_until(lambda: outbox() and outbox()[0][0] == "dead", what="refusal")
        assert recorder.requests == []
        assert outbox() == [("dead", None, "egress refused: 127.0.0.1 is a loopback address "
                             "(allow it with TAGWIRE_EGRESS_ALLOW)")]  # fmt: skip
        replay = subprocess.run([sys.executable, "-m", "tagwire", "outbox", "replay"],
                                env={**os.environ, **env}, capture_output=True, text=True,
                                timeout=60, check=False)  # fmt: skip
        assert replay.returncode == 0, replay.stderr
        with tagwire_process(*args, env={**env, **LOOPBACK_EGRESS}):
            wait_until(lambda: len(recorder.requests) == 1, what="delivery once allowed")
    assert outbox()[0][:2] == ("sent", 204)


def test_pending_rows_survive_a_restart(tmp_path):
    recorder = Recorder()
    with serve_in_thread(recorder) as receiver:
        (tmp_path / "shop.json").write_text(json.dumps(make_document(url=f"{receiver}/hook")))
        env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data"), "TAGWIRE_ALLOW_HTTP_LOOPBACK": "on",
               **LOOPBACK_EGRESS}
        args = ("--container", str(tmp_path / "shop.json"))
        with tagwire_process(*args, env={**env, "TAGWIRE_SENDER": "off"}) as base:
            assert post(base, make_hit()).status_code == 204
        assert recorder.requests == []
        with tagwire_process(*args, env=env):
            wait_until(lambda: len(recorder.requests) == 1, what="delivery after restart")


def test_demo_delivers_to_its_receiver(tmp_path):
    env = {"TAGWIRE_DATA_DIR": str(tmp_path / "data")}
    with tagwire_process("--demo", env=env) as base:
        assert httpx.get(f"{base}/demo/").status_code == 200
        consent = {"ad_storage": "granted", "analytics_storage": "granted"}
        hit = make_hit(consent=consent, page={"url": f"{base}/demo/thanks"})
        elsewhere = make_hit(consent=consent, event_id="lead-elsewhere-1",
                             page={"url": f"{base}/demo/thanks"})  # fmt: skip
        assert post(base, [hit, elsewhere], container="demo").status_code == 204
        events = lambda: httpx.get(f"{base}/demo/receiver/events").json()  # noqa: E731
        wait_until(lambda: len(events()) == 1, what="demo delivery")
        (event,) = events()
    assert event["event"] == "Lead"
    assert event["event_id"] == hit["event_id"]


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tagwire", *args], capture_output=True,
                          text=True, env=env, timeout=60, check=False)  # fmt: skip


def test_bad_setting_stops_start_up_naming_it(tmp_path):
    result = run_cli("serve", "--demo", env={**os.environ, "TAGWIRE_PORT": "eighty"})
    assert result.returncode == 2
    assert "TAGWIRE_PORT: must be a whole number" in result.stderr


def test_sigterm_stops_cleanly(tmp_path):
    port_env = {
        **os.environ,
        "TAGWIRE_DATA_DIR": str(tmp_path),
        "TAGWIRE_PORT": "0",
        "TAGWIRE_LOG_LEVEL": "info",
    }
    process = subprocess.Popen([sys.executable, "-m", "tagwire", "serve", "--demo"],
                               env=port_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    line = process.stdout.readline()
    assert line.startswith("tagwire listening on http://127.0.0.1:")
    base = line.split()[-1]
    wait_until(lambda: _ready(base), what="ready")
    process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal after its graceful shutdown, so the status is -SIGTERM
    assert process.wait(15) in (0, -signal.SIGTERM)
    logs = [json.loads(line) for line in process.stderr.read().splitlines()]
    process.stdout.close()
    process.stderr.close()
    assert "tagwire stopped" in [entry["msg"] for entry in logs]
    assert all(entry["level"] != "error" for entry in logs)


def _ready(base):
    try:
        return httpx.get(f"{base}/readyz").status_code == 200
    except httpx.TransportError:
        return False

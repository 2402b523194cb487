"""`tagwire admin`: a real control-plane process serves the admin UI and the admin and
config APIs, and nothing of the data plane."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.helpers import free_port


def test_a_control_plane_node_serves_the_admin_ui_and_no_data_plane(tmp_path):
    port = free_port()
    env = {**os.environ, "TAGWIRE_DATA_DIR": str(tmp_path), "TAGWIRE_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tagwire", "admin", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stderr.read().decode()
            try:
                signin = httpx.get(f"{base}/admin/signin", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "tagwire admin did not start in 20 s"
                time.sleep(0.1)
        assert signin.status_code == 200
        assert "Sign in" in signin.text
        assert "frame-ancestors 'none'" in signin.headers["content-security-policy"]
        home = httpx.get(f"{base}/admin/", timeout=5)
        assert home.status_code == 303
        assert home.headers["location"] == "/admin/signin"
        for path in ("/collect", "/loader.js?id=demo", "/readyz"):
            assert httpx.get(f"{base}{path}", timeout=5).status_code == 404, path
        assert httpx.get(f"{base}/api/v1/history", timeout=5).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        process.stdout.close()
        process.stderr.close()
    assert (tmp_path / "tagwire.db").exists()

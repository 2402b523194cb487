import json
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from tagwire.cli import main


def test_the_command_has_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fake-platforms", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: tagwire fake-platforms" in out
    assert "--port PORT" in out


@pytest.mark.parametrize("port", ["abc", "-1", "65536"])
def test_a_bad_port_is_a_usage_error(capsys, port):
    with pytest.raises(SystemExit) as info:
        main(["fake-platforms", "--port", port])
    assert info.value.code == 2
    assert "is not a port number (0 to 65535)" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "example.com"])
def test_a_non_loopback_host_is_a_usage_error(capsys, host):
    assert main(["fake-platforms", "--host", host, "--port", "0"]) == 2
    assert "127.0.0.1, ::1 or localhost" in capsys.readouterr().err


def test_a_busy_port_is_a_usage_error(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["fake-platforms", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_it_prints_its_urls_serves_and_stops_on_a_signal(stop):
    process = subprocess.Popen(
        [sys.executable, "-m", "tagwire", "fake-platforms", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = json.loads(process.stdout.readline())
        url = ready["url"]
        assert url.startswith("http://127.0.0.1:")
        assert ready["base_urls"]["ga4_base_url"] == url + "/ga4"
        assert set(ready["base_urls"]) == {
            "meta_base_url",
            "tiktok_base_url",
            "linkedin_base_url",
            "google_ads_base_url",
            "ga4_base_url",
            "google_oauth_base_url",
            "linkedin_oauth_base_url",
        }
        assert httpx.get(url + "/_fake/events").json() == {"events": []}
        process.send_signal(stop)
        assert process.wait(20) == 0
        assert process.stdout.read() == ""
        assert "TAGWIRE_META_BASE_URL=" + url + "/meta" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()

import socket
import threading

import httpx
import pytest

from fake_platforms import BASE_PATHS, FakeAccounts, serve
from fake_platforms.server import loopback_host
from tests.fake_platforms.payloads import META_AUTH, NOW_MS, meta_event
from tests.helpers import wait_until


def test_serve_runs_a_real_server_on_loopback():
    with serve(clock=lambda: NOW_MS) as running:
        assert running.url.startswith("http://127.0.0.1:")
        assert running.base_urls == {name: running.url + path for name, path in BASE_PATHS.items()}
        response = httpx.post(
            running.base_urls["meta_base_url"] + "/v25.0/1234567890123456/events",
            params=META_AUTH,
            json={"data": [meta_event()]},
        )
        assert response.status_code == 200
        assert [e["event_id"] for e in running.platforms.events("meta")] == ["lead-7f3c2a"]
        listed = httpx.get(running.url + "/_fake/events", params={"platform": "meta"}).json()
        assert listed["events"] == running.platforms.events("meta")
    with pytest.raises(httpx.TransportError):
        httpx.get(running.url + "/_fake/events")


def test_serve_takes_accounts():
    with serve(FakeAccounts(meta_pixels={"77"}), clock=lambda: NOW_MS) as running:
        url = running.base_urls["meta_base_url"] + "/v25.0/77/events"
        assert httpx.post(url, params=META_AUTH, json={"data": [meta_event()]}).status_code == 200


def test_a_timeout_holds_the_request_until_released():
    with serve(clock=lambda: NOW_MS) as running:
        running.platforms.fail_next("tiktok", "timeout", hold_seconds=600)
        answers = []
        url = running.base_urls["tiktok_base_url"] + "/open_api/v1.3/event/track/"
        worker = threading.Thread(
            target=lambda: answers.append(httpx.post(url, json={}, timeout=60))
        )
        worker.start()
        wait_until(
            lambda: running.platforms.recorder.pending_failures("tiktok") == 0,
            what="the held request to arrive",
        )
        assert answers == []
        assert running.platforms.requests("tiktok") == []
        running.platforms.release()
        worker.join(30)
        [response] = answers
        assert response.json()["code"] == 50000
        [logged] = running.platforms.requests("tiktok")
        assert logged["reasons"][0] == "injected failure: timeout"


def test_a_client_times_out_on_a_held_request_and_reset_releases_it():
    with serve(clock=lambda: NOW_MS) as running:
        running.platforms.fail_next("meta", "timeout", hold_seconds=600)
        url = running.base_urls["meta_base_url"] + "/v25.0/1234567890123456/events"
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(url, params=META_AUTH, json={"data": [meta_event()]}, timeout=0.2)
        running.platforms.reset()
        wait_until(lambda: len(running.platforms.requests("meta")) == 1, what="the release")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "example.com"])
def test_serve_refuses_non_loopback_hosts(host):
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"), serve(host=host):
        pass


def test_loopback_names():
    assert loopback_host("localhost") == "127.0.0.1"
    assert loopback_host("127.0.0.2") == "127.0.0.2"
    assert loopback_host("::1") == "::1"


def test_serve_refuses_a_bad_port():
    with pytest.raises(ValueError, match="65535"), serve(port=70000):
        pass


def test_serve_reports_a_busy_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(OSError, match="in use"), serve(port=taken.getsockname()[1]):
            pass


def test_serve_on_ipv6_loopback_when_available():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    with serve(host="::1") as running:
        assert running.url.startswith("http://[::1]:")
        assert httpx.get(running.url + "/_fake/events").status_code == 200

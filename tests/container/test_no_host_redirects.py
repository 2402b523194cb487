"""No answer of the node carries a Location built from the Host header: Starlette's
trailing-slash redirect would point a visitor at whatever host a request named."""

import pytest
from starlette.testclient import TestClient

from fake_platforms.app import create_app as create_fakes
from tests.container.test_collect import build_app

HOSTILE = "evil.example"


@pytest.mark.parametrize("path", ["/healthz/", "/readyz/", "/metrics/", "/loader.js/", "/x/"])
def test_a_trailing_slash_never_redirects_to_the_host_header(tmp_path, path):
    with TestClient(build_app(tmp_path), base_url="https://t.example.com") as client:
        response = client.get(path, headers={"host": HOSTILE}, follow_redirects=False)
    assert response.status_code == 404
    assert "location" not in response.headers
    assert HOSTILE not in response.text


def test_the_fake_platforms_redirects_are_relative():
    client = TestClient(create_fakes(), base_url="https://t.example.com")
    for path in ("/", "/_fake", "/_fake/events/", "/_fake/requests/"):
        response = client.get(path, headers={"host": HOSTILE}, follow_redirects=False)
        assert HOSTILE not in response.headers.get("location", "")
        assert not response.headers.get("location", "/").startswith(("http:", "https:", "//"))

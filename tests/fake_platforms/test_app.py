import pytest
from starlette.testclient import TestClient

from fake_platforms import (
    BASE_PATHS,
    FAIL_MODES,
    PLATFORMS,
    FakePlatforms,
    base_urls,
    create_app,
)
from fake_platforms.exchange import MAX_BODY
from tests.fake_platforms.payloads import META_AUTH, META_URL, meta_event


def test_create_app_exposes_its_state():
    app = create_app()
    platforms = app.state.platforms
    assert isinstance(platforms, FakePlatforms)
    assert platforms.app is app
    TestClient(app).post(META_URL, params=META_AUTH, json={"data": [meta_event()]})
    assert len(platforms.requests("meta")) == 1


def test_base_urls_cover_every_platform_setting():
    assert base_urls("http://127.0.0.1:9/") == {
        "meta_base_url": "http://127.0.0.1:9/meta",
        "tiktok_base_url": "http://127.0.0.1:9/tiktok",
        "linkedin_base_url": "http://127.0.0.1:9/linkedin",
        "google_ads_base_url": "http://127.0.0.1:9/google-ads",
        "ga4_base_url": "http://127.0.0.1:9/ga4",
        "google_oauth_base_url": "http://127.0.0.1:9/google-oauth",
        "linkedin_oauth_base_url": "http://127.0.0.1:9/linkedin-oauth",
    }
    assert len(PLATFORMS) == 5  # the token endpoints record under the platform they serve
    assert len(BASE_PATHS) == 7
    assert FAIL_MODES == ("server_error", "rate_limit", "auth", "timeout")


def test_in_process_queries_validate_their_arguments(fakes):
    with pytest.raises(ValueError, match="unknown platform"):
        fakes.events("bing")
    with pytest.raises(ValueError, match="unknown view"):
        fakes.events("meta", "staging")
    with pytest.raises(ValueError, match="view=test only"):
        fakes.events("meta", test_code="A")
    with pytest.raises(ValueError, match="unknown platform"):
        fakes.requests("bing")
    with pytest.raises(ValueError, match="count"):
        fakes.fail_next("meta", "auth", 0)
    with pytest.raises(ValueError, match="unknown mode"):
        fakes.fail_next("meta", "boom")


def test_fail_next_returns_the_queue_length(fakes):
    assert fakes.fail_next("ga4", "rate_limit", 2) == 2
    assert fakes.fail_next("ga4", "auth") == 3


def test_events_are_copies(client, fakes):
    client.post(META_URL, params=META_AUTH, json={"data": [meta_event()]})
    got = fakes.events("meta")[0]
    got["event_id"] = "changed"
    got["event"]["user_data"]["em"].append("changed")
    fakes.requests("meta")[0]["body"]["data"].clear()
    assert fakes.events("meta")[0] == {**got, "event_id": "lead-7f3c2a", "event": meta_event()}
    assert fakes.requests("meta")[0]["body"]["data"] == [meta_event()]


def test_other_paths_are_plain_404s(client):
    assert client.get("/nothing").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (META_URL, 400),
        ("/tiktok/open_api/v1.3/event/track/", 200),
        ("/linkedin/rest/conversionEvents", 413),
        ("/google-ads/v26/customers/1234567890:uploadClickConversions", 413),
        ("/ga4/mp/collect", 204),
        ("/ga4/debug/mp/collect", 200),
    ],
)
def test_bodies_over_16_mib_get_the_platforms_too_large_answer(client, fakes, path, status):
    response = client.post(path, content=b" " * (MAX_BODY + 1))
    assert response.status_code == status
    [logged] = fakes.requests()
    assert logged["body"] == f"[body over {MAX_BODY} bytes not kept]"
    assert fakes.events() == []

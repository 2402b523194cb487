"""The fake token endpoints, and the conversion APIs refusing the tokens once expired."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fake_platforms import FakeAccounts, FakePlatforms
from fake_platforms.accounts import OAuthClient
from fake_platforms.oauth import GOOGLE_PATH, LINKEDIN_PATH
from tests.fake_platforms.payloads import (
    ADS_HEADERS,
    ADS_URL,
    LINKEDIN_HEADERS,
    LINKEDIN_URL,
    NOW_MS,
    ads_body,
    ads_conversion,
    linkedin_event,
)

PATHS = {"google": GOOGLE_PATH, "linkedin": LINKEDIN_PATH}


class Clock:
    def __init__(self) -> None:
        self.now_ms = NOW_MS

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fakes(clock) -> FakePlatforms:
    accounts = FakeAccounts(
        google_oauth=OAuthClient("gid", "gsecret", "1//g-refresh", 60),
        linkedin_oauth=OAuthClient("lid", "lsecret", "AQl-refresh", 120),
    )
    return FakePlatforms(accounts, clock=clock)


@pytest.fixture
def client(fakes) -> TestClient:
    return TestClient(fakes.app)


def form(provider: str, **overrides: str) -> dict[str, str]:
    client = {"google": ("gid", "gsecret", "1//g-refresh"),
              "linkedin": ("lid", "lsecret", "AQl-refresh")}[provider]  # fmt: skip
    values = {"grant_type": "refresh_token", "client_id": client[0], "client_secret": client[1],
              "refresh_token": client[2]}  # fmt: skip
    return {**values, **overrides}


def token(client: TestClient, provider: str) -> str:
    answer = client.post(PATHS[provider], data=form(provider))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()["access_token"]


def upload(client: TestClient, access: str, **conversion):
    headers = {**ADS_HEADERS, "Authorization": f"Bearer {access}"}
    return client.post(ADS_URL, headers=headers, json=ads_body(ads_conversion(**conversion)))


def linkedin(client: TestClient, access: str):
    headers = {**LINKEDIN_HEADERS, "Authorization": f"Bearer {access}"}
    return client.post(LINKEDIN_URL, headers=headers, json=linkedin_event())


@pytest.mark.parametrize("provider", ["google", "linkedin"])
def test_a_refresh_token_buys_a_token_with_the_configured_lifetime(client, fakes, provider):
    answer = client.post(PATHS[provider], data=form(provider)).json()
    assert answer["expires_in"] == {"google": 60, "linkedin": 120}[provider]
    assert set(answer) >= {"access_token", "expires_in", "scope"}
    [seen] = fakes.requests({"google": "google_ads", "linkedin": "linkedin"}[provider])
    assert seen["body"]["refresh_token"] == seen["body"]["client_secret"] == "[redacted]"
    assert seen["response"]["access_token"] == "[redacted]"


def test_google_tokens_work_until_they_expire_then_get_401_oauth_token_expired(client, clock):
    access = token(client, "google")
    assert upload(client, access).status_code == 200
    clock.now_ms += 59_999
    assert upload(client, access, orderId="ord-2").status_code == 200
    clock.now_ms += 1
    refused = upload(client, access, orderId="ord-3")
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["status"] == "UNAUTHENTICATED"
    assert error["details"][0]["errors"][0]["errorCode"] == {
        "authenticationError": "OAUTH_TOKEN_EXPIRED"
    }
    assert upload(client, token(client, "google"), orderId="ord-3").status_code == 200


def test_linkedin_tokens_work_until_they_expire_then_get_401_expired_access_token(client, clock):
    access = token(client, "linkedin")
    assert linkedin(client, access).status_code == 201
    clock.now_ms += 120_000
    refused = linkedin(client, access)
    assert refused.status_code == 401
    assert refused.json() == {"status": 401, "serviceErrorCode": 65602,
                              "code": "EXPIRED_ACCESS_TOKEN",
                              "message": "The token used in the request has expired"}  # fmt: skip


def test_a_token_of_one_provider_or_a_forged_one_is_unknown(client):
    google = token(client, "google")
    assert linkedin(client, google).json()["code"] == "INVALID_ACCESS_TOKEN"
    prefix, expires, nonce, mac = google.rsplit(".", 3)
    forged = f"{prefix}.{int(expires) + 10**9}.{nonce}.{mac}"  # a longer life, same MAC
    message = upload(client, forged).json()["error"]["message"]
    assert message.startswith("Request had invalid authentication credentials")


@pytest.mark.parametrize(
    ("provider", "change", "status", "error"),
    [
        ("google", {"refresh_token": "1//revoked"}, 400, "invalid_grant"),
        ("google", {"client_id": "other"}, 401, "invalid_client"),
        ("google", {"client_secret": "wrong"}, 401, "invalid_client"),
        ("google", {"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ("google", {"refresh_token": ""}, 400, "invalid_request"),
        ("linkedin", {"refresh_token": "AQrevoked"}, 400, "invalid_grant"),
        ("linkedin", {"client_secret": "wrong"}, 401, "invalid_client"),
    ],
)
def test_bad_grants_get_the_providers_errors(client, provider, change, status, error):
    answer = client.post(PATHS[provider], data=form(provider, **change))
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]


def test_the_token_endpoint_takes_forms_only(client):
    answer = client.post(GOOGLE_PATH, json=form("google"))
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")


FIELDS = ["grant_type", "client_id", "client_secret", "refresh_token", "scope"]


@given(st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=30)))
def test_any_form_gets_an_answer_never_a_crash(fields):
    client = TestClient(FakePlatforms(clock=lambda: NOW_MS).app)
    answer = client.post(LINKEDIN_PATH, data=fields)
    assert answer.status_code in (200, 400, 401)
    assert ("access_token" in answer.json()) == (answer.status_code == 200)


def test_a_click_younger_than_six_hours_is_too_recent_for_its_row_only(clock):
    clicks = {"Cj0-recent": NOW_MS - 5 * 3_600_000, "Cj0-old": NOW_MS - 7 * 3_600_000}
    client = TestClient(FakePlatforms(FakeAccounts(google_ads_clicks=clicks), clock=clock).app)
    body = ads_body(ads_conversion(gclid="Cj0-recent", orderId="a"),
                    ads_conversion(gclid="Cj0-old", orderId="b"))  # fmt: skip
    answer = client.post(ADS_URL, headers=ADS_HEADERS, json=body).json()
    [error] = answer["partialFailureError"]["details"][0]["errors"]
    assert error["errorCode"] == {"conversionUploadError": "TOO_RECENT_EVENT"}
    assert error["location"]["fieldPathElements"][0] == {"fieldName": "conversions", "index": 0}
    assert answer["results"][0] == {}
    assert answer["results"][1]["gclid"] == "Cj0-old"
    clock.now_ms += 3_600_000  # six hours after the click: accepted
    body = ads_body(ads_conversion(gclid="Cj0-recent", orderId="a"))
    assert "partialFailureError" not in client.post(ADS_URL, headers=ADS_HEADERS, json=body).json()


def test_ad_personalization_cannot_be_set_on_click_conversions():
    client = TestClient(FakePlatforms(clock=lambda: NOW_MS).app)
    consent = {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}
    answer = client.post(ADS_URL, headers=ADS_HEADERS,
                         json=ads_body(ads_conversion(consent=consent))).json()  # fmt: skip
    [error] = answer["partialFailureError"]["details"][0]["errors"]
    assert error["errorCode"] == {"fieldError": "VALUE_MUST_BE_UNSET"}
    assert [e.get("fieldName") for e in error["location"]["fieldPathElements"]] == [
        "conversions", "consent", "ad_personalization"]  # fmt: skip
    for fine in ({"adUserData": "DENIED"}, {}, None):
        body = ads_body(ads_conversion(consent=fine, orderId=f"o{fine}"))
        answer = client.post(ADS_URL, headers=ADS_HEADERS, json=body).json()
        assert "partialFailureError" not in answer

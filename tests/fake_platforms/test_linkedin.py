import json

import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from fake_platforms import FakeAccounts, FakePlatforms
from tests.fake_platforms.payloads import (
    EMAIL_HASH,
    LINKEDIN_HEADERS,
    LINKEDIN_URL,
    NOW_MS,
    RULE,
    linkedin_event,
    mutated,
)
from tests.helpers import json_values

BATCH = {**LINKEDIN_HEADERS, "X-RestLi-Method": "BATCH_CREATE"}
REQUIRED = "field is required but not found and has no default value"
DAY_MS = 86_400_000
NO_ID = (
    "ERROR :: /user :: needs at least one userIds entry or userInfo with firstName and lastName\n"
)


def post(client, body, headers=LINKEDIN_HEADERS):
    return client.post(LINKEDIN_URL, headers=headers, json=body)


def test_a_single_create_is_201_with_an_empty_body(client, fakes):
    response = post(client, linkedin_event())
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["x-restli-id"]
    [record] = fakes.events("linkedin")
    assert record["event_id"] == "lead-7f3c2a"
    assert record["event_name"] == record["account"] == RULE
    assert record["view"] == "live"
    assert record["event"] == linkedin_event()


def test_a_batch_create_lists_one_status_per_element(client, fakes):
    elements = [
        linkedin_event(),
        linkedin_event(eventId="b"),
        linkedin_event(conversion="urn:lla:llaPartnerConversion:23456789"),
    ]
    response = post(client, {"elements": elements}, BATCH)
    assert response.status_code == 200
    assert response.json() == {"elements": [{"status": 201}] * 3}
    assert [r["event_id"] for r in fakes.events("linkedin")] == ["lead-7f3c2a", "b", "lead-7f3c2a"]


def test_there_is_no_test_view(client, fakes):
    post(client, linkedin_event())
    assert fakes.events("linkedin", "test") == []


def test_a_missing_token_is_empty_access_token(client):
    headers = {k: v for k, v in LINKEDIN_HEADERS.items() if k != "Authorization"}
    response = post(client, linkedin_event(), headers)
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "serviceErrorCode": 65604,
        "code": "EMPTY_ACCESS_TOKEN",
        "message": "Empty oauth2 access token",
    }


def test_a_wrong_token_is_invalid_access_token_and_never_logged(client, fakes):
    response = post(client, linkedin_event(), {**LINKEDIN_HEADERS, "Authorization": "Bearer leak"})
    assert response.status_code == 401
    assert response.json() == {
        "status": 401,
        "serviceErrorCode": 65600,
        "code": "INVALID_ACCESS_TOKEN",
        "message": "Invalid access token",
    }
    assert "leak" not in json.dumps(fakes.requests())


def test_a_missing_version_is_version_missing(client):
    headers = {k: v for k, v in LINKEDIN_HEADERS.items() if k != "LinkedIn-Version"}
    response = post(client, linkedin_event(), headers)
    assert response.status_code == 400
    assert response.headers["x-restli-gateway-error"] == "true"
    assert response.json() == {
        "status": 400,
        "code": "VERSION_MISSING",
        "message": "A version must be present. Please specify a version by adding the "
        "LinkedIn-Version header.",
    }


@pytest.mark.parametrize("version", ["202502", "202601"])
def test_the_twelve_months_ending_now_are_active(client, version):
    assert (
        post(
            client, linkedin_event(), {**LINKEDIN_HEADERS, "LinkedIn-Version": version}
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("version", "shown"),
    [("202501", "20250101"), ("202602", "20260201"), ("2026-01", "2026-01"), ("", "")],
)
def test_other_versions_are_nonexistent(client, version, shown):
    response = post(client, linkedin_event(), {**LINKEDIN_HEADERS, "LinkedIn-Version": version})
    assert response.status_code == 426
    assert response.json() == {
        "status": 426,
        "code": "NONEXISTENT_VERSION",
        "message": f"Requested version {shown} is not active",
    }


def test_the_version_window_follows_the_clock():
    later = FakePlatforms(clock=lambda: NOW_MS + 400 * DAY_MS)
    response = post(
        TestClient(later.app), linkedin_event(conversionHappenedAt=NOW_MS + 400 * DAY_MS)
    )
    assert response.status_code == 426


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        (
            {"X-Restli-Protocol-Version": "1.0.0"},
            400,
            "The X-Restli-Protocol-Version header must be 2.0.0",
        ),
        (
            {"X-RestLi-Method": "PARTIAL_UPDATE"},
            400,
            "Unsupported X-RestLi-Method PARTIAL_UPDATE for this resource",
        ),
        ({"content-type": "text/plain"}, 415, "Unsupported Media Type: send application/json"),
    ],
)
def test_header_rules(client, headers, status, message):
    sent = {**LINKEDIN_HEADERS, "content-type": "application/json", **headers}
    response = client.post(LINKEDIN_URL, headers=sent, content=json.dumps(linkedin_event()))
    assert response.status_code == status
    assert response.json() == {"message": message, "status": status}


def user(**changes):
    return {**linkedin_event()["user"], **changes}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {k: v for k, v in linkedin_event().items() if k != "conversion"},
            f"ERROR :: /conversion :: {REQUIRED}\n",
        ),
        (
            linkedin_event(conversion="urn:lla:llaConversionRule:12345678"),
            "ERROR :: /conversion :: Invalid Urn format. Invalid prefix.\n",
        ),
        (
            linkedin_event(conversion="urn:lla:llaPartnerConversion:abc"),
            "ERROR :: /conversion :: Invalid Urn format. Invalid id.\n",
        ),
        (
            linkedin_event(conversion=12345678),
            "ERROR :: /conversion :: 12345678 cannot be coerced to Urn\n",
        ),
        (
            {k: v for k, v in linkedin_event().items() if k != "conversionHappenedAt"},
            f"ERROR :: /conversionHappenedAt :: {REQUIRED}\n",
        ),
        (
            linkedin_event(conversionHappenedAt="1767225540000"),
            'ERROR :: /conversionHappenedAt :: "1767225540000" cannot be coerced to Long\n',
        ),
        (
            linkedin_event(conversionValue={"currencyCode": "USD", "amount": 19.9}),
            "ERROR :: /conversionValue/amount :: 19.9 cannot be coerced to String\n",
        ),
        (
            linkedin_event(conversionValue={"currencyCode": "USD", "amount": "19,90"}),
            'ERROR :: /conversionValue/amount :: "19,90" is not a decimal amount\n',
        ),
        (
            linkedin_event(conversionValue={"amount": "1"}),
            f"ERROR :: /conversionValue/currencyCode :: {REQUIRED}\n",
        ),
        (
            linkedin_event(conversionValue={"currencyCode": "usd", "amount": "1"}),
            "ERROR :: /conversionValue/currencyCode :: must be an ISO 4217 code in upper case\n",
        ),
        (linkedin_event(eventId=5), "ERROR :: /eventId :: 5 cannot be coerced to String\n"),
        (
            linkedin_event(ipAddress="203.0.113.7"),
            "ERROR :: /ipAddress :: unrecognized field found but not allowed\n",
        ),
        (
            {k: v for k, v in linkedin_event().items() if k != "user"},
            f"ERROR :: /user :: {REQUIRED}\n",
        ),
        (
            linkedin_event(user={"userInfo": {"firstName": "jane", "lastName": "doe"}}),
            f"ERROR :: /user/userIds :: {REQUIRED}\n",
        ),
        (
            linkedin_event(user=user(userIds=[{"idType": "EMAIL", "idValue": "x"}])),
            'ERROR :: /user/userIds/0/idType :: "EMAIL" is not an enum symbol\n',
        ),
        (
            linkedin_event(
                user=user(userIds=[{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH.upper()}])
            ),
            "ERROR :: /user/userIds/0/idValue :: a SHA256_EMAIL value must be exactly 64 lowercase "
            "hex characters\n",
        ),
        (
            linkedin_event(user=user(userIds=[{"idType": "ACXIOM_ID"}])),
            f"ERROR :: /user/userIds/0/idValue :: {REQUIRED}\n",
        ),
        (
            linkedin_event(user=user(userIds=[])),
            NO_ID,
        ),
        (
            linkedin_event(user=user(userIds=[], userInfo={"firstName": "jane"})),
            NO_ID,
        ),
        (
            linkedin_event(user=user(userInfo={"firstName": 1})),
            "ERROR :: /user/userInfo/firstName :: 1 cannot be coerced to String\n",
        ),
        (
            linkedin_event(user=user(externalIds="crm-42")),
            "ERROR :: /user/externalIds :: must be an array of strings\n",
        ),
        (["not", "an", "object"], "ERROR :: / :: the event must be an object\n"),
        (
            linkedin_event(conversionValue="59.00"),
            "ERROR :: /conversionValue :: must be an object with currencyCode and amount\n",
        ),
        (
            linkedin_event(conversionValue={"currencyCode": "USD", "amount": "1", "tax": "0"}),
            "ERROR :: /conversionValue/tax :: unrecognized field found but not allowed\n",
        ),
        (
            linkedin_event(conversionValue={"currencyCode": "USD"}),
            f"ERROR :: /conversionValue/amount :: {REQUIRED}\n",
        ),
        (linkedin_event(user="jane"), "ERROR :: /user :: must be an object\n"),
        (
            linkedin_event(user=user(email="x")),
            "ERROR :: /user/email :: unrecognized field found but not allowed\n",
        ),
        (
            linkedin_event(user=user(userIds={"idType": "ACXIOM_ID"})),
            "ERROR :: /user/userIds :: must be an array\n",
        ),
        (
            linkedin_event(user=user(userIds=["ACXIOM_ID"])),
            "ERROR :: /user/userIds/0 :: must be an object with idType and idValue\n",
        ),
        (
            linkedin_event(user=user(userIds=[{"idType": "ACXIOM_ID", "idValue": "a", "x": 1}])),
            "ERROR :: /user/userIds/0/x :: unrecognized field found but not allowed\n",
        ),
        (
            linkedin_event(user=user(userIds=[{"idType": "ACXIOM_ID", "idValue": ""}])),
            'ERROR :: /user/userIds/0/idValue :: "" cannot be coerced to String\n',
        ),
        (
            linkedin_event(user=user(userInfo="jane doe")),
            "ERROR :: /user/userInfo :: must be an object\n",
        ),
        (
            linkedin_event(user=user(userInfo={"firstName": "j", "lastName": "d", "email": "x"})),
            "ERROR :: /user/userInfo/email :: unrecognized field found but not allowed\n",
        ),
    ],
)
def test_structure_problems_are_422_with_rest_li_messages(client, fakes, event, message):
    response = post(client, event)
    assert response.status_code == 422
    assert response.json() == {"message": message, "status": 422}
    assert fakes.events("linkedin") == []


def test_the_validator_collects_every_problem(client):
    event = linkedin_event(
        conversion="urn:li:x:1",
        conversionValue={"currencyCode": "USD", "amount": 1},
        user={"userIds": [{"idType": "X", "idValue": "v"}]},
    )
    assert post(client, event).json()["message"] == (
        "ERROR :: /conversion :: Invalid Urn format. Invalid prefix.\n"
        "ERROR :: /conversionValue/amount :: 1 cannot be coerced to String\n"
        'ERROR :: /user/userIds/0/idType :: "X" is not an enum symbol\n'
    )


@pytest.mark.parametrize(
    "event",
    [
        linkedin_event(
            user={
                "userIds": [],
                "userInfo": {"firstName": "jane", "lastName": "doe", "companyName": "Example Inc"},
            }
        ),
        linkedin_event(
            user=user(
                userIds=[{"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "e3f1a2"}],
                externalIds=["crm-42"],
            )
        ),
        {k: v for k, v in linkedin_event().items() if k not in ("conversionValue", "eventId")},
        linkedin_event(conversionHappenedAt=NOW_MS - 90 * DAY_MS),
    ],
)
def test_valid_variants_are_accepted(client, event):
    assert post(client, event).status_code == 201


@pytest.mark.parametrize("happened", [NOW_MS // 1000, NOW_MS - 90 * DAY_MS - 1, NOW_MS + 300_001])
def test_the_ninety_day_window_is_a_400(client, fakes, happened):
    response = post(client, linkedin_event(conversionHappenedAt=happened))
    assert response.status_code == 400
    assert response.json() == {
        "message": "Conversion time should be within 90 days and not exceed current time, "
        "indices [0] (0-indexed).",
        "status": 400,
    }
    assert fakes.events("linkedin") == []


def test_an_unknown_rule_is_403_no_ad_accounts(client):
    response = post(client, linkedin_event(conversion="urn:lla:llaPartnerConversion:999"))
    assert response.status_code == 403
    assert response.json() == {"message": "No ad accounts found", "status": 403}


def test_rules_come_from_the_accounts():
    fakes = FakePlatforms(FakeAccounts(linkedin_rules={"999"}), clock=lambda: NOW_MS)
    client = TestClient(fakes.app)
    assert (
        post(client, linkedin_event(conversion="urn:lla:llaPartnerConversion:999")).status_code
        == 201
    )
    assert post(client, linkedin_event()).status_code == 403


def test_a_batch_with_a_bad_element_is_refused_whole(client, fakes):
    elements = [linkedin_event(), linkedin_event(user={}), linkedin_event()]
    response = post(client, {"elements": elements}, BATCH)
    assert response.status_code == 422
    assert response.json()["message"] == f"Index: 1, ERROR :: /user/userIds :: {REQUIRED}\n"
    assert fakes.events("linkedin") == []


def test_a_batch_names_every_late_index(client):
    late = linkedin_event(conversionHappenedAt=NOW_MS // 1000)
    response = post(client, {"elements": [late, linkedin_event(), late]}, BATCH)
    assert response.status_code == 400
    assert "indices [0, 2] (0-indexed)" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"elements": []}, "ERROR :: /elements :: must hold 1 to 5000 elements\n"),
        (
            {"elements": [linkedin_event()] * 5001},
            "ERROR :: /elements :: must hold 1 to 5000 elements\n",
        ),
        ({}, f"ERROR :: /elements :: {REQUIRED}\n"),
        (
            {"elements": [linkedin_event()], "extra": 1},
            "ERROR :: /extra :: unrecognized field found but not allowed\n",
        ),
        ([linkedin_event()], "ERROR :: / :: the batch body must be an object\n"),
    ],
)
def test_batch_envelope_rules(client, body, message):
    response = post(client, body, BATCH)
    assert response.status_code == 422
    assert response.json() == {"message": message, "status": 422}


def test_five_thousand_elements_are_accepted(client):
    response = post(client, {"elements": [linkedin_event()] * 5000}, BATCH)
    assert response.status_code == 200
    assert len(response.json()["elements"]) == 5000


def test_bad_json_is_a_400(client):
    response = client.post(
        LINKEDIN_URL, headers={**LINKEDIN_HEADERS, "content-type": "application/json"}, content=b"{"
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Unable to parse the request entity: ")


def test_an_unknown_path_is_404(client):
    response = client.post("/linkedin/rest/conversions", headers=LINKEDIN_HEADERS)
    assert response.status_code == 404
    assert response.json() == {
        "message": "Resource /rest/conversions does not exist",
        "status": 404,
    }


FAKES = FakePlatforms(clock=lambda: NOW_MS)
CLIENT = TestClient(FAKES.app)


def assert_linkedin_shape(body, headers):
    response = CLIENT.post(
        LINKEDIN_URL,
        headers={**headers, "content-type": "application/json"},
        content=json.dumps(body),
    )
    assert response.status_code in (200, 201, 400, 403, 422), response.text
    if response.status_code >= 400:
        answer = response.json()
        assert answer["status"] == response.status_code
        assert isinstance(answer["message"], str)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=json_values())
def test_any_json_body_gets_a_linkedin_shaped_answer(body):
    assert_linkedin_shape(body, LINKEDIN_HEADERS)
    assert_linkedin_shape(body, BATCH)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    body=mutated(
        {
            "elements": [
                linkedin_event(
                    user={
                        "userIds": [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH}],
                        "userInfo": {"firstName": "jane", "lastName": "doe"},
                        "externalIds": ["crm-42"],
                    }
                )
            ]
        }
    )
)
def test_any_mutation_of_a_valid_batch_gets_a_linkedin_shaped_answer(body):
    assert_linkedin_shape(body, BATCH)

import json

import pytest
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from fake_platforms import FakeAccounts, FakePlatforms
from tests.fake_platforms.payloads import (
    ACTION,
    ADS_HEADERS,
    ADS_URL,
    EMAIL_HASH,
    NOW_MS,
    ads_body,
    ads_conversion,
    mutated,
)
from tests.helpers import json_values

FAILURE_TYPE = "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure"


def post(client, body, headers=ADS_HEADERS, url=ADS_URL):
    return client.post(url, headers=headers, json=body)


def google_error(response, status, code):
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    return error


def ads_error_code(error):
    [detail] = error["details"]
    assert detail["@type"] == FAILURE_TYPE
    [item] = detail["errors"]
    return item["errorCode"]


def test_a_valid_upload_answers_results_and_records_live(client, fakes):
    response = post(client, ads_body())
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [
        {
            "gclid": "Cj0KCQiA",
            "conversionAction": ACTION,
            "conversionDateTime": "2025-12-31 23:00:00+00:00",
            "userIdentifiers": ads_conversion()["userIdentifiers"],
        }
    ]
    assert "partialFailureError" not in body
    assert body["jobId"].isdigit()
    [record] = fakes.events("google_ads")
    assert (record["event_id"], record["event_name"], record["account"]) == (
        "ord-1001",
        ACTION,
        "1234567890",
    )
    assert record["event"] == ads_conversion()


def test_a_job_id_is_echoed(client):
    assert post(client, ads_body(jobId=77)).json()["jobId"] == "77"


def test_validate_only_records_in_the_test_view_without_side_effects(client, fakes):
    response = post(client, ads_body(validateOnly=True))
    assert response.status_code == 200
    assert response.json() == {}
    assert fakes.events("google_ads") == []
    [record] = fakes.events("google_ads", "test", "validate_only")
    assert record["event_id"] == "ord-1001"
    assert "partialFailureError" not in post(client, ads_body()).json()


def test_validate_only_still_reports_row_errors(client):
    body = post(client, ads_body(ads_conversion(currencyCode="usd"), validateOnly=True)).json()
    assert set(body) == {"partialFailureError"}


def test_enhanced_conversions_for_leads_need_no_click_id(client):
    conversion = ads_conversion(gclid=None)
    body = post(client, ads_body(conversion)).json()
    assert "partialFailureError" not in body
    assert "gclid" not in body["results"][0]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"developer-token": "ads-dev-token"},
            "Request is missing required authentication credential. Expected OAuth 2 access token",
        ),
        (
            {**ADS_HEADERS, "Authorization": "Bearer leaked-token"},
            "Request had invalid authentication credentials. Expected OAuth 2 access token",
        ),
        (
            {**ADS_HEADERS, "Authorization": "Basic abc"},
            "Request is missing required authentication credential.",
        ),
    ],
)
def test_oauth_problems_are_401_unauthenticated(client, fakes, headers, message):
    error = google_error(post(client, ads_body(), headers), "UNAUTHENTICATED", 401)
    assert error["message"].startswith(message)
    assert "leaked-token" not in json.dumps(fakes.requests())


@pytest.mark.parametrize(
    ("headers", "status", "code", "error_code"),
    [
        (
            {"Authorization": "Bearer ads-oauth-token"},
            "INVALID_ARGUMENT",
            400,
            {"requestError": "DEVELOPER_TOKEN_PARAMETER_MISSING"},
        ),
        (
            {**ADS_HEADERS, "developer-token": "nope"},
            "UNAUTHENTICATED",
            401,
            {"authenticationError": "DEVELOPER_TOKEN_INVALID"},
        ),
        (
            {**ADS_HEADERS, "login-customer-id": "123-456-7890"},
            "INVALID_ARGUMENT",
            400,
            {"headerError": "INVALID_LOGIN_CUSTOMER_ID"},
        ),
    ],
)
def test_header_problems_carry_a_google_ads_failure(client, headers, status, code, error_code):
    error = google_error(post(client, ads_body(), headers), status, code)
    assert ads_error_code(error) == error_code


def test_a_ten_digit_login_customer_id_is_accepted(client):
    response = post(client, ads_body(), {**ADS_HEADERS, "login-customer-id": "9876543210"})
    assert response.status_code == 200


def test_a_malformed_customer_id_is_invalid_customer_id(client):
    url = "/google-ads/v26/customers/123-456-7890:uploadClickConversions"
    error = google_error(post(client, ads_body(), url=url), "INVALID_ARGUMENT", 400)
    assert ads_error_code(error) == {"requestError": "INVALID_CUSTOMER_ID"}


def test_an_unknown_customer_is_permission_denied(client):
    url = "/google-ads/v26/customers/1111111111:uploadClickConversions"
    error = google_error(post(client, ads_body(), url=url), "PERMISSION_DENIED", 403)
    assert ads_error_code(error) == {"authorizationError": "USER_PERMISSION_DENIED"}


@pytest.mark.parametrize(
    "url",
    [
        "/google-ads/v19/customers/1234567890:uploadClickConversions",
        "/google-ads/v26/customers/1234567890:uploadConversionAdjustments",
        "/google-ads/v26/customers/1234567890",
        "/google-ads/v26/conversions",
    ],
)
def test_unknown_versions_and_methods_are_not_found(client, url):
    error = google_error(post(client, ads_body(), url=url), "NOT_FOUND", 404)
    assert error["message"] == "Method not found."


def test_version_25_is_served_with_its_own_failure_type(client):
    url = ADS_URL.replace("v26", "v25")
    body = post(client, ads_body(ads_conversion(currencyCode="usd")), url=url).json()
    assert body["partialFailureError"]["details"][0]["@type"].endswith(
        "v25.errors.GoogleAdsFailure"
    )


@pytest.mark.parametrize(
    ("body", "error_code"),
    [
        (ads_body(partialFailure=False), {"partialFailureError": "PARTIAL_FAILURE_MODE_REQUIRED"}),
        (
            {"conversions": [ads_conversion()]},
            {"partialFailureError": "PARTIAL_FAILURE_MODE_REQUIRED"},
        ),
        (ads_body(conversions=[]), {"fieldError": "REQUIRED_NONEMPTY_LIST"}),
        ({"partialFailure": True}, {"fieldError": "REQUIRED_NONEMPTY_LIST"}),
        (
            ads_body(conversions=[ads_conversion()] * 2001),
            {"conversionUploadError": "TOO_MANY_CONVERSIONS_IN_REQUEST"},
        ),
        (ads_body(customerId="2222222222"), {"requestError": "INVALID_CUSTOMER_ID"}),
    ],
)
def test_request_rules_refuse_the_whole_upload(client, fakes, body, error_code):
    error = google_error(post(client, body), "INVALID_ARGUMENT", 400)
    assert error["message"] == "Request contains an invalid argument."
    assert ads_error_code(error) == error_code
    assert fakes.events("google_ads") == []


def test_two_thousand_conversions_are_accepted(client):
    conversions = [ads_conversion(orderId=f"o-{i}") for i in range(2000)]
    assert "partialFailureError" not in post(client, ads_body(*conversions)).json()


@pytest.mark.parametrize(
    ("body", "field", "description"),
    [
        (
            ads_body(ads_conversion(conversion_action=ACTION)),
            "conversions[0]",
            'Invalid JSON payload received. Unknown name "conversion_action" at '
            "'conversions[0]': Cannot find field. (this fake takes lowerCamelCase names only)",
        ),
        (
            ads_body(surprise=1),
            "",
            'Invalid JSON payload received. Unknown name "surprise": Cannot find field.',
        ),
        (
            ads_body(ads_conversion(conversionValue="59.0")),
            "conversions[0].conversion_value",
            "Invalid value at 'conversions[0].conversion_value' (TYPE_DOUBLE), \"59.0\"",
        ),
        (
            ads_body(partialFailure="true"),
            "partial_failure",
            "Invalid value at 'partial_failure' (TYPE_BOOL), \"true\"",
        ),
        (
            ads_body(ads_conversion(consent={"adUserData": "YES"})),
            "conversions[0].consent.ad_user_data",
            "Invalid value at 'conversions[0].consent.ad_user_data' (type.googleapis.com/google."
            'ads.googleads.v26.enums.ConsentStatusEnum.ConsentStatus), "YES"',
        ),
        (
            ads_body(
                ads_conversion(
                    userIdentifiers=[{"hashedEmail": EMAIL_HASH, "hashedPhoneNumber": EMAIL_HASH}]
                )
            ),
            "conversions[0].user_identifiers[0]",
            "Invalid JSON payload received. Oneof field 'identifier' is already set. Cannot set "
            "'hashed_phone_number'",
        ),
        (
            ads_body(conversions={"a": 1}),
            "conversions",
            "Invalid value at 'conversions' (type.googleapis.com/google.ads.googleads.v26.services."
            "ClickConversion), object",
        ),
        (
            ads_body(conversions=[None]),
            "conversions[0]",
            "Invalid value at 'conversions[0]' (type.googleapis.com/google.ads.googleads.v26."
            "services.ClickConversion), null",
        ),
        (
            ads_body(ads_conversion(consent="GRANTED")),
            "conversions[0].consent",
            "Invalid value at 'conversions[0].consent' (type.googleapis.com/google.ads.googleads."
            'v26.common.Consent), "GRANTED"',
        ),
        (ads_body(jobId=2**31), "job_id", f"Invalid value at 'job_id' (TYPE_INT32), {2**31}"),
        (
            ads_body(ads_conversion(cartData=[])),
            "conversions[0].cart_data",
            "Invalid value at 'conversions[0].cart_data' (TYPE_MESSAGE), array",
        ),
        (
            ads_body(ads_conversion(conversionEnvironment="SERVER")),
            "conversions[0].conversion_environment",
            "Invalid value at 'conversions[0].conversion_environment' (type.googleapis.com/"
            "google.ads.googleads.v26.enums.ConversionEnvironmentEnum.ConversionEnvironment), "
            '"SERVER"',
        ),
        (
            ads_body(ads_conversion(userIdentifiers=[{"userIdentifierSource": "MINE"}])),
            "conversions[0].user_identifiers[0].user_identifier_source",
            "Invalid value at 'conversions[0].user_identifiers[0].user_identifier_source' (type."
            "googleapis.com/google.ads.googleads.v26.enums.UserIdentifierSourceEnum."
            'UserIdentifierSource), "MINE"',
        ),
    ],
)
def test_proto_json_errors_refuse_the_request(client, fakes, body, field, description):
    error = google_error(post(client, body), "INVALID_ARGUMENT", 400)
    [detail] = error["details"]
    assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert detail["fieldViolations"] == [{"field": field, "description": description}]
    assert error["message"] == description
    assert fakes.events("google_ads") == []


@pytest.mark.parametrize("content", [b"{", b"[]", b"null"])
def test_a_body_that_is_not_an_object_is_invalid_argument(client, content):
    response = client.post(ADS_URL, headers=ADS_HEADERS, content=content)
    error = google_error(response, "INVALID_ARGUMENT", 400)
    assert error["message"].startswith("Invalid JSON payload received.")


@pytest.mark.parametrize(
    ("conversion", "error_code", "fields"),
    [
        (ads_conversion(conversionAction=None), {"fieldError": "REQUIRED"}, ["conversion_action"]),
        (
            ads_conversion(conversionAction="987654321"),
            {"requestError": "RESOURCE_NAME_MALFORMED"},
            ["conversion_action"],
        ),
        (
            ads_conversion(conversionAction="customers/1234567890/conversionActions/5"),
            {"conversionUploadError": "NO_CONVERSION_ACTION_FOUND"},
            ["conversion_action"],
        ),
        (
            ads_conversion(conversionAction="customers/2222222222/conversionActions/987654321"),
            {"conversionUploadError": "NO_CONVERSION_ACTION_FOUND"},
            ["conversion_action"],
        ),
        (
            ads_conversion(conversionDateTime=None),
            {"fieldError": "REQUIRED"},
            ["conversion_date_time"],
        ),
        (
            ads_conversion(conversionDateTime="2025-12-31 23:00:00"),
            {"dateError": "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"},
            ["conversion_date_time"],
        ),
        (
            ads_conversion(conversionDateTime="2025-12-31T23:00:00+00:00"),
            {"dateError": "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"},
            ["conversion_date_time"],
        ),
        (
            ads_conversion(conversionDateTime="2025-02-30 10:00:00+01:00"),
            {"dateError": "INVALID_FIELD_VALUES_IN_DATE_TIME"},
            ["conversion_date_time"],
        ),
        (
            ads_conversion(conversionDateTime="2026-01-01 00:05:01+00:00"),
            {"dateError": "LATER_THAN_MAXIMUM_DATE"},
            ["conversion_date_time"],
        ),
        (
            ads_conversion(conversionDateTime="2025-10-02 23:59:59+00:00"),
            {"conversionUploadError": "EXPIRED_EVENT"},
            ["conversion_date_time"],
        ),
        (
            ads_conversion(gbraid="abc", wbraid="def", gclid=None),
            {"conversionUploadError": "GBRAID_WBRAID_BOTH_SET"},
            ["wbraid"],
        ),
        (ads_conversion(gbraid="abc"), {"fieldError": "VALUE_MUST_BE_UNSET"}, ["gbraid"]),
        (
            ads_conversion(gclid="Cj0 KCQ"),
            {"conversionUploadError": "UNPARSEABLE_GCLID"},
            ["gclid"],
        ),
        (
            ads_conversion(gclid=None, wbraid="a/b"),
            {"conversionUploadError": "UNPARSEABLE_WBRAID"},
            ["wbraid"],
        ),
        (ads_conversion(gclid=None, userIdentifiers=[]), {"fieldError": "REQUIRED"}, ["gclid"]),
        (
            ads_conversion(userIdentifiers=[{"hashedEmail": EMAIL_HASH}] * 6),
            {"collectionSizeError": "TOO_MANY"},
            ["user_identifiers"],
        ),
        (
            ads_conversion(userIdentifiers=[{"hashedEmail": "jane.doe@example.com"}]),
            {"conversionUploadError": "INVALID_USER_IDENTIFIER"},
            [("user_identifiers", 0), "hashed_email"],
        ),
        (
            ads_conversion(userIdentifiers=[{"hashedPhoneNumber": EMAIL_HASH.upper()}]),
            {"conversionUploadError": "INVALID_USER_IDENTIFIER"},
            [("user_identifiers", 0), "hashed_phone_number"],
        ),
        (
            ads_conversion(userIdentifiers=[{"mobileId": "abc"}]),
            {"conversionUploadError": "UNSUPPORTED_USER_IDENTIFIER"},
            [("user_identifiers", 0), "mobile_id"],
        ),
        (
            ads_conversion(currencyCode="usd"),
            {"currencyCodeError": "UNSUPPORTED"},
            ["currency_code"],
        ),
        (ads_conversion(orderId="o" * 65), {"stringLengthError": "TOO_LONG"}, ["order_id"]),
    ],
)
def test_row_rules_fail_only_their_row(client, fakes, conversion, error_code, fields):
    conversion = {k: v for k, v in conversion.items() if v is not None}
    good = ads_conversion(orderId="good")
    response = post(client, ads_body(good, conversion))
    assert response.status_code == 200
    body = response.json()
    assert body["results"][1] == {}
    assert body["results"][0]["conversionAction"] == ACTION
    failure = body["partialFailureError"]
    assert failure["code"] == 3
    [detail] = failure["details"]
    assert detail["@type"] == FAILURE_TYPE
    [error] = detail["errors"]
    assert error["errorCode"] == error_code
    elements = [{"fieldName": "conversions", "index": 1}]
    for field in fields:
        name, index = field if isinstance(field, tuple) else (field, None)
        elements.append(
            {"fieldName": name} if index is None else {"fieldName": name, "index": index}
        )
    assert error["location"] == {"fieldPathElements": elements}
    assert failure["message"].startswith(error["message"] + ", at conversions[1].")
    assert [r["event_id"] for r in fakes.events("google_ads")] == ["good"]


def test_a_row_can_fail_several_ways_at_once(client):
    bad = ads_conversion(conversionAction="x", currencyCode="usd")
    errors = post(client, ads_body(bad)).json()["partialFailureError"]["details"][0]["errors"]
    assert [e["errorCode"] for e in errors] == [
        {"requestError": "RESOURCE_NAME_MALFORMED"},
        {"currencyCodeError": "UNSUPPORTED"},
    ]


def test_duplicate_order_ids_in_one_request_fail_every_copy(client, fakes):
    body = post(
        client, ads_body(ads_conversion(), ads_conversion(), ads_conversion(orderId="x"))
    ).json()
    assert body["results"][:2] == [{}, {}]
    codes = [e["errorCode"] for e in body["partialFailureError"]["details"][0]["errors"]]
    assert codes == [{"conversionUploadError": "DUPLICATE_ORDER_ID"}] * 2
    assert [r["event_id"] for r in fakes.events("google_ads")] == ["x"]


def test_an_order_id_already_recorded_is_in_use(client):
    post(client, ads_body())
    error = post(client, ads_body()).json()["partialFailureError"]["details"][0]["errors"][0]
    assert error["errorCode"] == {"conversionUploadError": "ORDER_ID_ALREADY_IN_USE"}
    assert error["trigger"] == {"stringValue": "ord-1001"}


def test_the_same_order_id_on_another_action_is_fine(client):
    post(client, ads_body())
    other = ads_conversion(conversionAction="customers/1234567890/conversionActions/876543210")
    assert "partialFailureError" not in post(client, ads_body(other)).json()


def test_actions_come_from_the_accounts():
    accounts = FakeAccounts(
        google_ads_customers={"5555555555"}, google_ads_conversion_actions={"7"}
    )
    client = TestClient(FakePlatforms(accounts, clock=lambda: NOW_MS).app)
    conversion = ads_conversion(conversionAction="customers/5555555555/conversionActions/7")
    url = "/google-ads/v26/customers/5555555555:uploadClickConversions"
    assert "partialFailureError" not in post(client, ads_body(conversion), url=url).json()


FAKES = FakePlatforms(clock=lambda: NOW_MS)
CLIENT = TestClient(FAKES.app)


def assert_google_shape(body):
    response = CLIENT.post(ADS_URL, headers=ADS_HEADERS, content=json.dumps(body))
    assert response.status_code in (200, 400), response.text
    answer = response.json()
    if response.status_code == 400:
        assert answer["error"]["status"] == "INVALID_ARGUMENT"
    elif "results" in answer:
        assert len(answer["results"]) == len(body["conversions"])


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=json_values())
def test_any_json_body_gets_a_google_shaped_answer(body):
    assert_google_shape(body)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    body=mutated(
        ads_body(
            ads_conversion(conversionEnvironment="WEB"),
            ads_conversion(orderId="o-2", gclid=None, gbraid="abc"),
            jobId=5,
        )
    )
)
def test_any_mutation_of_a_valid_upload_gets_a_google_shaped_answer(body):
    FAKES.reset()
    assert_google_shape(body)

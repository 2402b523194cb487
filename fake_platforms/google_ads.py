"""Fake Google Ads API: `POST /google-ads/{version}/customers/{cid}:uploadClickConversions`.

Credentials, the customer and the request as a whole fail with Google's JSON error
(`{"error": {"code", "message", "status", "details"}}`; an access token from the fake token
endpoint, `fake_platforms.oauth`, that has expired gets 401 `OAUTH_TOKEN_EXPIRED`); single
conversions fail inside a 200 answer, as `results[i] = {}` plus a `partialFailureError`
that points at them (a click younger than 6 hours: `TOO_RECENT_EVENT`).
`validateOnly: true` checks everything, records valid rows in the test view (code
`validate_only`) and has no other effect.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from fake_platforms import oauth
from fake_platforms.checks import parse_json
from fake_platforms.exchange import (
    ALL_METHODS,
    Context,
    Platform,
    Reply,
    endpoint,
    random_id,
)
from fake_platforms.google_ads_rows import (
    MAX_CONVERSIONS,
    AdsError,
    row_errors,
    shape_violations,
)
from fake_platforms.recorder import EventRecord

__all__ = ["PLATFORM", "TEST_CODE", "routes"]

TEST_CODE = "validate_only"
METHOD = "uploadClickConversions"
CUSTOMER_ID = re.compile(r"\d{10}")
DEFAULT_VERSION = "v26"
AUTH_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def _failure_detail(version: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@type": f"type.googleapis.com/google.ads.googleads.{version}.errors.GoogleAdsFailure",
        "errors": errors,
        "requestId": random_id(12),
    }


def _error(
    http: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> Reply:
    error: dict[str, Any] = {"code": http, "message": message, "status": status}
    if details:
        error["details"] = details
    return Reply(http, {"error": error}, reasons=[message])


def _ads_error(http: int, status: str, version: str, kind: str, code: str, message: str) -> Reply:
    detail = _failure_detail(version, [{"errorCode": {kind: code}, "message": message}])
    reply = _error(http, status, _request_message(http), [detail])
    reply.reasons = [f"{kind} {code}: {message}"]
    return reply


def _request_message(http: int) -> str:
    return {
        400: "Request contains an invalid argument.",
        401: "Request had invalid authentication credentials. " + AUTH_HELP,
        403: "The caller does not have permission",
    }.get(http, "Request failed.")


def _version(request: Request) -> str:
    version = request.path_params.get("version", "")
    return version if re.fullmatch(r"v\d+", version) else DEFAULT_VERSION


def failure(mode: str, request: Request) -> Reply:
    """Google's answers for an injected server error, exhausted quota or bad token."""
    version = _version(request)
    if mode == "rate_limit":
        detail = _failure_detail(
            version,
            [
                {
                    "errorCode": {"quotaError": "RESOURCE_EXHAUSTED"},
                    "message": "Too many requests. Retry in 30 seconds.",
                    "details": {
                        "quotaErrorDetails": {
                            "rateScope": "DEVELOPER",
                            "rateName": "Number of operations for basic access",
                            "retryDelay": "30s",
                        }
                    },
                }
            ],
        )
        return _error(
            429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", [detail]
        )
    if mode == "auth":
        return _error(401, "UNAUTHENTICATED", _request_message(401))
    detail = _failure_detail(
        version,
        [
            {
                "errorCode": {"internalError": "INTERNAL_ERROR"},
                "message": "Internal error encountered.",
            }
        ],
    )
    return _error(500, "INTERNAL", "Internal error encountered.", [detail])


def not_found(request: Request) -> Reply:
    return _error(404, "NOT_FOUND", "Method not found.")


def too_large(request: Request) -> Reply:
    return _error(413, "INVALID_ARGUMENT", "Request payload size exceeds the limit.")


def _credentials_problem(request: Request, ctx: Context, version: str) -> Reply | None:
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith("Bearer ") or not authorization.removeprefix("Bearer "):
        return _error(
            401,
            "UNAUTHENTICATED",
            "Request is missing required authentication credential. " + AUTH_HELP,
        )
    token = authorization.removeprefix("Bearer ")
    if token != ctx.accounts.google_ads_access_token:
        known = oauth.check(ctx, "google", token)
        if known == "expired":
            return _ads_error(
                401,
                "UNAUTHENTICATED",
                version,
                "authenticationError",
                "OAUTH_TOKEN_EXPIRED",
                "The OAuth access token in the header has expired.",
            )
        if known == "unknown":
            return _error(401, "UNAUTHENTICATED", _request_message(401))
    developer_token = request.headers.get("developer-token")
    if not developer_token:
        return _ads_error(
            400,
            "INVALID_ARGUMENT",
            version,
            "requestError",
            "DEVELOPER_TOKEN_PARAMETER_MISSING",
            "The developer-token header is required.",
        )
    if developer_token != ctx.accounts.google_ads_developer_token:
        return _ads_error(
            401,
            "UNAUTHENTICATED",
            version,
            "authenticationError",
            "DEVELOPER_TOKEN_INVALID",
            "The developer token is not valid.",
        )
    login = request.headers.get("login-customer-id")
    if login is not None and not CUSTOMER_ID.fullmatch(login):
        return _ads_error(
            400,
            "INVALID_ARGUMENT",
            version,
            "headerError",
            "INVALID_LOGIN_CUSTOMER_ID",
            "The login customer ID could not be validated: use 10 digits, no dashes.",
        )
    return None


def handle(request: Request, raw: bytes, ctx: Context) -> Reply:
    """Checks path, credentials, the request, then each conversion; records the good rows."""
    version = request.path_params["version"]
    customer, _, method = request.path_params["target"].partition(":")
    if method != METHOD or version not in ctx.accounts.google_ads_versions:
        return not_found(request)
    problem = _credentials_problem(request, ctx, version)
    if problem is not None:
        return problem
    if not CUSTOMER_ID.fullmatch(customer):
        return _ads_error(
            400,
            "INVALID_ARGUMENT",
            version,
            "requestError",
            "INVALID_CUSTOMER_ID",
            f"Invalid customer ID '{customer}'.",
        )
    if customer not in ctx.accounts.google_ads_customers:
        return _ads_error(
            403,
            "PERMISSION_DENIED",
            version,
            "authorizationError",
            "USER_PERMISSION_DENIED",
            "User doesn't have permission to access customer. Note: If you're "
            "accessing a client customer, the manager's customer ID must be set "
            "in the 'login-customer-id' header.",
        )
    try:
        body = parse_json(raw)
    except ValueError as exc:
        return _bad_payload([("", f"Invalid JSON payload received. {exc}")])
    if not isinstance(body, dict):
        return _bad_payload([("", "Invalid JSON payload received. Expected an object.")])
    violations = shape_violations(body, version)
    if violations:
        return _bad_payload(violations)
    request_problem = _request_problem(body, customer, version)
    if request_problem is not None:
        return request_problem
    return _upload(body, customer, version, ctx)


def _bad_payload(violations: list[tuple[str, str]]) -> Reply:
    message = "\n".join(description for _, description in violations)
    detail = {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": f, "description": d} for f, d in violations],
    }
    return _error(400, "INVALID_ARGUMENT", message, [detail])


def _request_problem(body: dict[str, Any], customer: str, version: str) -> Reply | None:
    if body.get("customerId") not in (None, customer):
        return _ads_error(
            400,
            "INVALID_ARGUMENT",
            version,
            "requestError",
            "INVALID_CUSTOMER_ID",
            "customer_id in the body differs from the one in the URL.",
        )
    conversions = body.get("conversions") or []
    if not conversions:
        return _ads_error(
            400,
            "INVALID_ARGUMENT",
            version,
            "fieldError",
            "REQUIRED_NONEMPTY_LIST",
            "The field requires a non-empty list.",
        )
    if len(conversions) > MAX_CONVERSIONS:
        return _ads_error(
            400,
            "INVALID_ARGUMENT",
            version,
            "conversionUploadError",
            "TOO_MANY_CONVERSIONS_IN_REQUEST",
            f"Upload fewer than {MAX_CONVERSIONS + 1} events in a single request.",
        )
    if body.get("partialFailure") is not True:
        return _ads_error(
            400,
            "INVALID_ARGUMENT",
            version,
            "partialFailureError",
            "PARTIAL_FAILURE_MODE_REQUIRED",
            "The partial failure field was false in the request. This method "
            "requires this field be set to true.",
        )
    return None


def _upload(body: dict[str, Any], customer: str, version: str, ctx: Context) -> Reply:
    conversions: list[dict[str, Any]] = body["conversions"]
    validate_only = body.get("validateOnly") is True
    used = {
        (e.event_name, e.event_id)
        for e in ctx.recorder.events("google_ads", "live")
        if e.account == customer and e.event_id is not None and e.event_name is not None
    }
    now_ms = ctx.now_ms()
    errors = row_errors(
        conversions,
        customer,
        ctx.accounts.google_ads_conversion_actions,
        now_ms // 1000,
        used,
        ctx.accounts.google_ads_clicks,
    )
    failed = {error.index for error in errors}
    events = [
        EventRecord(
            platform=PLATFORM.name,
            view="test" if validate_only else "live",
            test_code=TEST_CODE if validate_only else None,
            received_ms=now_ms,
            event_id=conversion.get("orderId") or None,
            event_name=conversion["conversionAction"],
            event=conversion,
            account=customer,
        )
        for index, conversion in enumerate(conversions)
        if index not in failed
    ]
    answer: dict[str, Any] = {}
    if not validate_only:
        answer["results"] = [
            {} if index in failed else _result(conversion)
            for index, conversion in enumerate(conversions)
        ]
    if errors:
        answer["partialFailureError"] = _partial_failure(errors, version)
    if not validate_only:
        answer["jobId"] = str(body.get("jobId") or secrets.randbelow(2**31 - 1) + 1)
    reasons = [f"conversions[{e.index}]: {e.kind} {e.code}: {e.message}" for e in errors]
    return Reply(200, answer, reasons=reasons, events=events)


def _code(error: AdsError) -> dict[str, str]:
    return {error.kind: error.code}


RESULT_FIELDS = (
    "gclid",
    "gbraid",
    "wbraid",
    "conversionAction",
    "conversionDateTime",
    "userIdentifiers",
)


def _result(conversion: dict[str, Any]) -> dict[str, Any]:
    """What Google echoes for an accepted row (its ClickConversionResult)."""
    return {name: conversion[name] for name in RESULT_FIELDS if conversion.get(name)}


def _location(error: AdsError) -> str:
    parts = [f"conversions[{error.index}]"]
    parts += [name if index is None else f"{name}[{index}]" for name, index in error.fields]
    return ".".join(parts)


def _partial_failure(errors: list[AdsError], version: str) -> dict[str, Any]:
    items = []
    for error in errors:
        elements: list[dict[str, Any]] = [{"fieldName": "conversions", "index": error.index}]
        for name, index in error.fields:
            element: dict[str, Any] = {"fieldName": name}
            if index is not None:
                element["index"] = index
            elements.append(element)
        item: dict[str, Any] = {"errorCode": _code(error), "message": error.message}
        if error.trigger is not None:
            item["trigger"] = {"stringValue": error.trigger}
        item["location"] = {"fieldPathElements": elements}
        items.append(item)
    return {
        "code": 3,
        "message": ", ".join(f"{e.message}, at {_location(e)}" for e in errors),
        "details": [_failure_detail(version, items)],
    }


PLATFORM = Platform("google_ads", handle, failure, not_found, too_large)


def routes(ctx: Context) -> list[BaseRoute]:
    return [
        Route(
            "/google-ads/{version}/customers/{target}", endpoint(PLATFORM, ctx), methods=ALL_METHODS
        ),
        Route("/google-ads/{rest:path}", endpoint(PLATFORM, ctx, api=False), methods=ALL_METHODS),
    ]

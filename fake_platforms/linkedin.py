"""Fake LinkedIn Conversions API: `POST /linkedin/rest/conversionEvents`.

A single create answers 201 with an empty body; with `X-RestLi-Method: BATCH_CREATE` the body
is `{"elements": [...]}` and the answer lists one status per element. Rest.li's validator
collects every structural problem into one 422 message (`ERROR :: /path :: reason` lines,
each element prefixed `Index: N, ` in a batch); the 90-day window answers 400 and an unknown
conversion rule 403, with the bodies LinkedIn sends; an access token from the fake token
endpoint (`fake_platforms.oauth`) that has expired gets 401 `EXPIRED_ACCESS_TOKEN`.
LinkedIn has no test mode.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from fake_platforms import oauth
from fake_platforms.checks import (
    Issues,
    is_currency,
    is_int,
    is_one_of,
    is_sha256,
    parse_json,
)
from fake_platforms.exchange import (
    ALL_METHODS,
    Context,
    Platform,
    Reply,
    endpoint,
    random_id,
)
from fake_platforms.recorder import EventRecord

__all__ = ["ID_TYPES", "MAX_BATCH", "PLATFORM", "routes"]

MAX_BATCH = 5000
MAX_AGE_MS = 90 * 86400 * 1000
FUTURE_SKEW_MS = 300 * 1000
RULE_PREFIX = "urn:lla:llaPartnerConversion:"
ID_TYPES = ("SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "ACXIOM_ID", "ORACLE_MOAT_ID")
EVENT_KEYS = ("conversion", "conversionHappenedAt", "conversionValue", "eventId", "user")
USER_INFO_KEYS = ("firstName", "lastName", "companyName", "title", "countryCode")
AMOUNT = re.compile(r"-?\d+(\.\d+)?")
VERSION = re.compile(r"\d{6}")
REQUIRED = "field is required but not found and has no default value"
UNKNOWN = "unrecognized field found but not allowed"


def _plain(status: int, message: str, reasons: list[str] | None = None) -> Reply:
    return Reply(
        status,
        {"message": message, "status": status},
        reasons=[message] if reasons is None else reasons,
    )


def _coded(status: int, code: str, message: str, service_code: int | None = None) -> Reply:
    body: dict[str, Any] = {"status": status}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    body.update(code=code, message=message)
    return Reply(status, body, reasons=[message])


def failure(mode: str, request: Request) -> Reply:
    """LinkedIn's answers for an injected server error, throttle or revoked token."""
    if mode == "rate_limit":
        return _plain(
            429,
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        )
    if mode == "auth":
        return _coded(
            401,
            "REVOKED_ACCESS_TOKEN",
            "The token used in the request has been revoked by the user",
            65601,
        )
    return _plain(500, "Internal Server Error")


def not_found(request: Request) -> Reply:
    return _plain(404, f"Resource {request.url.path.removeprefix('/linkedin')} does not exist")


def too_large(request: Request) -> Reply:
    return _plain(413, "Request entity too large")


def _header_problem(request: Request, ctx: Context) -> Reply | None:
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith("Bearer ") or not authorization.removeprefix("Bearer "):
        return _coded(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token", 65604)
    token = authorization.removeprefix("Bearer ")
    if token != ctx.accounts.linkedin_access_token:
        known = oauth.check(ctx, "linkedin", token)
        if known == "expired":
            return _coded(
                401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602
            )
        if known == "unknown":
            return _coded(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
    version = request.headers.get("linkedin-version")
    if version is None:
        reply = _coded(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a "
            "version by adding the LinkedIn-Version header.",
        )
        reply.headers["x-restli-gateway-error"] = "true"
        return reply
    if version not in ctx.accounts.linkedin_versions(ctx.now_ms()):
        shown = f"{version}01" if VERSION.fullmatch(version) else version
        return _coded(426, "NONEXISTENT_VERSION", f"Requested version {shown} is not active")
    if request.headers.get("x-restli-protocol-version") != "2.0.0":
        return _plain(400, "The X-Restli-Protocol-Version header must be 2.0.0")
    if not request.headers.get("content-type", "").startswith("application/json"):
        return _plain(415, "Unsupported Media Type: send application/json")
    method = request.headers.get("x-restli-method")
    if method not in (None, "CREATE", "BATCH_CREATE"):
        return _plain(400, f"Unsupported X-RestLi-Method {method} for this resource")
    return None


def handle(request: Request, raw: bytes, ctx: Context) -> Reply:
    """Checks headers, then each event's structure, time window and rule, in that order."""
    problem = _header_problem(request, ctx)
    if problem is not None:
        return problem
    try:
        body = parse_json(raw)
    except ValueError as exc:
        return _plain(400, f"Unable to parse the request entity: {exc}")
    batch = request.headers.get("x-restli-method") == "BATCH_CREATE"
    if batch:
        outer = _batch_problem(body)
        if outer is not None:
            return _plain(422, outer)
        elements = body["elements"]
    else:
        elements = [body]
    messages = [_structure(element) for element in elements]
    if any(messages):
        text = "".join(
            f"Index: {i}, {message}" if batch else message
            for i, message in enumerate(messages)
            if message
        )
        return _plain(422, text, [line for line in text.splitlines() if line])
    now_ms = ctx.now_ms()
    late = [i for i, e in enumerate(elements) if not _in_window(e["conversionHappenedAt"], now_ms)]
    if late:
        return _plain(
            400,
            "Conversion time should be within 90 days and not exceed current time, indices "
            f"[{', '.join(map(str, late))}] (0-indexed).",
        )
    rules = ctx.accounts.linkedin_rules
    if any(e["conversion"].removeprefix(RULE_PREFIX) not in rules for e in elements):
        return _plain(403, "No ad accounts found")
    return _accepted(elements, batch, now_ms)


def _batch_problem(body: object) -> str | None:
    if not isinstance(body, dict):
        return "ERROR :: / :: the batch body must be an object\n"
    extra = [name for name in body if name != "elements"]
    if extra:
        return "".join(f"ERROR :: /{name} :: {UNKNOWN}\n" for name in extra)
    elements = body.get("elements")
    if not isinstance(elements, list):
        return f"ERROR :: /elements :: {REQUIRED}\n"
    if not 1 <= len(elements) <= MAX_BATCH:
        return f"ERROR :: /elements :: must hold 1 to {MAX_BATCH} elements\n"
    return None


def _render(value: object) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, dict | list) else "the value"


def _structure(event: object) -> str:
    """Rest.li's validation message for one event, empty when the structure is valid."""
    issues = Issues()
    if not isinstance(event, dict):
        issues.add("", "the event must be an object")
    else:
        _check_event(event, issues)
    return "".join(f"ERROR :: /{issue.path} :: {issue.message}\n" for issue in issues)


def _check_event(event: dict[str, Any], issues: Issues) -> None:
    for name in event:
        if name not in EVENT_KEYS:
            issues.add(name, UNKNOWN)
    conversion = event.get("conversion")
    if conversion is None:
        issues.add("conversion", REQUIRED)
    elif not isinstance(conversion, str):
        issues.add("conversion", f"{_render(conversion)} cannot be coerced to Urn")
    elif not conversion.startswith(RULE_PREFIX):
        issues.add("conversion", "Invalid Urn format. Invalid prefix.")
    elif not conversion.removeprefix(RULE_PREFIX).isdigit():
        issues.add("conversion", "Invalid Urn format. Invalid id.")
    happened = event.get("conversionHappenedAt")
    if happened is None:
        issues.add("conversionHappenedAt", REQUIRED)
    elif not is_int(happened):
        issues.add("conversionHappenedAt", f"{_render(happened)} cannot be coerced to Long")
    if "eventId" in event and not isinstance(event["eventId"], str):
        issues.add("eventId", f"{_render(event['eventId'])} cannot be coerced to String")
    if "conversionValue" in event:
        _check_value(event["conversionValue"], issues)
    if "user" not in event:
        issues.add("user", REQUIRED)
    else:
        _check_user(event["user"], issues)


def _check_value(value: object, issues: Issues) -> None:
    if not isinstance(value, dict):
        issues.add("conversionValue", "must be an object with currencyCode and amount")
        return
    for name in value:
        if name not in ("currencyCode", "amount"):
            issues.add(f"conversionValue/{name}", UNKNOWN)
    currency, amount = value.get("currencyCode"), value.get("amount")
    if currency is None:
        issues.add("conversionValue/currencyCode", REQUIRED)
    elif not is_currency(currency):
        issues.add("conversionValue/currencyCode", "must be an ISO 4217 code in upper case")
    if amount is None:
        issues.add("conversionValue/amount", REQUIRED)
    elif not isinstance(amount, str):
        issues.add("conversionValue/amount", f"{_render(amount)} cannot be coerced to String")
    elif not AMOUNT.fullmatch(amount):
        issues.add("conversionValue/amount", f"{_render(amount)} is not a decimal amount")


def _check_user(user: object, issues: Issues) -> None:
    if not isinstance(user, dict):
        issues.add("user", "must be an object")
        return
    for name in user:
        if name not in ("userIds", "userInfo", "externalIds"):
            issues.add(f"user/{name}", UNKNOWN)
    ids = user.get("userIds")
    if ids is None:
        issues.add("user/userIds", REQUIRED)
    elif not isinstance(ids, list):
        issues.add("user/userIds", "must be an array")
    else:
        for index, item in enumerate(ids):
            _check_id(item, f"user/userIds/{index}", issues)
    info = user.get("userInfo")
    if info is not None:
        _check_info(info, issues)
    external = user.get("externalIds", [])
    if not isinstance(external, list) or not all(isinstance(x, str) for x in external):
        issues.add("user/externalIds", "must be an array of strings")
    named = isinstance(info, dict) and bool(info.get("firstName")) and bool(info.get("lastName"))
    if isinstance(ids, list) and not ids and not named:
        issues.add(
            "user", "needs at least one userIds entry or userInfo with firstName and lastName"
        )


def _check_id(item: object, path: str, issues: Issues) -> None:
    if not isinstance(item, dict):
        issues.add(path, "must be an object with idType and idValue")
        return
    for name in item:
        if name not in ("idType", "idValue"):
            issues.add(f"{path}/{name}", UNKNOWN)
    id_type, value = item.get("idType"), item.get("idValue")
    if id_type is None:
        issues.add(f"{path}/idType", REQUIRED)
    elif not is_one_of(id_type, ID_TYPES):
        issues.add(f"{path}/idType", f"{_render(id_type)} is not an enum symbol")
    if value is None:
        issues.add(f"{path}/idValue", REQUIRED)
    elif not isinstance(value, str) or not value:
        issues.add(f"{path}/idValue", f"{_render(value)} cannot be coerced to String")
    elif id_type == "SHA256_EMAIL" and not is_sha256(value):
        issues.add(
            f"{path}/idValue", "a SHA256_EMAIL value must be exactly 64 lowercase hex characters"
        )


def _check_info(info: object, issues: Issues) -> None:
    if not isinstance(info, dict):
        issues.add("user/userInfo", "must be an object")
        return
    for name, value in info.items():
        if name not in USER_INFO_KEYS:
            issues.add(f"user/userInfo/{name}", UNKNOWN)
        elif not isinstance(value, str):
            issues.add(f"user/userInfo/{name}", f"{_render(value)} cannot be coerced to String")


def _in_window(happened: int, now_ms: int) -> bool:
    return now_ms - MAX_AGE_MS <= happened <= now_ms + FUTURE_SKEW_MS


def _accepted(elements: list[dict[str, Any]], batch: bool, now_ms: int) -> Reply:
    events = [
        EventRecord(
            platform=PLATFORM.name,
            view="live",
            test_code=None,
            received_ms=now_ms,
            event_id=element.get("eventId"),
            event_name=element["conversion"],
            event=element,
            account=element["conversion"],
        )
        for element in elements
    ]
    if batch:
        return Reply(200, {"elements": [{"status": 201} for _ in elements]}, events=events)
    return Reply(201, headers={"x-restli-id": random_id()}, events=events)


PLATFORM = Platform("linkedin", handle, failure, not_found, too_large)


def routes(ctx: Context) -> list[BaseRoute]:
    return [
        Route("/linkedin/rest/conversionEvents", endpoint(PLATFORM, ctx), methods=ALL_METHODS),
        Route("/linkedin/{rest:path}", endpoint(PLATFORM, ctx, api=False), methods=ALL_METHODS),
    ]

"""Fake TikTok Events API 2.0: `POST /tiktok/open_api/v1.3/event/track/`.

TikTok answers HTTP 200 even when it refuses a request: the verdict is `code` (0 is OK) and
`message`. One bad event rejects the whole batch. Events with a `test_event_code` go to the
test view under that code.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from fake_platforms.checks import (
    Issues,
    at,
    check_hashes,
    is_currency,
    is_int,
    is_ip,
    is_number,
    is_one_of,
    json_kind,
    key,
    parse_json,
    seconds_problem,
    unknown_keys,
)
from fake_platforms.exchange import (
    ALL_METHODS,
    Context,
    Platform,
    Reply,
    endpoint,
    random_id,
)
from fake_platforms.recorder import coded_records

__all__ = [
    "CODE_PARAM",
    "CODE_PERMISSION",
    "CODE_TOKEN",
    "MAX_EVENTS",
    "PLATFORM",
    "check_properties",
    "routes",
]

CODE_PERMISSION = 40001
CODE_PARAM = 40002
CODE_NOT_FOUND = 40007
CODE_RATE = 40100
CODE_TOKEN = 40105
CODE_SYSTEM = 50000

MAX_EVENTS = 1000
MAX_AGE_S = 7 * 86400
FUTURE_SKEW_S = 300
SOURCES = ("web", "app", "offline", "crm")
TOP_KEYS = ("event_source", "event_source_id", "test_event_code", "data", "partner_name")
EVENT_KEYS = (
    "event",
    "event_time",
    "event_id",
    "user",
    "properties",
    "page",
    "app",
    "ad",
    "lead",
    "limited_data_use",
)
HASHED_KEYS = ("email", "phone", "external_id")
USER_TEXT = ("ttclid", "ttp", "user_agent", "locale", "idfa", "idfv", "gaid")
PROPERTY_TEXT = ("query", "description", "order_id", "shop_id")
CONTENT_KEYS = ("content_id", "content_name", "content_category", "price", "quantity", "brand")


def _answer(code: int, message: str, reasons: list[str] | None = None, status: int = 200) -> Reply:
    body = {"code": code, "message": message, "request_id": random_id(), "data": {}}
    return Reply(status, body, reasons=[message] if reasons is None else reasons)


def failure(mode: str, request: Request) -> Reply:
    """TikTok's answers (all HTTP 200) for an injected failure."""
    if mode == "rate_limit":
        return _answer(CODE_RATE, "Too many requests. Please retry in some time.")
    if mode == "auth":
        return _answer(CODE_TOKEN, "Access token is incorrect or has been revoked.")
    return _answer(CODE_SYSTEM, "System error, please try again later.")


def not_found(request: Request) -> Reply:
    return _answer(CODE_NOT_FOUND, f"Path {request.url.path} does not exist.", status=404)


def too_large(request: Request) -> Reply:
    return _answer(CODE_PARAM, "Request body is too large.")


def handle(request: Request, raw: bytes, ctx: Context) -> Reply:
    """Checks the token, the source and every event; records them when all pass."""
    token = request.headers.get("access-token")
    if not token:
        return _answer(CODE_TOKEN, "Access token is missing.")
    if token != ctx.accounts.tiktok_access_token:
        return _answer(CODE_TOKEN, "Access token is incorrect or has been revoked.")
    try:
        body = parse_json(raw)
    except ValueError as exc:
        return _answer(CODE_PARAM, f"Invalid parameters: {exc}")
    if not isinstance(body, dict):
        return _answer(
            CODE_PARAM, f"Invalid parameters: body must be an object, got {json_kind(body)}"
        )
    issues = Issues()
    _check_top(body, issues)
    if not issues and body["event_source"] == "web":
        pixel = body["event_source_id"]
        if pixel not in ctx.accounts.tiktok_pixels:
            return _answer(CODE_PERMISSION, f"No permission to operate pixel code: {pixel}.")
    if not issues:
        now_s = ctx.now_ms() // 1000
        for index, event in enumerate(body["data"]):
            _check_event(event, at("data", index), now_s, issues)
    if issues:
        return _answer(CODE_PARAM, f"Invalid parameters: {issues.items[0]}", issues.reasons())
    return _accepted(body, ctx)


def _check_top(body: dict[str, Any], issues: Issues) -> None:
    unknown_keys(body, TOP_KEYS, "", issues)
    if not is_one_of(body.get("event_source"), SOURCES):
        issues.add("event_source", f"is required, one of {', '.join(SOURCES)}")
    source_id = body.get("event_source_id")
    if not isinstance(source_id, str) or not source_id:
        issues.add("event_source_id", "is required: a non-empty string")
    code = body.get("test_event_code")
    if "test_event_code" in body and (not isinstance(code, str) or not code):
        issues.add("test_event_code", "must be a non-empty string")
    data = body.get("data")
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_EVENTS:
        issues.add("data", f"is required: an array of 1 to {MAX_EVENTS} events")


def _check_event(event: object, path: str, now_s: int, issues: Issues) -> None:
    if not isinstance(event, dict):
        issues.add(path, f"must be an object, got {json_kind(event)}")
        return
    unknown_keys(event, EVENT_KEYS, path, issues)
    name = event.get("event")
    if not isinstance(name, str) or not name:
        issues.add(key(path, "event"), "is required: a non-empty string")
    problem = seconds_problem(
        event.get("event_time"), now_s, max_age_s=MAX_AGE_S, skew_s=FUTURE_SKEW_S
    )
    if problem is not None:
        issues.add(key(path, "event_time"), problem[1])
    if "event_id" in event and (not isinstance(event["event_id"], str) or not event["event_id"]):
        issues.add(key(path, "event_id"), "must be a non-empty string")
    if "limited_data_use" in event and not isinstance(event["limited_data_use"], bool):
        issues.add(key(path, "limited_data_use"), "must be a boolean")
    for name in ("app", "ad", "lead"):
        if name in event and not isinstance(event[name], dict):
            issues.add(key(path, name), "must be an object")
    if "user" in event:
        _check_user(event["user"], key(path, "user"), issues)
    if "properties" in event:
        check_properties(event["properties"], key(path, "properties"), issues)
    if "page" in event:
        _check_page(event["page"], key(path, "page"), issues)


def _check_user(user: object, path: str, issues: Issues) -> None:
    if not isinstance(user, dict):
        issues.add(path, "must be an object")
        return
    unknown_keys(user, (*HASHED_KEYS, *USER_TEXT, "ip"), path, issues)
    for name in HASHED_KEYS:
        if name in user:
            check_hashes(user[name], key(path, name), issues)
    for name in USER_TEXT:
        if name in user and not isinstance(user[name], str):
            issues.add(key(path, name), "must be a string")
    if "ip" in user and not is_ip(user["ip"]):
        issues.add(key(path, "ip"), "must be an IPv4 or IPv6 address")


def check_properties(properties: object, path: str, issues: Issues) -> None:
    """An event's `properties`; the browser pixel sends the same object, with the Pixel's
    per-event Limited Data Use flag (`ttq.track(name, {limited_data_use: true})`) among
    them. On the Events API the flag is a field of the event itself."""
    if not isinstance(properties, dict):
        issues.add(path, "must be an object")
        return
    if "limited_data_use" in properties and not isinstance(properties["limited_data_use"], bool):
        issues.add(key(path, "limited_data_use"), "must be a boolean")
    if "value" in properties and not is_number(properties["value"]):
        issues.add(key(path, "value"), "must be a number")
    if "currency" in properties and not is_currency(properties["currency"]):
        issues.add(key(path, "currency"), "must be an ISO 4217 code in upper case")
    if "content_type" in properties and not is_one_of(
        properties["content_type"], ("product", "product_group")
    ):
        issues.add(key(path, "content_type"), "must be product or product_group")
    for name in PROPERTY_TEXT:
        if name in properties and not isinstance(properties[name], str):
            issues.add(key(path, name), "must be a string")
    contents = properties.get("contents", [])
    if not isinstance(contents, list):
        issues.add(key(path, "contents"), "must be an array of objects")
        return
    for index, item in enumerate(contents):
        _check_content(item, at(key(path, "contents"), index), issues)


def _check_content(item: object, path: str, issues: Issues) -> None:
    if not isinstance(item, dict):
        issues.add(path, "must be an object")
        return
    unknown_keys(item, CONTENT_KEYS, path, issues)
    for name in ("content_id", "content_name", "content_category", "brand"):
        if name in item and not isinstance(item[name], str):
            issues.add(key(path, name), "must be a string")
    if "price" in item and not is_number(item["price"]):
        issues.add(key(path, "price"), "must be a number")
    if "quantity" in item and not is_int(item["quantity"]):
        issues.add(key(path, "quantity"), "must be an integer")


def _check_page(page: object, path: str, issues: Issues) -> None:
    if not isinstance(page, dict):
        issues.add(path, "must be an object")
        return
    unknown_keys(page, ("url", "referrer"), path, issues)
    for name in ("url", "referrer"):
        if name in page and not isinstance(page[name], str):
            issues.add(key(path, name), "must be a string")


def _accepted(body: dict[str, Any], ctx: Context) -> Reply:
    events = coded_records(
        PLATFORM.name,
        body["data"],
        test_code=body.get("test_event_code"),
        received_ms=ctx.now_ms(),
        account=body["event_source_id"],
        name_key="event",
    )
    return Reply(
        200, {"code": 0, "message": "OK", "request_id": random_id(), "data": {}}, events=events
    )


PLATFORM = Platform("tiktok", handle, failure, not_found, too_large)


def routes(ctx: Context) -> list[BaseRoute]:
    return [
        Route("/tiktok/open_api/v1.3/event/track/", endpoint(PLATFORM, ctx), methods=ALL_METHODS),
        Route("/tiktok/{rest:path}", endpoint(PLATFORM, ctx, api=False), methods=ALL_METHODS),
    ]

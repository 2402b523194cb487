"""Fake Meta Conversions API: `POST /meta/{version}/{pixel_id}/events`.

Accepts a JSON body or a form body whose `data` is a JSON string (as the Business SDK sends
it); the access token comes from the query string, the body or an `Authorization: Bearer`
header. One bad event rejects the whole request with HTTP 400, code 100 and an
`error_subcode`, as Meta does; events with a `test_event_code` go to the test view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from fake_platforms.checks import Issue, Issues, at, parse_json
from fake_platforms.exchange import ALL_METHODS, Context, Platform, Reply, endpoint
from fake_platforms.exchange import random_id as _trace
from fake_platforms.meta_events import (
    SUB_CUSTOMER_INFO,
    SUB_FUTURE,
    SUB_INVALID,
    SUB_TOO_OLD,
    check_event,
)
from fake_platforms.recorder import coded_records

__all__ = ["MAX_EVENTS", "PLATFORM", "routes"]

MAX_EVENTS = 1000
TITLES = {
    SUB_TOO_OLD: "Event Timestamp Too Old",
    SUB_FUTURE: "Event Timestamp In The Future",
    SUB_CUSTOMER_INFO: "Not Enough Customer Information",
    SUB_INVALID: "Invalid Parameter",
}
TOO_OLD_MESSAGE = (
    "The timestamp for this event is too far in the past. Events need to be sent from your "
    "server within 7 days of when they occurred. Enter a timestamp that has occurred within "
    "the last 7 days."
)


def _error(
    status: int,
    message: str,
    code: int,
    *,
    kind: str = "OAuthException",
    subcode: int | None = None,
    transient: bool | None = None,
    title: str | None = None,
    user_msg: str | None = None,
) -> Reply:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    if title is not None:
        error["error_user_title"] = title
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = _trace()
    return Reply(status, {"error": error}, reasons=[message if user_msg is None else user_msg])


def _param_error(message: str) -> Reply:
    return _error(400, f"(#100) {message}", 100, transient=False)


def _unsupported(request: Request) -> Reply:
    return _error(
        400,
        f"Unsupported {request.method.lower()} request. Object with ID "
        f"'{request.path_params.get('pixel_id', '')}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation.",
        100,
        kind="GraphMethodException",
        subcode=33,
    )


def failure(mode: str, request: Request) -> Reply:
    """Meta's own answers for an injected server error, rate limit or token rejection."""
    if mode == "rate_limit":
        return _error(400, "(#4) Application request limit reached", 4, transient=True)
    if mode == "auth":
        return _bad_token()
    return _error(
        500,
        "An unexpected error has occurred. Please retry your request later.",
        2,
        transient=True,
    )


def _bad_token() -> Reply:
    return _error(401, "Invalid OAuth access token - Cannot parse access token", 190)


def not_found(request: Request) -> Reply:
    if request.method != "POST" and "pixel_id" in request.path_params:
        return _unsupported(request)
    return _error(400, f"Unknown path components: {request.url.path.removeprefix('/meta')}", 2500)


def too_large(request: Request) -> Reply:
    return _param_error("The request body is too large")


def _params(request: Request, raw: bytes) -> dict[str, Any]:
    """The request parameters: a JSON object, or a form whose `data` is a JSON string."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        try:
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict"))
        except UnicodeDecodeError:
            raise ValueError("The form body is not valid UTF-8") from None
        params: dict[str, Any] = dict(form)
        if "data" in form:
            try:
                params["data"] = parse_json(form["data"].encode())
            except ValueError:
                raise ValueError("param data must be an array.") from None
        return params
    if not raw:
        return {}
    try:
        parsed = parse_json(raw)
    except ValueError as exc:
        raise ValueError(f"The {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError("The request body must be a JSON object")
    return parsed


def _token(request: Request, params: dict[str, Any]) -> object:
    authorization = request.headers.get("authorization", "")
    if authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ")
    return request.query_params.get("access_token", params.get("access_token"))


def handle(request: Request, raw: bytes, ctx: Context) -> Reply:
    """Checks credentials, path and every event; records the events when all pass."""
    try:
        params = _params(request, raw)
    except ValueError as exc:
        return _param_error(str(exc))
    token = _token(request, params)
    if token is None or token == "":
        return _error(400, "An access token is required to request this resource.", 104)
    if token != ctx.accounts.meta_access_token:
        return _bad_token()
    version = request.path_params["version"]
    if version not in ctx.accounts.meta_versions:
        return _error(
            400,
            f"(#2635) You are calling a deprecated version of the Ads API. Please update to "
            f"the latest version: {ctx.accounts.meta_versions[-1]}.",
            2635,
        )
    pixel = request.path_params["pixel_id"]
    if pixel not in ctx.accounts.meta_pixels:
        return _unsupported(request)
    problem = _check_request(params)
    if problem is not None:
        return _param_error(problem)
    issues = Issues()
    now_s = ctx.now_ms() // 1000
    for index, event in enumerate(params["data"]):
        check_event(event, at("data", index), now_s, issues)
    if issues:
        return _rejected(issues)
    return _accepted(params, pixel, ctx)


def _check_request(params: dict[str, Any]) -> str | None:
    if "data" not in params:
        return "The parameter data is required"
    data = params["data"]
    if not isinstance(data, list):
        return "param data must be an array."
    if not data:
        return "param data must be a non-empty array."
    if len(data) > MAX_EVENTS:
        return f"param data must be an array of at most {MAX_EVENTS} events."
    code = params.get("test_event_code")
    if "test_event_code" in params and (not isinstance(code, str) or not code):
        return "param test_event_code must be a non-empty string."
    return None


def _rejected(issues: Issues) -> Reply:
    first: Issue = issues.items[0]
    subcode = first.code or SUB_INVALID
    message = TOO_OLD_MESSAGE if subcode == SUB_TOO_OLD else str(first)
    reply = _error(
        400,
        "Invalid parameter",
        100,
        subcode=int(subcode),
        transient=False,
        title=TITLES[subcode],
        user_msg=message,
    )
    reply.reasons = issues.reasons()
    return reply


def _accepted(params: dict[str, Any], pixel: str, ctx: Context) -> Reply:
    events = coded_records(
        PLATFORM.name,
        params["data"],
        test_code=params.get("test_event_code"),
        received_ms=ctx.now_ms(),
        account=pixel,
        name_key="event_name",
    )
    body = {"events_received": len(events), "messages": [], "fbtrace_id": _trace()}
    return Reply(200, body, events=events)


PLATFORM = Platform("meta", handle, failure, not_found, too_large)


def routes(ctx: Context) -> list[BaseRoute]:
    return [
        Route("/meta/{version}/{pixel_id}/events", endpoint(PLATFORM, ctx), methods=ALL_METHODS),
        Route("/meta/{rest:path}", endpoint(PLATFORM, ctx, api=False), methods=ALL_METHODS),
    ]

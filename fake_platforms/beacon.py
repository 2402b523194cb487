"""What every fake pixel beacon shares: the JSON body, the common fields, the browser record.

The fake pixel libraries post one JSON object per event. Each vendor's beacon says which
fields it takes, which ids must be known and how it answers; this module turns that into a
handler, so the five beacons parse, refuse and record the same way. Accepted events go to
the `browser` view, never to `live`, so a test can put a pixel's event next to the server
API's event with the same id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from fake_platforms.accounts import FakeAccounts
from fake_platforms.checks import (
    Issues,
    check_hashes,
    is_int,
    json_kind,
    key,
    parse_json,
    unknown_keys,
)
from fake_platforms.exchange import Context, Platform, Reply
from fake_platforms.recorder import EventRecord

__all__ = [
    "JSON_TYPES",
    "MAX_BEACON",
    "VIEW",
    "Answer",
    "Beacon",
    "as_platform",
    "check_ms",
    "check_text",
    "check_user_data",
]

VIEW = "browser"
MAX_BEACON = 64 * 1024  # what fetch(keepalive) and sendBeacon carry at most
TOO_LARGE = f"a beacon body holds at most {MAX_BEACON} bytes"
JSON_TYPES = ("text/plain", "application/json")
MS_FLOOR = 10**11  # below: seconds, not milliseconds
MS_CEILING = 10**14  # above: microseconds

# An error answer in the vendor's shape: (HTTP status, message, every reason) -> Reply.
Answer = Callable[[int, str, list[str]], Reply]


@dataclass(frozen=True, slots=True)
class Beacon:
    """One vendor's beacon: its checks, its answers and how an event becomes a record.

    `api` is the vendor's server API, whose name the records carry and whose unknown-path
    answer a GET gets. `check` adds structural issues (answered `answer(400, ...)`);
    `refuse` names an unknown pixel, partner, tag or stream (answered
    `answer(refused_status, ...)`); `identify` gives the record's (event_id, event_name,
    account).
    """

    api: Platform
    check: Callable[[dict[str, Any], Issues], None]
    refuse: Callable[[dict[str, Any], FakeAccounts], str | None]
    identify: Callable[[dict[str, Any]], tuple[str | None, str, str]]
    answer: Answer
    refused_status: int
    accepted: Callable[[], Reply]


def as_platform(beacon: Beacon) -> Platform:
    """The beacon as an endpoint's `Platform`, named after its vendor's server API."""

    def too_large(request: Request) -> Reply:
        return beacon.answer(413, TOO_LARGE, [TOO_LARGE])

    return Platform(
        beacon.api.name, _handler(beacon), beacon.api.failure, beacon.api.not_found, too_large
    )


def _handler(beacon: Beacon) -> Callable[[Request, bytes, Context], Reply]:
    def handle(request: Request, raw: bytes, ctx: Context) -> Reply:
        if len(raw) > MAX_BEACON:
            return beacon.answer(413, TOO_LARGE, [TOO_LARGE])
        body, problem = _body(request, raw)
        if body is None:
            return beacon.answer(400, problem, [problem])
        issues = Issues()
        beacon.check(body, issues)
        if issues:
            return beacon.answer(400, str(issues.items[0]), issues.reasons())
        refused = beacon.refuse(body, ctx.accounts)
        if refused is not None:
            return beacon.answer(beacon.refused_status, refused, [refused])
        event_id, event_name, account = beacon.identify(body)
        record = EventRecord(
            platform=beacon.api.name,
            view=VIEW,
            test_code=None,
            received_ms=ctx.now_ms(),
            event_id=event_id,
            event_name=event_name,
            event=body,
            account=account,
        )
        reply = beacon.accepted()
        reply.events.append(record)
        return reply

    return handle


def _body(request: Request, raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The beacon's JSON object, or None and why not."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        return None, f"content-type must be {' or '.join(JSON_TYPES)}, got {content_type!r}"
    try:
        body = parse_json(raw)
    except ValueError as exc:
        return None, str(exc)
    if not isinstance(body, dict):
        return None, f"body must be a JSON object, got {json_kind(body)}"
    return body, ""


def check_text(
    obj: Mapping[str, Any],
    name: str,
    path: str,
    issues: Issues,
    *,
    required: bool = False,
    empty: bool = False,
    max_len: int | None = None,
) -> None:
    """A string member; `empty` allows "" (a referrer), `max_len` caps its length."""
    if name not in obj:
        if required:
            issues.add(key(path, name), "is required: a string")
        return
    value = obj[name]
    if not isinstance(value, str):
        issues.add(key(path, name), f"must be a string, got {json_kind(value)}")
    elif not value and not empty:
        issues.add(key(path, name), "must be a non-empty string")
    elif max_len is not None and len(value) > max_len:
        issues.add(key(path, name), f"must be at most {max_len} characters")


def check_ms(obj: Mapping[str, Any], name: str, issues: Issues, *, required: bool = True) -> None:
    """A Unix time in milliseconds, as `Date.now()` gives it (browser clocks drift, so no
    age window)."""
    if name not in obj:
        if required:
            issues.add(name, "is required: Unix time in milliseconds")
        return
    value = obj[name]
    if not is_int(value):
        issues.add(name, f"must be Unix time in milliseconds, got {json_kind(value)}")
    elif not MS_FLOOR <= value < MS_CEILING:
        issues.add(name, f"must be Unix time in milliseconds; {value} is not")


def check_user_data(
    value: object, path: str, allowed: tuple[str, ...], issues: Issues, *, lists: bool
) -> None:
    """Hashed user fields: an object of SHA-256 hex values (arrays of them when `lists`).

    The real libraries hash plaintext themselves; the fakes take hashes only, so a test sees
    at once when plaintext reaches a pixel.
    """
    if not isinstance(value, dict):
        issues.add(path, f"must be an object, got {json_kind(value)}")
        return
    unknown_keys(value, allowed, path, issues)
    for name in allowed:
        if name not in value:
            continue
        if isinstance(value[name], list) and not lists:
            issues.add(key(path, name), "must be one SHA-256 hex string, got array")
        else:
            check_hashes(value[name], key(path, name), issues)

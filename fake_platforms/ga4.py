"""Fake GA4 Measurement Protocol: `/ga4/mp/collect` and `/ga4/debug/mp/collect`.

The collect endpoint never reports a problem: it answers 204, keeps the valid events and
drops the rest silently, as Google does; the request log says what was dropped and why.
The debug endpoint answers the validation messages and records the valid events in the test
view under the code `debug`. Neither checks `api_secret` in its answer; the collect endpoint
drops everything when the measurement id and secret are not a known pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from fake_platforms.checks import parse_json
from fake_platforms.exchange import ALL_METHODS, Context, Platform, Reply, endpoint
from fake_platforms.ga4_rules import MAX_BODY, Finding, check_body
from fake_platforms.recorder import EventRecord

__all__ = ["PLATFORM", "TEST_CODE", "dedup_id", "routes"]

TEST_CODE = "debug"
DEBUG_PATH = "/ga4/debug/mp/collect"


def _debug(request: Request) -> bool:
    return request.url.path == DEBUG_PATH


def _google_error(http: int, status: str, message: str) -> Reply:
    return Reply(
        http, {"error": {"code": http, "message": message, "status": status}}, reasons=[message]
    )


def failure(mode: str, request: Request) -> Reply:
    """Injected failures; a rejected secret is silent on collect, as the real one is."""
    if mode == "rate_limit":
        return _google_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted.")
    if mode == "auth":
        if _debug(request):
            return Reply(200, {"validationMessages": []}, reasons=["events dropped"])
        return Reply(204, reasons=["api_secret rejected: events dropped silently"])
    return _google_error(500, "INTERNAL", "Internal error encountered.")


def not_found(request: Request) -> Reply:
    return Reply(404, reasons=[f"no Measurement Protocol endpoint at {request.url.path}"])


def too_large(request: Request) -> Reply:
    return _answer(
        request, [Finding("", f"The body exceeds {MAX_BODY} bytes.", "VALUE_OUT_OF_BOUNDS")]
    )


def _answer(request: Request, findings: list[Finding], events: Sequence[EventRecord] = ()) -> Reply:
    reasons = [f"{f.field_path or 'body'}: {f.description} ({f.code})" for f in findings]
    if _debug(request):
        body = {"validationMessages": [f.to_json() for f in findings]}
        return Reply(200, body, reasons=reasons, events=list(events))
    if findings:
        kept = len(events)
        reasons.append(f"{kept} event(s) kept, the rest dropped silently")
    return Reply(204, reasons=reasons, events=list(events))


def handle(request: Request, raw: bytes, ctx: Context) -> Reply:
    """Validates the body, keeps the valid events; collect also checks the id/secret pair."""
    measurement_id = request.query_params.get("measurement_id", "")
    if not measurement_id:
        return _answer(
            request,
            [
                Finding(
                    "measurement_id",
                    "Unable to find non-empty parameter [measurement_id] value in request.",
                    "VALUE_REQUIRED",
                )
            ],
        )
    if len(raw) > MAX_BODY:
        return too_large(request)
    try:
        body = parse_json(raw)
    except ValueError as exc:
        return _answer(
            request, [Finding("", f"Unable to parse the payload: {exc}.", "VALUE_INVALID")]
        )
    findings = check_body(body, ctx.now_ms())
    if not _debug(request):
        secret = ctx.accounts.ga4_streams.get(measurement_id)
        if secret is None or request.query_params.get("api_secret") != secret:
            return Reply(
                204, reasons=["unknown measurement_id/api_secret pair: events dropped silently"]
            )
    if any(f.event is None for f in findings):
        return _answer(request, findings)
    dropped = {f.event for f in findings}
    return _answer(request, findings, _records(body, measurement_id, dropped, request, ctx))


def _records(
    body: dict[str, Any],
    measurement_id: str,
    dropped: set[int | None],
    request: Request,
    ctx: Context,
) -> list[EventRecord]:
    debug = _debug(request)
    received_ms = ctx.now_ms()
    return [
        EventRecord(
            platform=PLATFORM.name,
            view="test" if debug else "live",
            test_code=TEST_CODE if debug else None,
            received_ms=received_ms,
            event_id=dedup_id(event.get("params")),
            event_name=event["name"],
            event=event,
            account=measurement_id,
        )
        for index, event in enumerate(body["events"])
        if index not in dropped
    ]


def dedup_id(params: object) -> str | None:
    """GA4's dedup key: params.event_id, else the purchase's transaction_id (text)."""
    if not isinstance(params, dict):
        return None
    for name in ("event_id", "transaction_id"):
        value = params.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    return None


PLATFORM = Platform("ga4", handle, failure, not_found, too_large)


def routes(ctx: Context) -> list[BaseRoute]:
    return [
        Route("/ga4/mp/collect", endpoint(PLATFORM, ctx), methods=ALL_METHODS),
        Route(DEBUG_PATH, endpoint(PLATFORM, ctx), methods=ALL_METHODS),
        Route("/ga4/{rest:path}", endpoint(PLATFORM, ctx, api=False), methods=ALL_METHODS),
    ]

"""Running a template once, and running the tests a template package carries.

A test gives a wire hit, optional server facts, cookies, params, secrets and `now_ms`, and
what it expects: pixels, requests (a `json` body is compared as data, a `body` as text),
cookies, logs, or an error kind. Only the keys a test names are compared.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tags.errors import TemplateError
from tags.event import template_event
from tags.package import TemplatePackage
from tags.runtime import TagResult, TemplateRuntime
from variables.hit import Hit

__all__ = ["CaseOutcome", "result_document", "run_once", "run_tests"]

DEFAULT_NOW_MS = 1_763_900_000_000
HitCheck = Callable[[object], list[str]]


def run_once(
    package: TemplatePackage,
    wire: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    secrets: Mapping[str, str] | Callable[[str], str | None] | None = None,
    server: Mapping[str, Any] | None = None,
    cookies: Mapping[str, str] | None = None,
    now_ms: int = DEFAULT_NOW_MS,
    allow_http_loopback: bool = False,
    wall_clock: bool = True,
) -> TagResult:
    """Bind and execute a template on one hit in a fresh runtime (see TemplateRuntime
    for `wall_clock`)."""
    lookup = secrets.get if isinstance(secrets, Mapping) else secrets
    runtime = TemplateRuntime(
        lookup, allow_http_loopback=allow_http_loopback, wall_clock=wall_clock
    )
    facts = {"client_ip": "", "user_agent": "", "client_id": None,
             "event_time_ms": wire.get("ts", now_ms), "received_ms": now_ms,
             "trace_id": "template-test", "sec_gpc": False, "action_source": "website",
             **(server or {})}  # fmt: skip
    hit = Hit(
        container_id="template-test",
        event=str(wire.get("event", "")),
        event_id=str(wire.get("event_id", "")),
        wire=dict(wire),
        event_time_ms=facts["event_time_ms"],
        received_ms=facts["received_ms"],
        client_ip=facts["client_ip"],
        user_agent=facts["user_agent"],
        client_id=facts["client_id"],
        sec_gpc=facts["sec_gpc"],
        trace_id=facts["trace_id"],
        cookies=dict(cookies or {}),
        headers=[],
        action_source=facts["action_source"],
        test_event_code=facts.get("test_event_code"),
    )
    try:
        bound = runtime.bind("template-test/tag", package, params)
    except TemplateError as exc:
        return TagResult(error=exc)
    context = runtime.hit_context(template_event(hit), hit.cookies, now_ms)
    return runtime.execute(bound, context)


def result_document(result: TagResult) -> dict[str, Any]:
    """The stable JSON shape `tagwire template run` prints."""
    return {
        "pixels": result.pixels,
        "requests": result.requests,
        "logs": result.logs,
        "error": result.error.as_dict() if result.error else None,
    }


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    name: str
    passed: bool
    diff: str
    cost: int = 0  # budget units the run used (deterministic; see TagResult.cost)


def _comparable(result: TagResult, expect: Mapping[str, Any]) -> tuple[Any, Any]:
    """The parts of actual and expected that a test names, in one comparable shape."""
    actual: dict[str, Any] = {}
    wanted: dict[str, Any] = {}
    if "error" in expect:
        actual["error"] = result.error.kind if result.error else None
        expected_error = expect["error"]
        wanted["error"] = (
            expected_error.get("kind") if isinstance(expected_error, dict) else expected_error
        )
    elif result.error is not None:
        actual["error"] = result.error.as_dict()
        wanted["error"] = None
    if "requests" in expect:
        wanted["requests"] = [
            r if "json" in r or "body" in r else {"body": None, **r} for r in expect["requests"]
        ]
        actual["requests"] = []
        for index, request in enumerate(result.requests):
            shown = dict(request)
            expected = wanted["requests"][index] if index < len(wanted["requests"]) else {}
            if "json" in expected and request["body"] is not None:
                # compared as data only where the test asks for data
                try:
                    shown["json"] = orjson.loads(request["body"])
                    del shown["body"]
                except orjson.JSONDecodeError:
                    pass
            actual["requests"].append(shown)
    for key in ("pixels", "cookies", "logs"):
        if key in expect:
            actual[key] = getattr(result, key)
            wanted[key] = expect[key]
    return actual, wanted


def _diff(actual: Any, wanted: Any) -> str:
    def dump(value: Any) -> list[str]:
        return (
            orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            .decode()
            .splitlines()
        )

    return "\n".join(
        difflib.unified_diff(dump(wanted), dump(actual), "expected", "actual", lineterm="")
    )


def run_tests(package: TemplatePackage, check_hit: HitCheck | None = None) -> list[CaseOutcome]:
    outcomes = []
    for index, test in enumerate(package.tests):
        name = str(test.get("name", f"test {index + 1}"))
        wire = test.get("hit", {})
        if not isinstance(wire, dict) or not isinstance(test.get("expect", {}), dict):
            outcomes.append(CaseOutcome(name, False, "a test needs a 'hit' and an 'expect' object"))
            continue
        problems = check_hit(wire) if check_hit else []
        if problems:
            outcomes.append(CaseOutcome(name, False, "invalid test hit: " + "; ".join(problems)))
            continue
        result = run_once(
            package,
            wire,
            test.get("params", {}),
            secrets=test.get("secrets", {}),
            server=test.get("server"),
            cookies=test.get("cookies"),
            now_ms=test.get("now_ms", DEFAULT_NOW_MS),
            allow_http_loopback=bool(test.get("allow_http_loopback", False)),
            wall_clock=False,  # a test's verdict must not depend on the machine's load
        )
        actual, wanted = _comparable(result, test.get("expect", {}))
        passed = actual == wanted
        outcomes.append(
            CaseOutcome(name, passed, "" if passed else _diff(actual, wanted), result.cost)
        )
    return outcomes

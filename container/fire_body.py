"""The Fire API body: one event object or an array of up to 50, checked field by field.

An event from a CRM or back end carries what `/collect` gets from the browser and its
request (IP, user agent, time), plus plaintext user details that are hashed here, per
platform, before anything else sees them. The sections shared with hit schema v1 (`page`,
`consent`, `click`, `data`, `custom`) are checked by the same validator, so their rules
and error names are those of docs/collect.md. Every problem is `(field, reason)`; reasons
never repeat a value. Nothing here raises on any JSON value; only a body that cannot be
read as events at all raises (`BodyError`, shared with `/collect`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import orjson

from container.accept_body import BodyError
from container.hit import validate_hit
from variables.hit import ACTION_SOURCES, CONSENT_SIGNALS
from variables.user_variants import PLAIN_USER_FIELDS, user_variants

__all__ = [
    "FIELDS",
    "FUTURE_SKEW_MS",
    "MAX_AGE_MS",
    "MAX_BODY_BYTES",
    "MAX_EVENTS",
    "ContainerRules",
    "FireEvent",
    "derived_event_id",
    "parse_events",
    "read_event",
]

MAX_BODY_BYTES = 256 * 1024
MAX_EVENTS = 50
MAX_AGE_MS = 7 * 24 * 3600 * 1000  # Meta and TikTok refuse older events
FUTURE_SKEW_MS = 5 * 60 * 1000  # clock drift tolerated, then clamped to the receive time

FIELDS = frozenset(
    {"container_id", "event", "event_id", "event_time", "action_source", "lead_id", "user",
     "click", "ip", "user_agent", "client_id", "page", "data", "consent", "custom",
     "test_event_code"}
)  # fmt: skip
_SHARED = ("page", "consent", "click", "custom")  # and data: checked as in hit schema v1
_TS_MIN = 946_684_800_000  # 2000-01-01, in ms
_TS_MAX = 4_102_444_800_000  # 2100-01-01, in ms
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TEST_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")

Errors = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class ContainerRules:
    """What checking an event needs to know about its container."""

    default_country: str | None
    consent_required: bool  # the strict policy fires nothing for an event without consent


@dataclass(frozen=True, slots=True)
class FireEvent:
    """A valid event: its wire hit (hashed `user`) and the facts the server would add."""

    wire: dict[str, Any]
    event_time_ms: int
    action_source: str
    client_ip: str
    user_agent: str
    client_id: str | None
    test_event_code: str | None


def parse_events(body: bytes) -> tuple[Any, list[Any]]:
    """(the decoded JSON, its candidate events); a single object is a batch of one."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError("body", f"not UTF-8 JSON: {exc.msg}") from None
    if isinstance(value, dict):
        return value, [value]
    if isinstance(value, list):
        if not value:
            raise BodyError("body", "empty array: send at least one event")
        if len(value) > MAX_EVENTS:
            raise BodyError("body", f"{len(value)} events; at most {MAX_EVENTS} per request", 413)
        return value, value
    raise BodyError("body", "must be a JSON object (one event) or an array of events")


def _key(key: str) -> str:
    """A client's key as it may appear in an error: an odd one (maybe an email) is hidden."""
    return key if _PLAIN_KEY.fullmatch(key) and "@" not in key else "<unrecognised key>"


def _string(errors: Errors, field: str, value: object, max_len: int) -> str | None:
    if type(value) is not str:
        errors.append((field, "must be a string"))
        return None
    if not value or len(value) > max_len:
        errors.append((field, f"must be 1 to {max_len} characters"))
        return None
    return value


def _event_time(errors: Errors, value: object, now_ms: int) -> int | None:
    """Milliseconds or ISO 8601 with a zone; refused when too old or too far ahead."""
    rule = "must be whole milliseconds since the Unix epoch or an ISO 8601 time with a zone"
    if type(value) is int:
        if not _TS_MIN <= value <= _TS_MAX:
            hint = (
                " (this looks like seconds)" if _TS_MIN // 1000 <= value <= _TS_MAX // 1000 else ""
            )
            errors.append(("event_time", rule + hint))
            return None
        ms = value
    elif type(value) is str and len(value) <= 40:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            errors.append(("event_time", rule))
            return None
        if parsed.tzinfo is None:
            errors.append(
                ("event_time", "needs a time zone: end it with Z or an offset like +01:00")
            )
            return None
        ms = (parsed - _EPOCH) // dt.timedelta(milliseconds=1)
    else:
        errors.append(("event_time", rule))
        return None
    if ms > now_ms + FUTURE_SKEW_MS:
        errors.append(("event_time", f"more than {FUTURE_SKEW_MS // 60000} minutes in the future"))
        return None
    if ms < now_ms - MAX_AGE_MS:
        errors.append(
            ("event_time", f"older than {MAX_AGE_MS // 86_400_000} days: platforms refuse it")
        )
        return None
    return min(ms, now_ms)


def _ip(errors: Errors, value: object) -> str:
    if type(value) is not str or len(value) > 64:
        errors.append(("ip", "must be an IPv4 or IPv6 address"))
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        errors.append(("ip", "must be an IPv4 or IPv6 address"))
        return ""


def _user(errors: Errors, value: object, rules: ContainerRules) -> dict[str, str]:
    if type(value) is not dict:
        errors.append(("user", "must be an object"))
        return {}
    errors.extend((f"user.{_key(k)}", "unknown field") for k in value.keys() - PLAIN_USER_FIELDS)
    variants = user_variants(value, rules.default_country)
    errors.extend((f"user.{name}", reason) for name, reason in variants.errors)
    return variants.values


def _has_consent_signal(consent: object) -> bool:
    return isinstance(consent, dict) and (
        "tcf" in consent or "gpc" in consent or any(s in consent for s in CONSENT_SIGNALS)
    )


def derived_event_id(event: str, kind: str, value: str, test_event_code: str | None) -> str:
    """A stable event id from the CRM's own id, so a retry deduplicates like the original;
    a test event gets another id, so it never blocks the real one."""
    seed = "\x1f".join((event, kind, value, test_event_code or ""))
    return "fire-" + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:40]


def _derive_event_id(
    errors: Errors, event: object, data: object, test_code: str | None
) -> str | None:
    """The default event id, from the lead id or else the transaction id."""
    if type(event) is not str or type(data) is not dict:
        return None  # the event name or data is refused anyway
    for kind in ("lead_id", "transaction_id"):
        value = data.get(kind)
        if type(value) is str and value:
            return derived_event_id(event, kind, value, test_code)
    errors.append(
        ("event_id", "required without lead_id or data.transaction_id: a retry needs a stable id")
    )
    return None


def read_event(
    candidate: object, rules: ContainerRules, now_ms: int
) -> tuple[FireEvent | None, Errors]:
    """The event as a wire hit plus request facts, or None and every problem found."""
    if type(candidate) is not dict:
        return None, [("event", "must be a JSON object")]
    errors: Errors = [(_key(k), "unknown field") for k in candidate.keys() - FIELDS]
    source = candidate.get("action_source")
    action_source = source if type(source) is str and source in ACTION_SOURCES else None
    if action_source is None:
        errors.append(("action_source", f"required, one of {', '.join(ACTION_SOURCES)}"))
    event_time = (
        _event_time(errors, candidate["event_time"], now_ms)
        if "event_time" in candidate
        else now_ms
    )
    test_code = None
    if "test_event_code" in candidate:
        test_code = _string(errors, "test_event_code", candidate["test_event_code"], 64)
        if test_code is not None and not _TEST_CODE.fullmatch(test_code):
            errors.append(("test_event_code", "must be 1-64 characters of A-Z, a-z, 0-9, _, -"))
            test_code = None
    data = candidate.get("data", {})
    if type(data) is dict:
        data = dict(data)  # lead_id is added to a copy
    if "lead_id" in candidate:
        lead_id = _string(errors, "lead_id", candidate["lead_id"], 128)
        if (
            type(data) is dict
            and lead_id is not None
            and data.setdefault("lead_id", lead_id) != lead_id
        ):
            errors.append(("lead_id", "differs from data.lead_id: send it once"))
    wire: dict[str, Any] = {"v": 1, "event": candidate.get("event")}
    if "event_id" in candidate:
        wire["event_id"] = candidate["event_id"]  # checked with the hit rule below
    else:
        derived = _derive_event_id(errors, wire["event"], data, test_code)
        if derived is not None:
            wire["event_id"] = derived
    for section in _SHARED:
        if section in candidate:
            wire[section] = candidate[section]
    if "data" in candidate or data:
        wire["data"] = data
    if rules.consent_required and not _has_consent_signal(candidate.get("consent")):
        errors.append(
            ("consent", "required: the container's consent_policy is strict, so an event "
             "without consent fires no tag; send the consent the user gave")
        )  # fmt: skip
    # the shared sections, event and event_id by the hit rules (v and ts are ours)
    errors.extend(p for p in validate_hit(wire) if p[0] != "event_id" or "event_id" in wire)
    if "user" in candidate:
        wire["user"] = _user(errors, candidate["user"], rules)
    client_ip = _ip(errors, candidate["ip"]) if "ip" in candidate else ""
    user_agent = ""
    if "user_agent" in candidate:
        user_agent = _string(errors, "user_agent", candidate["user_agent"], 512) or ""
    client_id = None
    if "client_id" in candidate:
        client_id = _string(errors, "client_id", candidate["client_id"], 64)
        if client_id is not None and not _CLIENT_ID.fullmatch(client_id):
            errors.append(("client_id", "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'"))
    if errors or event_time is None or action_source is None:
        return None, errors
    wire["ts"] = event_time
    return FireEvent(
        wire, event_time, action_source, client_ip, user_agent, client_id, test_code
    ), errors

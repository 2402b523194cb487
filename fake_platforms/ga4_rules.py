"""The rules of a GA4 Measurement Protocol body, as `/debug/mp/collect` reports them.

Each finding is a validation message (`fieldPath`, `description`, `validationCode`) and
belongs either to the whole request (event index `None`) or to one event, so the live
endpoint can drop just the events at fault, as the real one silently does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fake_platforms.checks import as_int, is_number, is_one_of, is_sha256, json_kind

__all__ = ["MAX_BODY", "Finding", "check_body"]

MAX_BODY = 130 * 1024
MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_ITEMS = 200
MAX_USER_PROPERTIES = 25
MAX_EVENT_NAME = 40
MAX_PARAM_NAME = 40
MAX_PARAM_VALUE = 100
# GA4's exceptions to MAX_PARAM_VALUE (its event collection limits)
LONGER_PARAM_VALUES = {"page_location": 1000, "page_referrer": 420, "page_title": 300}
MAX_PROPERTY_NAME = 24
MAX_PROPERTY_VALUE = 36
MAX_USER_ID = 256
MAX_AGE_US = 72 * 3600 * 1_000_000
FUTURE_SKEW_US = 300 * 1_000_000
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
RESERVED_EVENTS = frozenset(
    {
        "ad_activeview",
        "ad_click",
        "ad_exposure",
        "ad_impression",
        "ad_query",
        "ad_reward",
        "adunit_exposure",
        "app_background",
        "app_clear_data",
        "app_exception",
        "app_remove",
        "app_store_refund",
        "app_store_subscription_cancel",
        "app_store_subscription_convert",
        "app_store_subscription_renew",
        "app_update",
        "app_upgrade",
        "dynamic_link_app_open",
        "dynamic_link_app_update",
        "dynamic_link_first_open",
        "error",
        "first_open",
        "first_visit",
        "in_app_purchase",
        "notification_dismiss",
        "notification_foreground",
        "notification_open",
        "notification_receive",
        "os_update",
        "session_start",
        "session_start_with_rollout",
        "user_engagement",
    }
)
RESERVED_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
RESERVED_PARAMS = frozenset({"firebase_conversion"})
RESERVED_PROPERTIES = frozenset(
    {
        "first_open_time",
        "first_visit_time",
        "last_deep_link_referrer",
        "user_id",
        "first_open_after_install",
    }
)
TOP_KEYS = frozenset(
    {
        "client_id",
        "app_instance_id",
        "user_id",
        "timestamp_micros",
        "user_properties",
        "user_data",
        "consent",
        "non_personalized_ads",
        "user_location",
        "device",
        "ip_override",
        "validation_behavior",
        "events",
    }
)
ADDRESS_HASHED = ("sha256_first_name", "sha256_last_name", "sha256_street")
ADDRESS_TEXT = ("city", "region", "postal_code", "country")
CONSENT_VALUES = ("GRANTED", "DENIED")


@dataclass(frozen=True, slots=True)
class Finding:
    """One validation message; `event` is the index of the event it drops, None for all."""

    field_path: str
    description: str
    code: str
    event: int | None = None

    def to_json(self) -> dict[str, str]:
        return {
            "fieldPath": self.field_path,
            "description": self.description,
            "validationCode": self.code,
        }


def check_body(body: object, now_ms: int) -> list[Finding]:
    """Every finding for a parsed body, request-wide ones first."""
    if not isinstance(body, dict):
        return [
            Finding("", f"The body must be a JSON object, got {json_kind(body)}.", "VALUE_INVALID")
        ]
    out: list[Finding] = []
    for name in body:
        if name not in TOP_KEYS:
            out.append(Finding(name, f"Unknown field [{name}].", "VALUE_INVALID"))
    _check_ids(body, out)
    if "timestamp_micros" in body:
        _check_micros(body["timestamp_micros"], "timestamp_micros", now_ms, None, out)
    if "consent" in body:
        _check_consent(body["consent"], out)
    if "user_data" in body:
        _check_user_data(body["user_data"], out)
    if "user_properties" in body:
        _check_properties(body["user_properties"], out)
    if "non_personalized_ads" in body and not isinstance(body["non_personalized_ads"], bool):
        out.append(Finding("non_personalized_ads", "Must be a boolean.", "VALUE_INVALID"))
    events = body.get("events")
    if not isinstance(events, list) or not events:
        out.append(Finding("events", "Measurement requires at least one event.", "VALUE_REQUIRED"))
    elif len(events) > MAX_EVENTS:
        out.append(
            Finding(
                "events",
                f"Measurement can have at most {MAX_EVENTS} events.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    else:
        for index, event in enumerate(events):
            _check_event(event, index, now_ms, out)
    return out


def _check_ids(body: dict[str, Any], out: list[Finding]) -> None:
    ids = [name for name in ("client_id", "app_instance_id") if name in body]
    if not ids:
        out.append(Finding("client_id", "Measurement requires a client_id.", "VALUE_REQUIRED"))
    elif len(ids) == 2:
        out.append(
            Finding(
                "app_instance_id",
                "Send client_id (web) or app_instance_id (app), not both.",
                "VALUE_INVALID",
            )
        )
    for name in ids:
        if not isinstance(body[name], str) or not body[name]:
            out.append(Finding(name, f"{name} must be a non-empty string.", "VALUE_INVALID"))
    user_id = body.get("user_id")
    if "user_id" in body and (not isinstance(user_id, str) or len(user_id) > MAX_USER_ID):
        out.append(
            Finding(
                "user_id",
                f"user_id must be a string of at most {MAX_USER_ID} characters.",
                "VALUE_INVALID",
            )
        )


def _check_micros(
    value: object, path: str, now_ms: int, event: int | None, out: list[Finding]
) -> None:
    now_us = now_ms * 1000
    micros = as_int(value)
    if micros is None:
        out.append(
            Finding(
                path,
                f"timestamp_micros must be an integer (microseconds), got {json_kind(value)}.",
                "VALUE_INVALID",
                event,
            )
        )
    elif micros > now_us + FUTURE_SKEW_US:
        out.append(
            Finding(path, "timestamp_micros is in the future.", "VALUE_OUT_OF_BOUNDS", event)
        )
    elif micros < now_us - MAX_AGE_US:
        hint = " (it looks like milliseconds or seconds)" if micros < now_ms * 10 else ""
        out.append(
            Finding(
                path,
                f"timestamp_micros is more than 72 hours old{hint}.",
                "VALUE_OUT_OF_BOUNDS",
                event,
            )
        )


def _check_consent(consent: object, out: list[Finding]) -> None:
    if not isinstance(consent, dict):
        out.append(Finding("consent", "consent must be an object.", "VALUE_INVALID"))
        return
    for name, value in consent.items():
        path = f"consent.{name}"
        if name not in ("ad_user_data", "ad_personalization"):
            out.append(Finding(path, f"Unknown field [{name}].", "VALUE_INVALID"))
        elif not is_one_of(value, CONSENT_VALUES):
            out.append(Finding(path, f"{name} must be GRANTED or DENIED.", "VALUE_INVALID"))


def _check_user_data(data: object, out: list[Finding]) -> None:
    if not isinstance(data, dict):
        out.append(Finding("user_data", "user_data must be an object.", "VALUE_INVALID"))
        return
    for name, value in data.items():
        path = f"user_data.{name}"
        if name in ("sha256_email_address", "sha256_phone_number"):
            _check_hashes(value, path, out)
        elif name == "address":
            _check_addresses(value, out)
        else:
            out.append(Finding(path, f"Unknown field [{name}].", "VALUE_INVALID"))


def _check_hashes(value: object, path: str, out: list[Finding]) -> None:
    values = value if isinstance(value, list) else [value]
    if not values or not all(is_sha256(item) for item in values):
        out.append(
            Finding(
                path,
                f"{path} must hold SHA-256 hashes: exactly 64 lowercase hex characters each.",
                "VALUE_INVALID",
            )
        )


def _check_addresses(value: object, out: list[Finding]) -> None:
    addresses = value if isinstance(value, list) else [value]
    for index, address in enumerate(addresses):
        path = f"user_data.address[{index}]"
        if not isinstance(address, dict):
            out.append(Finding(path, "An address must be an object.", "VALUE_INVALID"))
            continue
        for name, item in address.items():
            if name in ADDRESS_HASHED:
                _check_hashes(item, f"{path}.{name}", out)
            elif name not in ADDRESS_TEXT:
                out.append(Finding(f"{path}.{name}", f"Unknown field [{name}].", "VALUE_INVALID"))
            elif not isinstance(item, str):
                out.append(
                    Finding(
                        f"{path}.{name}", f"{name} is sent unhashed, as a string.", "VALUE_INVALID"
                    )
                )


def _check_properties(properties: object, out: list[Finding]) -> None:
    if not isinstance(properties, dict):
        out.append(
            Finding("user_properties", "user_properties must be an object.", "VALUE_INVALID")
        )
        return
    if len(properties) > MAX_USER_PROPERTIES:
        out.append(
            Finding(
                "user_properties",
                f"At most {MAX_USER_PROPERTIES} user properties.",
                "EXCEEDED_MAX_ENTITIES",
            )
        )
    for name, holder in properties.items():
        path = f"user_properties.{name}"
        if not NAME.fullmatch(name) or len(name) > MAX_PROPERTY_NAME:
            out.append(
                Finding(
                    path,
                    f"User property name [{name}] is invalid: letters, digits "
                    f"and _, starting with a letter, at most {MAX_PROPERTY_NAME}.",
                    "NAME_INVALID",
                )
            )
        elif name in RESERVED_PROPERTIES or name.startswith(RESERVED_PREFIXES):
            out.append(Finding(path, f"User property name [{name}] is reserved.", "NAME_RESERVED"))
        value = holder.get("value") if isinstance(holder, dict) else holder
        if not isinstance(holder, dict) or set(holder) - {"value"}:
            out.append(
                Finding(path, 'A user property is an object {"value": ...}.', "VALUE_INVALID")
            )
        elif isinstance(value, str) and len(value) > MAX_PROPERTY_VALUE:
            out.append(
                Finding(
                    f"{path}.value",
                    f"At most {MAX_PROPERTY_VALUE} characters.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            )
        elif value is not None and not isinstance(value, str) and not is_number(value):
            out.append(Finding(f"{path}.value", "Must be a string or a number.", "VALUE_INVALID"))


def _check_event(event: object, index: int, now_ms: int, out: list[Finding]) -> None:
    path = f"events[{index}]"
    if not isinstance(event, dict):
        out.append(
            Finding(path, f"Event at index: [{index}] must be an object.", "VALUE_INVALID", index)
        )
        return
    for name in event:
        if name not in ("name", "params", "timestamp_micros"):
            out.append(
                Finding(f"{path}.{name}", f"Unknown field [{name}].", "VALUE_INVALID", index)
            )
    name = event.get("name")
    if not isinstance(name, str) or not name:
        out.append(
            Finding(
                f"{path}.name",
                f"Event at index: [{index}] requires a name.",
                "VALUE_REQUIRED",
                index,
            )
        )
    elif not NAME.fullmatch(name) or len(name) > MAX_EVENT_NAME:
        out.append(
            Finding(
                f"{path}.name",
                f"Event at index: [{index}] has invalid name "
                f"[{name}]. Names must start with an alphabetic character, use only "
                f"letters, digits and _, and be at most {MAX_EVENT_NAME} long.",
                "NAME_INVALID",
                index,
            )
        )
    elif name in RESERVED_EVENTS or name.startswith(RESERVED_PREFIXES):
        out.append(
            Finding(
                f"{path}.name",
                f"Event at index: [{index}] has name [{name}] which is reserved.",
                "NAME_RESERVED",
                index,
            )
        )
    if "timestamp_micros" in event:
        _check_micros(event["timestamp_micros"], f"{path}.timestamp_micros", now_ms, index, out)
    if "params" in event:
        _check_params(event["params"], path, index, out)


def _check_params(params: object, path: str, index: int, out: list[Finding]) -> None:
    if not isinstance(params, dict):
        out.append(Finding(f"{path}.params", "params must be an object.", "VALUE_INVALID", index))
        return
    if len(params) > MAX_PARAMS:
        out.append(
            Finding(
                f"{path}.params",
                f"Event at index: [{index}] has more than {MAX_PARAMS} params.",
                "EXCEEDED_MAX_ENTITIES",
                index,
            )
        )
    for name, value in params.items():
        where = f"{path}.params.{name}"
        if not NAME.fullmatch(name) or len(name) > MAX_PARAM_NAME:
            out.append(Finding(where, f"Param name [{name}] is invalid.", "NAME_INVALID", index))
        elif name in RESERVED_PARAMS or name.startswith(RESERVED_PREFIXES):
            out.append(Finding(where, f"Param name [{name}] is reserved.", "NAME_RESERVED", index))
        if name == "items":
            _check_items(value, where, index, out)
        elif isinstance(value, str) and len(value) > (
            limit := LONGER_PARAM_VALUES.get(name, MAX_PARAM_VALUE)
        ):
            out.append(
                Finding(
                    where,
                    f"Param [{name}] value is longer than {limit} characters.",
                    "VALUE_OUT_OF_BOUNDS",
                    index,
                )
            )
        elif not isinstance(value, str | bool) and not is_number(value):
            out.append(
                Finding(
                    where,
                    f"Param [{name}] must be a string or a number, got {json_kind(value)}.",
                    "VALUE_INVALID",
                    index,
                )
            )


def _check_items(items: object, path: str, index: int, out: list[Finding]) -> None:
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        out.append(
            Finding(
                path,
                f"items must be an array of at most {MAX_ITEMS} objects.",
                "VALUE_INVALID",
                index,
            )
        )
        return
    for position, item in enumerate(items):
        scalars = isinstance(item, dict) and all(
            isinstance(v, str | bool) or is_number(v) for v in item.values()
        )
        if not scalars:
            out.append(
                Finding(
                    f"{path}[{position}]",
                    "An item must be an object of strings and numbers.",
                    "VALUE_INVALID",
                    index,
                )
            )

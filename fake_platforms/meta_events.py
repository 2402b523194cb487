"""The rules one Meta CAPI event must pass (the `data[i]` objects of a request).

Each problem is an `Issue`; its `code` is the error_subcode to answer with when it is not the
generic `SUB_INVALID`. The first issue of a request decides the answer, and Meta rejects
the whole request for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from config.currencies import ISO_4217
from fake_platforms.checks import (
    Issues,
    at,
    check_hashes,
    is_int,
    is_ip,
    is_number,
    is_one_of,
    json_kind,
    key,
    seconds_problem,
    unknown_keys,
)

__all__ = [
    "MAX_AGE_S",
    "SUB_CUSTOMER_INFO",
    "SUB_FUTURE",
    "SUB_INVALID",
    "SUB_TOO_OLD",
    "check_custom",
    "check_event",
]

SUB_TOO_OLD = "2804003"
SUB_FUTURE = "2804004"
SUB_CUSTOMER_INFO = "2804050"
SUB_INVALID = "2804019"

MAX_AGE_S = 7 * 86400
FUTURE_SKEW_S = 300

ACTION_SOURCES = frozenset(
    {
        "website",
        "app",
        "email",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
EVENT_KEYS = frozenset(
    {
        "event_name",
        "event_time",
        "event_id",
        "action_source",
        "event_source_url",
        "opt_out",
        "user_data",
        "custom_data",
        "data_processing_options",
        "data_processing_options_country",
        "data_processing_options_state",
        "referrer_url",
        "original_event_data",
        "attribution_data",
        "messaging_channel",
        "app_data",
        "advanced_measurement_table",
    }
)
HASHED_KEYS = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")
TEXT_KEYS = (
    "client_user_agent",
    "subscription_id",
    "anon_id",
    "madid",
    "page_scoped_user_id",
    "ctwa_clid",
    "ig_sid",
    "ig_account_id",
    "page_id",
)
ID_KEYS = ("fb_login_id", "lead_id")
USER_KEYS = frozenset((*HASHED_KEYS, *TEXT_KEYS, *ID_KEYS, "client_ip_address", "fbc", "fbp"))
# Any of these identifies a person on its own; otherwise the IP and user agent together must.
IDENTIFYING = frozenset(
    {
        "em",
        "ph",
        "external_id",
        "fbc",
        "fbp",
        "madid",
        "anon_id",
        "fb_login_id",
        "lead_id",
        "subscription_id",
        "ctwa_clid",
        "page_scoped_user_id",
        "ig_sid",
    }
)
FBC = re.compile(r"fb\.[0-2]\.\d{13}\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?")
FBP = re.compile(r"fb\.[0-2]\.\d{13}\.\d+(\.[A-Za-z0-9_-]+)?")
CUSTOM_TEXT = (
    "order_id",
    "content_name",
    "content_category",
    "search_string",
    "status",
    "delivery_category",
)
CONTENT_TYPES = frozenset({"product", "product_group"})


def check_event(event: object, path: str, now_s: int, issues: Issues) -> None:
    """Adds every problem of one event to `issues`."""
    if not isinstance(event, dict):
        issues.add(path, f"must be an object, got {json_kind(event)}")
        return
    for name in event:
        if name not in EVENT_KEYS:
            issues.add(key(path, name), "unknown event parameter")
    name = event.get("event_name")
    if not isinstance(name, str) or not name.strip():
        issues.add(key(path, "event_name"), "is required: a non-empty string")
    _check_time(event.get("event_time"), key(path, "event_time"), now_s, issues)
    if "event_id" in event and (not isinstance(event["event_id"], str) or not event["event_id"]):
        issues.add(key(path, "event_id"), "must be a non-empty string")
    source = event.get("action_source")
    if not is_one_of(source, ACTION_SOURCES):
        issues.add(
            key(path, "action_source"),
            f"is required, one of {', '.join(sorted(ACTION_SOURCES))}",
        )
    _check_urls(event, path, source == "website", issues)
    if "opt_out" in event and not isinstance(event["opt_out"], bool):
        issues.add(key(path, "opt_out"), "must be a boolean")
    if source == "app" and not isinstance(event.get("app_data"), dict):
        issues.add(key(path, "app_data"), "is required for app events: an object")
    _check_processing(event, path, issues)
    _check_user(event.get("user_data"), key(path, "user_data"), source == "website", issues)
    if "custom_data" in event or name == "Purchase":
        check_custom(event.get("custom_data"), key(path, "custom_data"), name, issues)


def _check_time(value: object, path: str, now_s: int, issues: Issues) -> None:
    problem = seconds_problem(value, now_s, max_age_s=MAX_AGE_S, skew_s=FUTURE_SKEW_S)
    if problem is not None:
        kind, message = problem
        issues.add(
            path,
            message,
            {"too_old": SUB_TOO_OLD, "units": SUB_FUTURE, "future": SUB_FUTURE}.get(kind, ""),
        )


def _check_urls(event: Mapping[str, Any], path: str, website: bool, issues: Issues) -> None:
    for name in ("event_source_url", "referrer_url"):
        if name in event and not _is_url(event[name]):
            issues.add(key(path, name), "must be an absolute http(s) URL")
    if website and "event_source_url" not in event:
        issues.add(key(path, "event_source_url"), "is required for website events")


def _is_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _check_processing(event: Mapping[str, Any], path: str, issues: Issues) -> None:
    options = event.get("data_processing_options", [])
    if not isinstance(options, list) or any(option != "LDU" for option in options):
        issues.add(key(path, "data_processing_options"), 'must be [] or ["LDU"]')
    allowed = {
        "data_processing_options_country": (0, 1),
        "data_processing_options_state": (0, 1000),
    }
    for name, values in allowed.items():
        if name in event and (not is_int(event[name]) or event[name] not in values):
            issues.add(key(path, name), f"must be {values[0]} or {values[1]}")


def _check_user(user: object, path: str, website: bool, issues: Issues) -> None:
    if not isinstance(user, dict):
        issues.add(path, f"is required: an object, got {json_kind(user)}")
        return
    for name in user:
        if name not in USER_KEYS:
            issues.add(key(path, name), "unknown customer information parameter")
    for name in HASHED_KEYS:
        if name in user:
            check_hashes(user[name], key(path, name), issues)
    for name in TEXT_KEYS:
        if name in user and (not isinstance(user[name], str) or not user[name]):
            issues.add(key(path, name), "must be a non-empty string")
    for name in ID_KEYS:
        if name in user and not (isinstance(user[name], str) or is_int(user[name])):
            issues.add(key(path, name), "must be a string or an integer")
    if "client_ip_address" in user and not is_ip(user["client_ip_address"]):
        issues.add(key(path, "client_ip_address"), "must be an IPv4 or IPv6 address")
    for name, pattern in (("fbc", FBC), ("fbp", FBP)):
        value = user.get(name)
        if name in user and (not isinstance(value, str) or not pattern.fullmatch(value)):
            issues.add(key(path, name), f"must look like fb.1.<ms>.<{name} value>")
    if website and "client_user_agent" not in user:
        issues.add(key(path, "client_user_agent"), "is required for website events")
    pair = "client_ip_address" in user and "client_user_agent" in user
    if not pair and not IDENTIFYING.intersection(user):
        issues.add(
            path,
            "needs at least one customer information parameter (em, ph, external_id, fbc, "
            "fbp, ... or client_ip_address with client_user_agent)",
            SUB_CUSTOMER_INFO,
        )


def check_custom(custom: object, path: str, event_name: object, issues: Issues) -> None:
    """`custom_data`, which the browser pixel sends as `cd` with the same rules."""
    if not isinstance(custom, dict):
        issues.add(path, f"must be an object, got {json_kind(custom)}")
        return
    if "value" in custom and not is_number(custom["value"]):
        issues.add(key(path, "value"), "must be a number")
    if "currency" in custom:
        currency = custom["currency"]
        if not isinstance(currency, str) or currency.upper() not in ISO_4217:
            issues.add(key(path, "currency"), "must be an ISO 4217 currency code")
    if event_name == "Purchase":
        for name in ("value", "currency"):
            if name not in custom:
                issues.add(key(path, name), "is required for Purchase events")
    for name in CUSTOM_TEXT:
        if name in custom and not isinstance(custom[name], str):
            issues.add(key(path, name), "must be a string")
    for name, check, wanted in (
        ("num_items", is_int, "an integer"),
        ("predicted_ltv", is_number, "a number"),
    ):
        if name in custom and not check(custom[name]):
            issues.add(key(path, name), f"must be {wanted}")
    if "content_type" in custom and not is_one_of(custom["content_type"], CONTENT_TYPES):
        issues.add(key(path, "content_type"), "must be product or product_group")
    ids = custom.get("content_ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        issues.add(key(path, "content_ids"), "must be an array of strings")
    if "contents" in custom:
        _check_contents(custom["contents"], key(path, "contents"), issues)


def _check_contents(contents: object, path: str, issues: Issues) -> None:
    if not isinstance(contents, list):
        issues.add(path, "must be an array of objects")
        return
    for index, item in enumerate(contents):
        item_path = at(path, index)
        if not isinstance(item, dict):
            issues.add(item_path, "must be an object")
            continue
        unknown_keys(
            item,
            (
                "id",
                "quantity",
                "item_price",
                "delivery_category",
                "title",
                "description",
                "brand",
                "category",
            ),
            item_path,
            issues,
        )
        if not isinstance(item.get("id"), str):
            issues.add(key(item_path, "id"), "is required: a string")
        if "quantity" in item and not is_int(item["quantity"]):
            issues.add(key(item_path, "quantity"), "must be an integer")
        if "item_price" in item and not is_number(item["item_price"]):
            issues.add(key(item_path, "item_price"), "must be a number")

"""Hit schema v1: parse a `/collect` body and validate each hit strictly and cheaply.

Every problem is reported as `(field, reason)` so the loader author can act on it; a batch
keeps its good hits when some are bad. Validation never raises on any JSON value; only a
body that cannot be read as hits at all raises (`BodyError`, shared with the Fire API).
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeGuard

import orjson

from config.currencies import ISO_4217
from container.accept_body import BodyError
from variables.hit import CLICK_FIELDS, CONSENT_FIELDS, DATA_FIELDS, USER_FIELDS

__all__ = [
    "MAX_BATCH",
    "MAX_BODY_BYTES",
    "parse_body",
    "validate_hit",
]

MAX_BODY_BYTES = 64 * 1024
MAX_BATCH = 50

_EVENT_NAME = re.compile(r"[a-z0-9_]{1,40}")
_EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_CLICK_ID = re.compile(r"[\x21-\x7e]{1,512}")
_CUSTOM_KEY = re.compile(r"[A-Za-z0-9_]{1,40}")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,4}")

# Milliseconds since the epoch; the bounds catch seconds or microseconds sent by mistake.
_TS_MIN = 946_684_800_000  # 2000-01-01
_TS_MAX = 4_102_444_800_000  # 2100-01-01
_MAX_INT = 2**53  # beyond this JavaScript numbers stop being exact

_CONSENT_VALUES = ("granted", "denied")
_CONSENT_SOURCES = ("tcf", "gcm", "api")
USER_KEYS = USER_FIELDS
CLICK_KEYS = CLICK_FIELDS
TOP_LEVEL = frozenset(
    {"v", "event", "event_id", "ts", "page", "consent", "user", "click", "data", "custom"}
)

Errors = list[tuple[str, str]]


def parse_body(body: bytes) -> list[Any]:
    """Decode a JSON body into a list of candidate hits (a single object is a batch of one)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError("body", f"not valid UTF-8 (byte {exc.start})") from None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BodyError(
            "body", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        if not value:
            raise BodyError("body", "empty batch: send at least one hit")
        if len(value) > MAX_BATCH:
            raise BodyError(
                "body", f"batch of {len(value)} hits; at most {MAX_BATCH} per request", 413
            )
        return value
    raise BodyError("body", "must be a JSON object (one hit) or an array of hits")


# The checks below test exact types (`type(x) is dict`), the cheapest test for JSON values
# from orjson, which never yields subclasses. The helpers that test a type return a
# TypeGuard, so the type checker knows what the caller holds after a True: an annotation,
# no work per hit. A TypeGuard narrows its first argument, so the value comes first. A JSON
# object's keys are always strings.


def _is_number(value: object) -> TypeGuard[int | float]:
    return (type(value) is int and -_MAX_INT <= value <= _MAX_INT) or (
        type(value) is float and math.isfinite(value)
    )


def _string(value: object, errors: Errors, field: str, max_len: int) -> TypeGuard[str]:
    if type(value) is not str:
        errors.append((field, "must be a string"))
        return False
    if len(value) > max_len:
        errors.append((field, f"longer than {max_len} characters"))
        return False
    return True


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _key(key: str) -> str:
    """A client-chosen key as it may appear in an error: anything unusual (long, odd
    characters, possibly an email) is not echoed into responses and logs."""
    return key if _PLAIN_KEY.fullmatch(key) and "@" not in key else "<unrecognised key>"


def _object(
    value: object, errors: Errors, field: str, allowed: frozenset[str]
) -> TypeGuard[dict[str, object]]:
    if type(value) is not dict:
        errors.append((field, "must be an object"))
        return False
    if not allowed.issuperset(value):
        errors.extend((f"{field}.{_key(key)}", "unknown field") for key in value.keys() - allowed)
    return True


def _url(value: object, errors: Errors, field: str, *, allow_empty: bool) -> None:
    if not _string(value, errors, field, 2048):
        return
    if allow_empty and value == "":
        return
    if not value.startswith(("https://", "http://")):
        errors.append((field, "must be an absolute http(s) URL"))


def _check_page(errors: Errors, page: object) -> None:
    if not _object(page, errors, "page", frozenset({"url", "referrer", "title", "locale"})):
        return
    if "url" in page:
        _url(page["url"], errors, "page.url", allow_empty=False)
    if "referrer" in page:
        _url(page["referrer"], errors, "page.referrer", allow_empty=True)
    if "title" in page:
        _string(page["title"], errors, "page.title", 512)
    if "locale" in page:
        locale = page["locale"]
        if _string(locale, errors, "page.locale", 35) and not _LOCALE.fullmatch(locale):
            errors.append(("page.locale", "must be a BCP 47 language tag such as 'de-CH'"))


_CONSENT_KEYS = CONSENT_FIELDS


def _check_consent(errors: Errors, consent: object) -> None:
    if not _object(consent, errors, "consent", _CONSENT_KEYS):
        return
    for key in ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"):
        if key in consent and consent[key] not in _CONSENT_VALUES:
            errors.append((f"consent.{key}", "must be 'granted' or 'denied'"))
    for key in ("gdpr_applies", "gpc"):
        if key in consent and type(consent[key]) is not bool:
            errors.append((f"consent.{key}", "must be true or false"))
    if "tcf" in consent:
        tcf = consent["tcf"]
        if _string(tcf, errors, "consent.tcf", 8192) and not re.fullmatch(r"[A-Za-z0-9_.-]+", tcf):
            errors.append(("consent.tcf", "must be a base64url TC string"))
    if "source" in consent and consent["source"] not in _CONSENT_SOURCES:
        errors.append(("consent.source", "must be one of 'tcf', 'gcm', 'api'"))


def _check_user(errors: Errors, user: object) -> None:
    if not _object(user, errors, "user", USER_KEYS):
        return
    for key, value in user.items():
        if key in USER_KEYS and (type(value) is not str or not _SHA256_HEX.fullmatch(value)):
            errors.append(
                (f"user.{key}", "must be a lowercase hex SHA-256; plaintext PII is refused")
            )


def _check_click(errors: Errors, click: object) -> None:
    if not _object(click, errors, "click", CLICK_KEYS):
        return
    for key, value in click.items():
        if key in CLICK_KEYS and (type(value) is not str or not _CLICK_ID.fullmatch(value)):
            errors.append((f"click.{key}", "must be 1-512 printable ASCII characters"))


_DATA_STRINGS = {
    "transaction_id": 128, "content_name": 256, "content_type": 64,
    "content_category": 256, "search_string": 256, "status": 64, "lead_id": 128,
}  # fmt: skip
_DATA_KEYS = DATA_FIELDS


def _check_contents(errors: Errors, contents: object) -> None:
    if type(contents) is not list:
        errors.append(("data.contents", "must be a list"))
        return
    if len(contents) > 100:
        errors.append(("data.contents", "more than 100 items"))
        return
    allowed = frozenset({"id", "quantity", "item_price"})
    for i, item in enumerate(contents):
        field = f"data.contents[{i}]"
        if not _object(item, errors, field, allowed):
            continue
        if "id" not in item:
            errors.append((f"{field}.id", "required"))
        else:
            _string(item["id"], errors, f"{field}.id", 128)
        quantity = item.get("quantity", 1)
        if type(quantity) is not int or not 1 <= quantity <= 1_000_000:
            errors.append((f"{field}.quantity", "must be a whole number from 1 to 1000000"))
        if "item_price" in item and not (
            _is_number(item["item_price"]) and item["item_price"] >= 0
        ):
            errors.append((f"{field}.item_price", "must be a number ≥ 0"))


def _check_data(errors: Errors, data: object) -> None:
    if not _object(data, errors, "data", _DATA_KEYS):
        return
    for key, value in data.items():
        max_len = _DATA_STRINGS.get(key)
        if max_len is not None:
            _string(value, errors, f"data.{key}", max_len)
    if "value" in data:
        value = data["value"]
        if not _is_number(value):
            errors.append(("data.value", "must be a number"))
        elif value < 0:
            errors.append(("data.value", "must be ≥ 0"))
    if "currency" in data:
        currency = data["currency"]
        if type(currency) is not str or currency not in ISO_4217:
            errors.append(("data.currency", "must be an active ISO 4217 code such as 'EUR'"))
    if "content_ids" in data:
        ids = data["content_ids"]
        if type(ids) is not list or len(ids) > 100:
            errors.append(("data.content_ids", "must be a list of at most 100 strings"))
        else:
            for i, item in enumerate(ids):
                _string(item, errors, f"data.content_ids[{i}]", 128)
    if "contents" in data:
        _check_contents(errors, data["contents"])
    if "num_items" in data:
        num = data["num_items"]
        if type(num) is not int or not 0 <= num <= 1_000_000:
            errors.append(("data.num_items", "must be a whole number from 0 to 1000000"))


def _custom_scalar(errors: Errors, field: str, value: object) -> bool:
    if value is None or type(value) is bool or _is_number(value):
        return True
    if type(value) is not str:
        errors.append((field, "must be a string, number, boolean or null"))
        return False
    return _string(value, errors, field, 1024)


_KEY_RULE = "key must be 1-40 characters of A-Z, a-z, 0-9, _"


def _check_custom(errors: Errors, custom: object) -> None:
    if type(custom) is not dict:
        errors.append(("custom", "must be an object"))
        return
    if len(custom) > 50:
        errors.append(("custom", f"{len(custom)} keys; at most 50"))
        return
    for key, value in custom.items():
        field = f"custom.{_key(key)}"
        if not _CUSTOM_KEY.fullmatch(key):
            errors.append((field, _KEY_RULE))
        elif type(value) is list:
            if len(value) > 50:
                errors.append((field, "more than 50 items"))
            else:
                for i, item in enumerate(value):
                    _custom_scalar(errors, f"{field}[{i}]", item)
        elif type(value) is dict:
            if len(value) > 50:
                errors.append((field, "more than 50 keys"))
                continue
            for sub_key, item in value.items():
                if not _CUSTOM_KEY.fullmatch(sub_key):
                    errors.append((f"{field}.{_key(sub_key)}", _KEY_RULE))
                else:
                    _custom_scalar(errors, f"{field}.{sub_key}", item)
        else:
            _custom_scalar(errors, field, value)


def validate_hit(hit: object) -> Errors:
    """All problems of one candidate hit; an empty list means it is valid schema v1."""
    if type(hit) is not dict:
        return [("hit", "must be a JSON object")]
    errors: Errors = []
    if not TOP_LEVEL.issuperset(hit):
        errors.extend((_key(key), "unknown field") for key in hit.keys() - TOP_LEVEL)
    if "v" not in hit:
        errors.append(("v", "required"))
    elif hit["v"] != 1 or type(hit["v"]) is not int:
        errors.append(("v", "must be 1 (the only schema version)"))
    event = hit.get("event")
    if event is None:
        errors.append(("event", "required"))
    elif type(event) is not str or not _EVENT_NAME.fullmatch(event):
        errors.append(
            ("event", "must be a canonical or custom event name matching [a-z0-9_]{1,40}")
        )
    event_id = hit.get("event_id")
    if event_id is None:
        errors.append(("event_id", "required"))
    elif type(event_id) is not str or not _EVENT_ID.fullmatch(event_id):
        errors.append(("event_id", "must be 8-64 characters of A-Z, a-z, 0-9, '.', '_', ':', '-'"))
    if "ts" in hit:
        ts = hit["ts"]
        if type(ts) is not int or not _TS_MIN <= ts <= _TS_MAX:
            errors.append(("ts", "must be whole milliseconds since the Unix epoch"))
    if "page" in hit:
        _check_page(errors, hit["page"])
    if "consent" in hit:
        _check_consent(errors, hit["consent"])
    if "user" in hit:
        _check_user(errors, hit["user"])
    if "click" in hit:
        _check_click(errors, hit["click"])
    if "data" in hit:
        _check_data(errors, hit["data"])
    if "custom" in hit:
        _check_custom(errors, hit["custom"])
    return errors

"""What Google Ads checks in an `uploadClickConversions` body, in its two stages.

First the proto3 JSON parse: unknown names, wrong JSON types, bad enum values and two
members of one oneof refuse the whole request (`shape_violations`). Then each conversion on
its own: those problems only fail their row and come back in `partialFailureError`
(`row_errors`). Field paths use the proto (snake_case) names, as the API's messages do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from fake_platforms.checks import (
    is_currency,
    is_number,
    is_one_of,
    is_sha256,
    json_kind,
)

__all__ = ["MAX_CONVERSIONS", "AdsError", "row_errors", "shape_violations", "snake"]

MAX_CONVERSIONS = 2000
MAX_IDENTIFIERS = 5
MAX_ORDER_ID = 64
MAX_AGE_S = 90 * 86400
TOO_RECENT_S = 6 * 3600  # a click younger than this cannot take a conversion yet
FUTURE_SKEW_S = 300
ENUMS = {
    "ConsentStatusEnum.ConsentStatus": ("UNSPECIFIED", "UNKNOWN", "GRANTED", "DENIED"),
    "ConversionEnvironmentEnum.ConversionEnvironment": ("UNSPECIFIED", "UNKNOWN", "APP", "WEB"),
    "UserIdentifierSourceEnum.UserIdentifierSource": (
        "UNSPECIFIED",
        "UNKNOWN",
        "FIRST_PARTY",
        "THIRD_PARTY",
    ),
}
MESSAGES: dict[str, dict[str, str]] = {
    "UploadClickConversionsRequest": {
        "customerId": "string",
        "conversions": "list:ClickConversion",
        "partialFailure": "bool",
        "validateOnly": "bool",
        "debugEnabled": "bool",
        "jobId": "int32",
    },
    "ClickConversion": {
        "gclid": "string",
        "gbraid": "string",
        "wbraid": "string",
        "conversionAction": "string",
        "conversionDateTime": "string",
        "conversionValue": "double",
        "currencyCode": "string",
        "orderId": "string",
        "externalAttributionData": "struct",
        "customVariables": "array",
        "cartData": "struct",
        "userIdentifiers": "list:UserIdentifier",
        "conversionEnvironment": "enum:ConversionEnvironmentEnum.ConversionEnvironment",
        "consent": "message:Consent",
        "userIpAddress": "string",
        "sessionAttributesEncoded": "string",
        "sessionAttributesKeyValuePairs": "struct",
    },
    "UserIdentifier": {
        "hashedEmail": "string",
        "hashedPhoneNumber": "string",
        "mobileId": "string",
        "thirdPartyUserId": "string",
        "addressInfo": "struct",
        "userIdentifierSource": "enum:UserIdentifierSourceEnum.UserIdentifierSource",
    },
    "Consent": {
        "adUserData": "enum:ConsentStatusEnum.ConsentStatus",
        "adPersonalization": "enum:ConsentStatusEnum.ConsentStatus",
    },
}
ONEOFS = {
    "UserIdentifier": (
        "hashedEmail",
        "hashedPhoneNumber",
        "mobileId",
        "thirdPartyUserId",
        "addressInfo",
    )
}
PACKAGES = {"UploadClickConversionsRequest": "services", "ClickConversion": "services"}
SCALARS = {
    "string": "TYPE_STRING",
    "double": "TYPE_DOUBLE",
    "bool": "TYPE_BOOL",
    "int32": "TYPE_INT32",
    "struct": "TYPE_MESSAGE",
    "array": "TYPE_MESSAGE",
}
ACTION = re.compile(r"customers/(\d{10})/conversionActions/(\d+)")
DATE_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})([+-])(\d{2}):(\d{2})")
CLICK_ID = re.compile(r"[A-Za-z0-9_-]+")

Fail = Callable[..., None]


def snake(name: str) -> str:
    """The proto field name of a JSON name: `conversionAction` -> `conversion_action`."""
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def shape_violations(body: dict[str, Any], version: str) -> list[tuple[str, str]]:
    """Proto3 JSON parse errors as (field, description); any of them refuses the request."""
    out: list[tuple[str, str]] = []
    _walk(body, "UploadClickConversionsRequest", "", version, out)
    return out


def _walk(
    obj: dict[str, Any], message: str, path: str, version: str, out: list[tuple[str, str]]
) -> None:
    fields = MESSAGES[message]
    oneof = ONEOFS.get(message, ())
    chosen: str | None = None
    for name, value in obj.items():
        tag = fields.get(name)
        if tag is None:
            where = f" at '{path}'" if path else ""
            hint = " (this fake takes lowerCamelCase names only)" if "_" in name else ""
            out.append(
                (
                    path,
                    f'Invalid JSON payload received. Unknown name "{name}"{where}: '
                    f"Cannot find field.{hint}",
                )
            )
            continue
        if name in oneof and value is not None:
            if chosen is not None:
                out.append(
                    (
                        path,
                        f"Invalid JSON payload received. Oneof field 'identifier' is "
                        f"already set. Cannot set '{snake(name)}'",
                    )
                )
            chosen = name
        _value(value, tag, _join(path, snake(name)), version, out)


def _value(value: object, tag: str, path: str, version: str, out: list[tuple[str, str]]) -> None:
    if value is None:
        return  # proto3 JSON: null leaves the field at its default
    kind, _, arg = tag.partition(":")
    if kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if item is None:
                out.append(
                    (item_path, f"Invalid value at '{item_path}' ({_type(arg, version)}), null")
                )
            else:
                _value(item, f"message:{arg}", item_path, version, out)
        return
    if kind == "message" and isinstance(value, dict):
        _walk(value, arg, path, version, out)
        return
    valid = {
        "string": isinstance(value, str),
        "double": is_number(value),
        "bool": isinstance(value, bool),
        "int32": _is_int32(value),
        "struct": isinstance(value, dict),
        "array": isinstance(value, list),
        "enum": is_one_of(value, ENUMS.get(arg, ())),
    }.get(kind, False)
    if valid:
        return
    type_name = _type(arg, version) if kind in ("list", "message", "enum") else SCALARS[kind]
    shown = orjson.dumps(value).decode() if not isinstance(value, dict | list) else json_kind(value)
    out.append((path, f"Invalid value at '{path}' ({type_name}), {shown}"))


def _type(name: str, version: str) -> str:
    """The type URL Google names in a parse error, e.g. for `Consent` or an enum."""
    package = "enums" if "Enum." in name else PACKAGES.get(name, "common")
    return f"type.googleapis.com/google.ads.googleads.{version}.{package}.{name}"


def _is_int32(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31


@dataclass(frozen=True, slots=True)
class AdsError:
    """One row's failure: the errorCode member and value, a message and where it points."""

    index: int
    kind: str
    code: str
    message: str
    fields: tuple[tuple[str, int | None], ...]
    trigger: str | None = None


def row_errors(
    conversions: list[dict[str, Any]],
    customer: str,
    actions: Collection[str],
    now_s: int,
    used_orders: Collection[tuple[str, str]],
    clicks: Mapping[str, int],
) -> list[AdsError]:
    """Every row-level failure; rows without one are accepted. `clicks` are the known
    gclids' click times (Unix ms)."""
    errors: list[AdsError] = []
    for index, conversion in enumerate(conversions):
        errors.extend(_row(index, conversion, customer, actions, now_s, clicks))
    pairs = Counter(_order_key(c) for c in conversions)
    for index, conversion in enumerate(conversions):
        pair = _order_key(conversion)
        if pair is None:
            continue
        if pairs[pair] > 1:
            errors.append(
                AdsError(
                    index,
                    "conversionUploadError",
                    "DUPLICATE_ORDER_ID",
                    "Imported events include multiple conversions with the same "
                    "order ID and were not processed.",
                    (("order_id", None),),
                    pair[1],
                )
            )
        elif pair in used_orders:
            errors.append(
                AdsError(
                    index,
                    "conversionUploadError",
                    "ORDER_ID_ALREADY_IN_USE",
                    "The imported event includes an order ID that was previously "
                    "recorded, so the event was not processed.",
                    (("order_id", None),),
                    pair[1],
                )
            )
    return sorted(errors, key=lambda e: e.index)


def _order_key(conversion: dict[str, Any]) -> tuple[str, str] | None:
    order, action = conversion.get("orderId"), conversion.get("conversionAction")
    if not order or not action:
        return None
    return action, order


def _row(
    index: int,
    c: dict[str, Any],
    customer: str,
    actions: Collection[str],
    now_s: int,
    clicks: Mapping[str, int],
) -> list[AdsError]:
    out: list[AdsError] = []

    def fail(
        kind: str,
        code: str,
        message: str,
        *fields: tuple[str, int | None],
        trigger: str | None = None,
    ) -> None:
        out.append(AdsError(index, kind, code, message, fields, trigger))

    action = c.get("conversionAction")
    match = ACTION.fullmatch(action) if action else None
    if not action:
        fail(
            "fieldError",
            "REQUIRED",
            "The required field was not present.",
            ("conversion_action", None),
        )
    elif match is None:
        fail(
            "requestError",
            "RESOURCE_NAME_MALFORMED",
            "The resource name is malformed.",
            ("conversion_action", None),
            trigger=action,
        )
    elif match.group(1) != customer or match.group(2) not in actions:
        fail(
            "conversionUploadError",
            "NO_CONVERSION_ACTION_FOUND",
            "The conversion action specified in the upload request cannot be found. Make sure "
            "it's available in this account.",
            ("conversion_action", None),
            trigger=action,
        )
    _check_time(c.get("conversionDateTime"), now_s, fail)
    _check_click_ids(c, fail)
    clicked_ms = clicks.get(c.get("gclid") or "")
    if clicked_ms is not None and now_s - clicked_ms // 1000 < TOO_RECENT_S:
        fail(
            "conversionUploadError",
            "TOO_RECENT_EVENT",
            "The click associated with the given identifier or iOS URL parameter occurred "
            "less than 6 hours ago. Retry after 6 hours have passed.",
            ("gclid", None),
            trigger=c["gclid"],
        )
    if (c.get("consent") or {}).get("adPersonalization") is not None:
        # Consent.ad_personalization "can only be set for OfflineUserDataJobService and
        # UserDataService" (Google's reference); the exact error is not documented
        fail(
            "fieldError",
            "VALUE_MUST_BE_UNSET",
            "The field's value must be unset.",
            ("consent", None),
            ("ad_personalization", None),
        )
    _check_identifiers(c.get("userIdentifiers") or [], fail)
    currency = c.get("currencyCode")
    if currency and not is_currency(currency):
        fail(
            "currencyCodeError",
            "UNSUPPORTED",
            "The currency code is not supported.",
            ("currency_code", None),
            trigger=currency,
        )
    order = c.get("orderId")
    if order and len(order) > MAX_ORDER_ID:
        fail("stringLengthError", "TOO_LONG", "Too long.", ("order_id", None))
    return out


def _check_time(value: str | None, now_s: int, fail: Fail) -> None:
    where = ("conversion_date_time", None)
    if not value:
        fail("fieldError", "REQUIRED", "The required field was not present.", where)
        return
    parts = DATE_TIME.fullmatch(value)
    if parts is None:
        fail(
            "dateError",
            "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET",
            "The string date time's format should be yyyy-mm-dd hh:mm:ss+|-hh:mm.",
            where,
            trigger=value,
        )
        return
    y, mo, d, h, mi, s, sign, oh, om = parts.groups()
    try:
        offset = dt.timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        when = dt.datetime(
            int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=dt.timezone(offset)
        )
    except ValueError:
        fail(
            "dateError",
            "INVALID_FIELD_VALUES_IN_DATE_TIME",
            "Given field values do not correspond to a valid date time.",
            where,
            trigger=value,
        )
        return
    seconds = when.timestamp()
    if seconds > now_s + FUTURE_SKEW_S:
        fail(
            "dateError",
            "LATER_THAN_MAXIMUM_DATE",
            "Date is after allowed maximum.",
            where,
            trigger=value,
        )
    elif seconds < now_s - MAX_AGE_S:
        fail(
            "conversionUploadError",
            "EXPIRED_EVENT",
            "The imported event can't be recorded because its click occurred before this "
            "conversion's click-through window.",
            where,
            trigger=value,
        )


def _check_click_ids(c: dict[str, Any], fail: Fail) -> None:
    present = [name for name in ("gclid", "gbraid", "wbraid") if c.get(name)]
    if "gbraid" in present and "wbraid" in present:
        fail(
            "conversionUploadError",
            "GBRAID_WBRAID_BOTH_SET",
            "Can't use both gbraid and wbraid parameters. Use only 1 and try again.",
            ("wbraid", None),
        )
    elif "gclid" in present and len(present) > 1:
        fail(
            "fieldError",
            "VALUE_MUST_BE_UNSET",
            "The field's value must be unset: set only one of gclid, gbraid or wbraid.",
            (present[1], None),
        )
    for name in present:
        if not CLICK_ID.fullmatch(c[name]):
            fail(
                "conversionUploadError",
                f"UNPARSEABLE_{name.upper()}",
                f"The imported {name} could not be decoded.",
                (name, None),
            )
    if not present and not c.get("userIdentifiers"):
        fail(
            "fieldError",
            "REQUIRED",
            "A conversion needs a gclid, gbraid, wbraid or user identifiers.",
            ("gclid", None),
        )


def _check_identifiers(identifiers: list[dict[str, Any]], fail: Fail) -> None:
    if len(identifiers) > MAX_IDENTIFIERS:
        fail("collectionSizeError", "TOO_MANY", "Too many elements.", ("user_identifiers", None))
    for index, identifier in enumerate(identifiers):
        for name, value in identifier.items():
            if name == "userIdentifierSource" or value is None:
                continue
            where = (("user_identifiers", index), (snake(name), None))
            if name not in ("hashedEmail", "hashedPhoneNumber"):
                fail(
                    "conversionUploadError",
                    "UNSUPPORTED_USER_IDENTIFIER",
                    "The provided user identifiers are not supported. Use only hashed email "
                    "or phone number and try again.",
                    *where,
                )
            elif not is_sha256(value):
                fail(
                    "conversionUploadError",
                    "INVALID_USER_IDENTIFIER",
                    "Make sure you hash user provided data using SHA-256 and ensure you are "
                    "normalizing according to the guidelines.",
                    *where,
                )

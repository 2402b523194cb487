"""The beacons the fake pixel libraries send, one per vendor, checked like the real ones.

Each keeps the field names of the vendor's own pixel request (Meta's `/tr` `id`, `ev`,
`eid`, `cd`; TikTok's `/api/v2/pixel` `event`, `event_id`, `context.pixel.code`; LinkedIn's
`/collect` `pid`, `conversionId`, `eventId`; Google's conversion and `/g/collect` hits) as
one JSON object, and answers in that vendor's error shape. The ids must be known to
`FakeAccounts`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fake_platforms import ga4, google_ads, linkedin, meta, tiktok
from fake_platforms.accounts import FakeAccounts
from fake_platforms.beacon import (
    Beacon,
    check_ms,
    check_text,
    check_user_data,
)
from fake_platforms.checks import (
    Issues,
    is_currency,
    is_int,
    is_number,
    json_kind,
    key,
    unknown_keys,
)
from fake_platforms.exchange import Reply, random_id
from fake_platforms.ga4_rules import (
    MAX_EVENT_NAME,
    MAX_ITEMS,
    MAX_PARAM_NAME,
    MAX_PARAM_VALUE,
    MAX_PARAMS,
    NAME,
    RESERVED_EVENTS,
    RESERVED_PARAMS,
    RESERVED_PREFIXES,
)
from fake_platforms.meta_events import HASHED_KEYS, check_custom

__all__ = ["GA4", "GOOGLE_ADS", "LINKEDIN", "LINKEDIN_PAGE_VIEW", "META", "TIKTOK"]

DIGITS = re.compile(r"\d+")
SEND_TO = re.compile(r"(AW-\d+)/([A-Za-z0-9_-]+)")
STREAM = re.compile(r"G-[A-Z0-9]+")
GCS = re.compile(r"G1[01]{2}")
LINKEDIN_PAGE_VIEW = "page_view"  # the record's event_name; the beacon itself has none
GOOGLE_USER_DATA = ("sha256_email_address", "sha256_phone_number")
TIKTOK_USER = ("email", "phone_number", "external_id")
MAX_ORDER_ID = 64


# ---- Meta: POST /meta/tr ---------------------------------------------------------------

META_KEYS = (
    "id", "ev", "eid", "cd", "ud", "dl", "rl", "ts", "it", "v", "r", "ec", "dpo", "dpoco",
    "dpost",
)  # fmt: skip


def _meta_answer(status: int, message: str, reasons: list[str]) -> Reply:
    error = {
        "message": f"(#100) {message}",
        "type": "OAuthException",
        "code": 100,
        "fbtrace_id": random_id(),
    }
    return Reply(status, {"error": error}, reasons=reasons)


def _meta_check(body: dict[str, Any], issues: Issues) -> None:
    unknown_keys(body, META_KEYS, "", issues)
    if not isinstance(body.get("id"), str) or not DIGITS.fullmatch(body["id"]):
        issues.add("id", "is required: the pixel id, a string of digits")
    check_text(body, "ev", "", issues, required=True, max_len=50)
    check_text(body, "eid", "", issues)
    if "cd" in body:
        check_custom(body["cd"], "cd", body.get("ev"), issues)
    if "ud" in body:
        check_user_data(body["ud"], "ud", HASHED_KEYS, issues, lists=False)
    check_text(body, "dl", "", issues, required=True)
    check_text(body, "rl", "", issues, required=True, empty=True)
    check_ms(body, "ts", issues)
    check_ms(body, "it", issues, required=False)
    check_text(body, "v", "", issues)
    check_text(body, "r", "", issues)
    if "ec" in body and not (is_int(body["ec"]) and body["ec"] >= 0):
        issues.add("ec", "must be a whole number from 0")
    dpo = body.get("dpo", [])
    if not isinstance(dpo, list) or not all(isinstance(item, str) for item in dpo):
        issues.add("dpo", "must be an array of strings")
    for name in ("dpoco", "dpost"):
        if name in body and not is_int(body[name]):
            issues.add(name, f"must be an integer, got {json_kind(body[name])}")


def _meta_refuse(body: dict[str, Any], accounts: FakeAccounts) -> str | None:
    if body["id"] in accounts.meta_pixels:
        return None
    return (
        f"Object with ID '{body['id']}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation."
    )


META = Beacon(
    api=meta.PLATFORM,
    check=_meta_check,
    refuse=_meta_refuse,
    identify=lambda body: (body.get("eid"), body["ev"], body["id"]),
    answer=_meta_answer,
    refused_status=400,
    accepted=lambda: Reply(200),
)


# ---- TikTok: POST /tiktok/pixel -------------------------------------------------------

TIKTOK_KEYS = ("event", "event_id", "message_id", "timestamp", "context", "properties")
CONTEXT_KEYS = ("pixel", "page", "user", "library")


def _tiktok_answer(status: int, message: str, reasons: list[str]) -> Reply:
    code = tiktok.CODE_PERMISSION if status == 403 else tiktok.CODE_PARAM
    body = {"code": code, "message": message, "request_id": random_id(), "data": {}}
    return Reply(status, body, reasons=reasons)


def _tiktok_check(body: dict[str, Any], issues: Issues) -> None:
    unknown_keys(body, TIKTOK_KEYS, "", issues)
    check_text(body, "event", "", issues, required=True)
    check_text(body, "event_id", "", issues)
    check_text(body, "message_id", "", issues, required=True)
    stamp = body.get("timestamp")
    if not isinstance(stamp, str) or _iso_time(stamp) is None:
        issues.add("timestamp", "is required: an ISO 8601 time with a zone, like Date.toISOString")
    context = body.get("context")
    if not isinstance(context, dict):
        issues.add("context", f"is required: an object, got {json_kind(context)}")
    else:
        _tiktok_context(context, issues)
    if "properties" in body:
        tiktok.check_properties(body["properties"], "properties", issues)


def _iso_time(text: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _tiktok_context(context: dict[str, Any], issues: Issues) -> None:
    unknown_keys(context, CONTEXT_KEYS, "context", issues)
    pixel = context.get("pixel")
    if not isinstance(pixel, dict):
        issues.add("context.pixel", "is required: an object with code")
    else:
        unknown_keys(pixel, ("code",), "context.pixel", issues)
        check_text(pixel, "code", "context.pixel", issues, required=True)
    page = context.get("page")
    if not isinstance(page, dict):
        issues.add("context.page", "is required: an object with url and referrer")
    else:
        unknown_keys(page, ("url", "referrer"), "context.page", issues)
        check_text(page, "url", "context.page", issues, required=True)
        check_text(page, "referrer", "context.page", issues, required=True, empty=True)
    if "user" in context:
        check_user_data(context["user"], "context.user", TIKTOK_USER, issues, lists=False)
    library = context.get("library", {})
    if not isinstance(library, dict):
        issues.add("context.library", "must be an object with name and version")
    else:
        unknown_keys(library, ("name", "version"), "context.library", issues)
        for name in ("name", "version"):
            check_text(library, name, "context.library", issues)


def _tiktok_refuse(body: dict[str, Any], accounts: FakeAccounts) -> str | None:
    code = body["context"]["pixel"]["code"]
    if code in accounts.tiktok_pixels:
        return None
    return f"No permission to operate pixel code: {code}."


TIKTOK = Beacon(
    api=tiktok.PLATFORM,
    check=_tiktok_check,
    refuse=_tiktok_refuse,
    identify=lambda body: (body.get("event_id"), body["event"], body["context"]["pixel"]["code"]),
    answer=_tiktok_answer,
    refused_status=403,
    accepted=lambda: Reply(200, {"code": 0, "message": "OK", "request_id": random_id()}),
)


# ---- LinkedIn: POST /linkedin/collect -------------------------------------------------

LINKEDIN_KEYS = ("pid", "conversionId", "eventId", "fmt", "url", "time", "v")


def _linkedin_answer(status: int, message: str, reasons: list[str]) -> Reply:
    return Reply(status, {"message": message, "status": status}, reasons=reasons)


def _linkedin_check(body: dict[str, Any], issues: Issues) -> None:
    unknown_keys(body, LINKEDIN_KEYS, "", issues)
    if not isinstance(body.get("pid"), str) or not DIGITS.fullmatch(body["pid"]):
        issues.add("pid", "is required: the partner id, a string of digits")
    if "conversionId" in body:
        conversion = body["conversionId"]
        if not is_int(conversion) or conversion < 1:
            issues.add("conversionId", f"must be a positive integer, got {json_kind(conversion)}")
    elif "eventId" in body:
        issues.add("eventId", "only goes with a conversionId")
    check_text(body, "eventId", "", issues)
    if body.get("fmt") != "js":
        issues.add("fmt", 'is required: "js"')
    check_text(body, "url", "", issues, required=True)
    check_ms(body, "time", issues)
    check_text(body, "v", "", issues)


def _linkedin_refuse(body: dict[str, Any], accounts: FakeAccounts) -> str | None:
    if body["pid"] not in accounts.linkedin_partners:
        return f"Unknown partner id {body['pid']}"
    if "conversionId" in body and str(body["conversionId"]) not in accounts.linkedin_rules:
        return f"No conversion {body['conversionId']} for partner id {body['pid']}"
    return None


def _linkedin_identify(body: dict[str, Any]) -> tuple[str | None, str, str]:
    if "conversionId" not in body:
        return None, LINKEDIN_PAGE_VIEW, body["pid"]
    return body.get("eventId"), f"{linkedin.RULE_PREFIX}{body['conversionId']}", body["pid"]


LINKEDIN = Beacon(
    api=linkedin.PLATFORM,
    check=_linkedin_check,
    refuse=_linkedin_refuse,
    identify=_linkedin_identify,
    answer=_linkedin_answer,
    refused_status=403,
    accepted=lambda: Reply(204),
)


# ---- Google: POST /gtag/pagead/conversion (Google Ads), POST /gtag/g/collect (GA4) -----

ADS_KEYS = (
    "en", "send_to", "transaction_id", "value", "currency", "gcs", "npa", "user_data", "url",
    "ref", "ts",
)  # fmt: skip
GA4_KEYS = ("v", "tid", "en", "cid", "ep", "gcs", "user_data", "dl", "dr", "ts")
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 413: "INVALID_ARGUMENT"}


def _google_answer(status: int, message: str, reasons: list[str]) -> Reply:
    error = {"code": status, "message": message, "status": GOOGLE_STATUS[status]}
    return Reply(status, {"error": error}, reasons=reasons)


def _google_common(body: dict[str, Any], issues: Issues) -> None:
    if not isinstance(body.get("gcs"), str) or not GCS.fullmatch(body["gcs"]):
        issues.add("gcs", "is required: G1 then ad_storage and analytics_storage as 1 or 0")
    if "user_data" in body:
        check_user_data(body["user_data"], "user_data", GOOGLE_USER_DATA, issues, lists=True)
    check_ms(body, "ts", issues)


def _ads_check(body: dict[str, Any], issues: Issues) -> None:
    unknown_keys(body, ADS_KEYS, "", issues)
    check_text(body, "en", "", issues, required=True)
    if not isinstance(body.get("send_to"), str) or not SEND_TO.fullmatch(body["send_to"]):
        issues.add("send_to", "is required: AW-<digits>/<conversion label>")
    check_text(body, "transaction_id", "", issues, max_len=MAX_ORDER_ID)
    if "value" in body and not is_number(body["value"]):
        issues.add("value", f"must be a number, got {json_kind(body['value'])}")
    if "currency" in body and not is_currency(body["currency"]):
        issues.add("currency", "must be an ISO 4217 code in upper case")
    if "npa" in body and not (is_int(body["npa"]) and body["npa"] in (0, 1)):
        issues.add("npa", "must be 0 or 1")
    check_text(body, "url", "", issues, required=True)
    check_text(body, "ref", "", issues, empty=True)
    _google_common(body, issues)


def _ads_refuse(body: dict[str, Any], accounts: FakeAccounts) -> str | None:
    tag, label = body["send_to"].split("/", 1)
    labels = accounts.google_ads_tags.get(tag)
    if labels is None:
        return f"Google tag {tag} is not known."
    if label not in labels:
        return f"Conversion label {label} is not a conversion of {tag}."
    return None


GOOGLE_ADS = Beacon(
    api=google_ads.PLATFORM,
    check=_ads_check,
    refuse=_ads_refuse,
    identify=lambda body: (
        body.get("transaction_id"),
        body["en"],
        body["send_to"].split("/", 1)[0],
    ),
    answer=_google_answer,
    refused_status=403,
    accepted=lambda: Reply(204),
)


def _ga4_check(body: dict[str, Any], issues: Issues) -> None:
    unknown_keys(body, GA4_KEYS, "", issues)
    if body.get("v") != 2 or not is_int(body["v"]):
        issues.add("v", "is required: 2")
    if not isinstance(body.get("tid"), str) or not STREAM.fullmatch(body["tid"]):
        issues.add("tid", "is required: a measurement id, G-...")
    name = body.get("en")
    if not isinstance(name, str) or not NAME.fullmatch(name) or len(name) > MAX_EVENT_NAME:
        issues.add(
            "en",
            f"is required: letters, digits and _, starting with a letter, at most "
            f"{MAX_EVENT_NAME} characters",
        )
    elif name in RESERVED_EVENTS or name.startswith(RESERVED_PREFIXES):
        issues.add("en", f"{name} is a reserved event name")
    check_text(body, "cid", "", issues, required=True)
    if "ep" in body:
        _ga4_params(body["ep"], issues)
    check_text(body, "dl", "", issues, required=True)
    check_text(body, "dr", "", issues, empty=True)
    _google_common(body, issues)


def _ga4_params(params: object, issues: Issues) -> None:
    if not isinstance(params, dict):
        issues.add("ep", f"must be an object, got {json_kind(params)}")
        return
    if len(params) > MAX_PARAMS:
        issues.add("ep", f"holds at most {MAX_PARAMS} params")
    for name, value in params.items():
        path = key("ep", name)
        if not NAME.fullmatch(name) or len(name) > MAX_PARAM_NAME:
            issues.add(path, "is not a valid param name")
        elif name in RESERVED_PARAMS or name.startswith(RESERVED_PREFIXES):
            issues.add(path, "is a reserved param name")
        if name == "items":
            if not isinstance(value, list) or len(value) > MAX_ITEMS:
                issues.add(path, f"must be an array of at most {MAX_ITEMS} objects")
            elif not all(isinstance(item, dict) for item in value):
                issues.add(path, "must hold objects only")
        elif isinstance(value, str) and len(value) > MAX_PARAM_VALUE:
            issues.add(path, f"must be at most {MAX_PARAM_VALUE} characters")
        elif not isinstance(value, str | bool) and not is_number(value):
            issues.add(path, f"must be a string, number or boolean, got {json_kind(value)}")


def _ga4_refuse(body: dict[str, Any], accounts: FakeAccounts) -> str | None:
    if body["tid"] in accounts.ga4_streams:
        return None
    return f"Measurement id {body['tid']} is not known."


GA4 = Beacon(
    api=ga4.PLATFORM,
    check=_ga4_check,
    refuse=_ga4_refuse,
    identify=lambda body: (ga4.dedup_id(body.get("ep")), body["en"], body["tid"]),
    answer=_google_answer,
    refused_status=403,
    accepted=lambda: Reply(204),
)

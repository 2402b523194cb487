"""The PII firewall: plaintext emails and phone numbers never reach a platform.

The loader hashes what it knows is personal data, but free-form places still leak it: a
form that GETs to `/thanks?email=jane@example.com`, a page title "Welcome jane@…", a
custom parameter filled from a text box. Before the pipeline sees a hit, this removes
(or, by container policy, hashes) such values, and reports what it did per field so it is
counted. A last scan of every outbound request catches anything a template assembled.

Emails are found also when their `@` is percent-encoded once or twice (`jane%40x.com`,
`jane%2540x.com`), as a value copied out of a URL is. Detection is deliberately
conservative for phones in free text: numbers written with a leading `+` and 8-15 digits
are phones everywhere; national numbers only in `custom` values, and only in the shapes
people write them in, so that order ids, prices, dates, timestamps and postal codes pass:
a trunk `0` and groups split by one kind of separator (`030 9018 2077`, `030-9018-2077`,
`030.9018.2077`, `(030) 9018 2077`, 10-13 digits in all) or a North American number
(`650-555-1234`, `(650) 555-1234`). In query parameters and custom keys named like a
contact field (`phone`, `email`, `tel`, …) any value is removed.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["POLICIES", "contains_pii", "scrub_hit", "scrub_text"]

POLICIES = ("remove", "hash")
EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]{1,64}(?:@|%40|%2540)"
    r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}"
)
PHONE = re.compile(r"\+\d(?:[\s().-]{0,2}\d){7,14}(?!\d)")
# National numbers: not glued to a word, a sign or another number on either side.
NATIONAL_PHONE = re.compile(
    r"(?<![\w.+,/:-])(?<!\d[\s.-])"
    r"(?:\(0[1-9]\d{0,3}\)[\s.-]?\d{2,8}(?:[\s.-]\d{2,8}){0,3}"  # (030) 9018 2077
    r"|0[1-9]\d{0,3}(?P<sep>[\s.-])\d{2,8}(?:(?P=sep)\d{2,8}){0,3}"  # 030 9018 2077
    r"|\([2-9]\d\d\)\s?[2-9]\d\d[\s.-]\d{4}"  # (650) 555-1234
    r"|[2-9]\d\d(?P<nanp>[\s.-])[2-9]\d\d(?P=nanp)\d{4})"  # 650-555-1234
    r"(?![\w+-]|[\s.,/:-]\d)"
)
# 10 at least: a US ZIP+4 with a leading 0 (02134-1234) has 9.
_NATIONAL_DIGITS = (10, 13)
# Query parameters and custom keys whose values are personal data whatever they look like.
CONTACT_KEYS = frozenset(
    {"email", "e_mail", "e-mail", "mail", "emailaddress", "email_address", "phone", "tel",
     "telephone", "mobile", "phone_number", "phonenumber", "cell", "firstname", "first_name",
     "lastname", "last_name", "fullname", "full_name", "name", "address", "street", "dob",
     "birthday", "date_of_birth"}
)  # fmt: skip
REMOVED = "[removed]"


def _replacement(found: str, policy: str) -> str:
    if policy == "hash":
        normalized = found.strip().lower().replace("%2540", "@").replace("%40", "@")
        return hashlib.sha256(normalized.encode()).hexdigest()
    return REMOVED


def _is_national(match: re.Match[str]) -> bool:
    low, high = _NATIONAL_DIGITS
    return low <= sum(ch.isdigit() for ch in match.group(0)) <= high


def _may_hold_email(text: str) -> bool:
    """Whether `text` has an `@` as typed, or percent-encoded once (`%40`) or twice
    (`%2540`): the cheap test before EMAIL's search, on every string of every hit."""
    return "@" in text or ("%" in text and ("%40" in text or "%2540" in text))


def scrub_text(text: str, policy: str = "remove", *, national: bool = False) -> tuple[str, int]:
    """Text with emails and +-prefixed phone numbers (with `national`, national numbers
    too) removed or hashed; how many."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return _replacement(match.group(0), policy)

    def replace_national(match: re.Match[str]) -> str:
        return replace(match) if _is_national(match) else match.group(0)

    if _may_hold_email(text):
        text = EMAIL.sub(replace, text)
    if "+" in text:
        text = PHONE.sub(replace, text)
    if national and len(text) >= _NATIONAL_DIGITS[0]:  # shorter text has too few digits
        text = NATIONAL_PHONE.sub(replace_national, text)
    return text, count


def contains_pii(text: str, *, national: bool = False) -> bool:
    """Whether `scrub_text(text, national=national)` would find anything."""
    return bool(
        (_may_hold_email(text) and EMAIL.search(text))
        or ("+" in text and PHONE.search(text))
        or (
            national
            and len(text) >= _NATIONAL_DIGITS[0]
            and any(_is_national(m) for m in NATIONAL_PHONE.finditer(text))
        )
    )


def _plainly_clean(url: str) -> bool:
    """True when `_scrub_url` would find nothing, decided without parsing: nothing is
    percent- or plus-encoded (so every query value is its raw text), no query key names a
    contact field, and the whole URL holds no email or phone. Most page URLs are so."""
    if "%" in url or "+" in url or contains_pii(url):
        return False
    start = url.find("?")
    if start < 0:
        return True
    end = url.find("#", start)
    query = url[start + 1 :] if end < 0 else url[start + 1 : end]
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if value and key.lower() in CONTACT_KEYS:
            return False
    return True


def _scrub_url(url: str, policy: str) -> tuple[str, int]:
    if _plainly_clean(url):
        return url, 0
    parts = urlsplit(url)
    if not parts.query and not contains_pii(url):
        return url, 0
    count = 0
    kept = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in CONTACT_KEYS and value:
            count += 1
            if policy == "hash":
                kept.append((key, hashlib.sha256(value.strip().lower().encode()).hexdigest()))
            continue
        value, found = scrub_text(value, policy)
        count += found
        kept.append((key, value))
    path, found_path = scrub_text(parts.path, policy)
    fragment, found_fragment = scrub_text(parts.fragment, policy)
    count += found_path + found_fragment
    if not count:
        return url, 0
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(kept), fragment)), count


def scrub_hit(wire: dict[str, Any], policy: str = "remove") -> dict[str, int]:
    """Scrub a validated wire hit in place; returns removals per field (empty: clean)."""
    found: dict[str, int] = {}
    page = wire.get("page")
    if page:
        for key in ("url", "referrer"):
            if page.get(key):
                page[key], n = _scrub_url(page[key], policy)
                if n:
                    found[f"page.{key}"] = n
        if page.get("title"):
            page["title"], n = scrub_text(page["title"], policy)
            if n:
                found["page.title"] = n
    data = wire.get("data")
    if data:
        for key, value in data.items():
            if isinstance(value, str):
                data[key], n = scrub_text(value, policy)
                if n:
                    found[f"data.{key}"] = n
        for i, item in enumerate(data.get("content_ids") or ()):
            data["content_ids"][i], n = scrub_text(item, policy)
            if n:
                found["data.content_ids"] = found.get("data.content_ids", 0) + n
        for item in data.get("contents") or ():
            item["id"], n = scrub_text(item["id"], policy)
            if n:
                found["data.contents"] = found.get("data.contents", 0) + n
    custom = wire.get("custom")
    if custom:
        _scrub_custom(custom, "custom", policy, found)
    return found


def _scrub_custom(values: dict[str, Any], prefix: str, policy: str, found: dict[str, int]) -> None:
    for key in list(values):
        value = values[key]
        field = f"{prefix}.{key}"
        if key.lower() in CONTACT_KEYS and value not in (None, "", False):
            found[field] = found.get(field, 0) + 1
            if policy == "hash" and isinstance(value, str):
                values[key] = hashlib.sha256(value.strip().lower().encode()).hexdigest()
            else:
                del values[key]
        elif isinstance(value, str):
            values[key], n = scrub_text(value, policy, national=True)
            if n:
                found[field] = found.get(field, 0) + n
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    value[i], n = scrub_text(item, policy, national=True)
                    if n:
                        found[field] = found.get(field, 0) + n
        elif isinstance(value, dict):
            _scrub_custom(value, field, policy, found)

"""What the gtag.js and Measurement Protocol intakes share: event names, numbers, items,
event ids, and the translated hit that remembers where each of its fields came from.

A translated hit goes through `/collect`'s validation like any other. When that refuses a
field, the answer must name the gtag or Measurement Protocol parameter the sender wrote
(`epn.value`, not `data.value`), so every translation records its sources.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from container.ids import random_hex

__all__ = [
    "CLIENT_ID",
    "GA4_EVENTS",
    "RESERVED_CUSTOM",
    "SCREEN_RESOLUTION",
    "SESSION_ID",
    "USER_PROPERTIES",
    "EventRefused",
    "Refusal",
    "Translation",
    "click_ids",
    "derived_event_id",
    "hashed_user_id",
    "parse_number",
    "tagwire_event",
]

# GA4 event names whose tagwire name differs: the inverse of the shipped ga4 template's
# table, so a GA4 tag sends each event back under the name gtag.js gave it.
GA4_EVENTS = {
    "view_item": "view_content",
    "generate_lead": "lead",
    "qualify_lead": "qualified_lead",
    "sign_up": "complete_registration",
    "begin_checkout": "initiate_checkout",
    "file_download": "download",
}
# GA4 reserves the ga_ prefix for its own parameters, so these never clash with a site's.
CLIENT_ID = "ga_client_id"
SESSION_ID = "ga_session_id"
USER_PROPERTIES = "ga_user_properties"
SCREEN_RESOLUTION = "ga_screen_resolution"
RESERVED_CUSTOM = frozenset({CLIENT_ID, SESSION_ID, USER_PROPERTIES, SCREEN_RESOLUTION})

MAX_SAFE_INTEGER = 2**53
_NUMBER = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][+-]?[0-9]{1,3})?")
_DIGITS_ONLY = re.compile(r"-?[0-9]{1,16}")
# The click ids ad platforms put in a landing page's URL (the hit's `click` keys that are
# URL parameters; fbc, fbp and ttp are cookies, which templates read themselves).
URL_CLICK_IDS = ("fbclid", "ttclid", "gclid", "gbraid", "wbraid", "li_fat_id", "msclkid")
_CLICK_ID = re.compile(r"[\x21-\x7e]{1,512}")


class EventRefused(Exception):
    """Raised while translating one event: the parameter to blame and why; the event
    becomes a `Refusal` and the events around it are kept."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused parameter of one event (`position` None: the whole request)."""

    position: int | None
    field: str
    reason: str


@dataclass(slots=True)
class Translation:
    """One event as a tagwire wire hit, with the request parameter behind each field."""

    position: int
    wire: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)

    def put(self, path: str, value: Any, param: str) -> None:
        """Set a top-level field or `section.key`, and remember its parameter."""
        section, _, key = path.partition(".")
        if key:
            self.wire.setdefault(section, {})[key] = value
        else:
            self.wire[section] = value
        self.sources[path] = param

    def source_of(self, hit_field: str) -> str:
        """The parameter to name for an error `/collect` reported on `hit_field`: the
        nearest enclosing field with a known source (`data.contents[2].id` → `pr3`)."""
        current = hit_field
        while True:
            if current in self.sources:
                return self.sources[current]
            cut = max(current.rfind("."), current.rfind("["))
            if cut <= 0:
                return hit_field
            current = current[:cut]


def tagwire_event(name: str) -> str:
    """The tagwire event for a GA4 event name; any other name is kept as it is (the hit
    validation refuses one that is not `[a-z0-9_]{1,40}`)."""
    return GA4_EVENTS.get(name, name)


def parse_number(text: str) -> int | float | None:
    """A decimal number as gtag.js writes one (`129.9`, `3`, `1e-7`), or None. Integers
    stay integers; infinities, NaN and integers beyond 2^53 are not numbers."""
    if not _NUMBER.fullmatch(text):
        return None
    if _DIGITS_ONLY.fullmatch(text):
        number = int(text)
        return number if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER else None
    value = float(text)
    return value if math.isfinite(value) else None


def hashed_user_id(user_id: str) -> str:
    """The site's user id as the hit's `user.external_id`: its SHA-256, as the hit schema
    takes only hashed identifiers (and platforms match external ids hashed)."""
    return hashlib.sha256(user_id.strip().encode("utf-8")).hexdigest()


def derived_event_id(*parts: str | None) -> str:
    """An event id made from what identifies one event of one page load (`cid`, `_p`,
    `_s`, the line…), so a request sent twice is delivered once; random when a part is
    missing, as two events could then look alike."""
    if any(part is None or part == "" for part in parts):
        return "gtag-" + random_hex(16)
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()
    return "gtag-" + digest[:32]


def click_ids(url: str) -> dict[str, str]:
    """The click ids in a page URL's query, as gtag.js leaves them for Google's servers to
    read; a value not shaped like one (spaces, too long) is left out, not refused, so a
    mangled landing URL never costs the event."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for key, value in parse_qsl(query, max_num_fields=200):
        if key in URL_CLICK_IDS and key not in out and _CLICK_ID.fullmatch(value):
            out[key] = value
    return out

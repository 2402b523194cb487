"""A GA4 Measurement Protocol body as tagwire wire hits, one per event.

The body's own fields (`client_id`, `user_id`, `consent`, `user_data`…) hold for every
event; a body field that is malformed refuses the request, an event that is malformed is
refused on its own. The mapping table is in docs/gtag.md.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from container.gtag.lines import RequestRefused, shown
from container.gtag.values import (
    CLIENT_ID,
    MAX_SAFE_INTEGER,
    RESERVED_CUSTOM,
    SESSION_ID,
    USER_PROPERTIES,
    EventRefused,
    Refusal,
    Translation,
    click_ids,
    derived_event_id,
    hashed_user_id,
    tagwire_event,
)

__all__ = ["MAX_EVENTS", "MpRequest", "read_mp"]

MAX_EVENTS = 25  # the Measurement Protocol's own limit per request
_CLIENT_ID = re.compile(r"[\x21-\x7e]{1,128}")
_PARAM_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")
# Body fields the protocol defines that have no place in a tagwire hit.
_IGNORED = frozenset({"user_location", "device", "validation_behavior"})
_BODY_FIELDS = frozenset(
    {"client_id", "user_id", "timestamp_micros", "user_properties", "user_data", "consent",
     "non_personalized_ads", "events", "app_instance_id", "ip_override", *_IGNORED}
)  # fmt: skip
# consent: the protocol's two signals, and the two storage signals as a tagwire extension
_CONSENT = ("ad_user_data", "ad_personalization", "ad_storage", "analytics_storage")
_PAGE = {"page_location": "url", "page_referrer": "referrer", "page_title": "title",
         "language": "locale"}  # fmt: skip
_DATA = {"transaction_id": "transaction_id", "lead_id": "lead_id", "search_term": "search_string",
         "currency": "currency"}  # fmt: skip
_LEAD_EVENTS = ("lead", "qualified_lead")


@dataclass(slots=True)
class MpRequest:
    """The client id and each event's hit (or why it was refused)."""

    client_id: str
    analytics_granted: bool
    ip: str = ""  # the visitor's address (`ip_override`), "" when the sender gave none
    session_ids: set[str] = field(default_factory=set)
    events: list[Translation] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def _number(value: object) -> bool:
    return (type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER) or (
        type(value) is float and value == value and abs(value) != float("inf")
    )


def read_mp(body: bytes) -> MpRequest:
    """The events of a Measurement Protocol body; raises RequestRefused for a body or a
    body-wide field that is unusable."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestRefused(400, "body", f"malformed JSON: {exc.msg}") from None
    if type(doc) is not dict:
        raise RequestRefused(400, "body", "must be a JSON object with client_id and events")
    unknown = next((key for key in doc if key not in _BODY_FIELDS), None)
    if unknown is not None:
        raise RequestRefused(400, shown(unknown), "unknown field")
    if "app_instance_id" in doc:
        raise RequestRefused(400, "app_instance_id", "app streams are not taken; send client_id")
    client_id = doc.get("client_id")
    if type(client_id) is not str or not _CLIENT_ID.fullmatch(client_id):
        raise RequestRefused(400, "client_id", "required: 1-128 printable ASCII characters")
    shared = _Shared(doc)
    request = MpRequest(
        client_id, shared.consent.get("analytics_storage") == "granted", _ip(doc)
    )
    events = doc.get("events")
    if type(events) is not list or not events:
        raise RequestRefused(400, "events", "required: a list of 1 to 25 events")
    if len(events) > MAX_EVENTS:
        raise RequestRefused(413, "events", f"more than {MAX_EVENTS} events per request")
    for index, event in enumerate(events):
        try:
            request.events.append(shared.event(index, event, request))
        except EventRefused as refused:
            request.refused.append(Refusal(index, refused.param, refused.reason))
    return request


def _ip(doc: dict[str, Any]) -> str:
    """`ip_override`, the visitor's address, in its canonical form."""
    value = doc.get("ip_override")
    if value is None:
        return ""
    if type(value) is str:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
    raise RequestRefused(400, "ip_override", "must be an IPv4 or IPv6 address")


class _Shared:
    """The body-wide fields, checked once, then applied to each event."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.consent = self._consent()
        self.user = self._user()
        self.user_properties = self._user_properties()
        timestamp = doc.get("timestamp_micros")
        if timestamp is not None and type(timestamp) is not int:
            raise RequestRefused(400, "timestamp_micros", "must be whole microseconds")
        self.timestamp = timestamp

    def _consent(self) -> dict[str, str]:
        doc = self.doc
        consent = doc.get("consent", {})
        if type(consent) is not dict:
            raise RequestRefused(400, "consent", "must be an object")
        out: dict[str, str] = {}
        for key, value in consent.items():
            if key not in _CONSENT:
                raise RequestRefused(400, f"consent.{shown(key)}", "unknown field")
            if value not in ("GRANTED", "DENIED"):
                raise RequestRefused(400, f"consent.{key}", "must be GRANTED or DENIED")
            out[key] = value.lower()
        npa = doc.get("non_personalized_ads")
        if npa is not None and type(npa) is not bool:
            raise RequestRefused(400, "non_personalized_ads", "must be true or false")
        if npa:
            out["ad_personalization"] = "denied"
        return {**out, "source": "gcm"} if out else {}

    def _user(self) -> dict[str, tuple[str, str]]:
        """user section field -> (value, body field it came from)."""
        doc = self.doc
        out: dict[str, tuple[str, str]] = {}
        user_id = doc.get("user_id")
        if user_id is not None:
            if type(user_id) is not str or not 1 <= len(user_id) <= 256:
                raise RequestRefused(400, "user_id", "must be a string of 1-256 characters")
            out["external_id"] = (hashed_user_id(user_id), "user_id")
        data = doc.get("user_data")
        if data is None:
            return out
        if type(data) is not dict:
            raise RequestRefused(400, "user_data", "must be an object")
        for key, target in (("sha256_email_address", "em_g"), ("sha256_phone_number", "ph")):
            value = _first(data.get(key), f"user_data.{key}")
            if value is not None:
                out[target] = (value, f"user_data.{key}")
        address = data.get("address")
        if isinstance(address, list):
            address = address[0] if address else None
        if address is not None:
            if type(address) is not dict:
                raise RequestRefused(400, "user_data.address", "must be an object or a list")
            for key, target in (("sha256_first_name", "fn"), ("sha256_last_name", "ln")):
                value = _first(address.get(key), f"user_data.address.{key}")
                if value is not None:
                    out[target] = (value, f"user_data.address.{key}")
        return out

    def _user_properties(self) -> dict[str, Any]:
        properties = self.doc.get("user_properties", {})
        if type(properties) is not dict:
            raise RequestRefused(400, "user_properties", "must be an object")
        out = {}
        for name, entry in properties.items():
            path = f"user_properties.{shown(name)}"
            if not _PARAM_NAME.fullmatch(name):
                raise RequestRefused(400, path, "names are 1-40 of A-Z a-z 0-9 _")
            if type(entry) is not dict or "value" not in entry:
                raise RequestRefused(400, path, 'must be an object {"value": …}')
            value = entry["value"]
            if not (type(value) in (str, bool) or _number(value)):
                raise RequestRefused(400, path, "value must be a string, number or boolean")
            out[name] = value
        return out

    def event(self, index: int, event: object, request: MpRequest) -> Translation:
        at = f"events[{index}]"
        if type(event) is not dict:
            raise EventRefused(at, "must be an object with name and params")
        unknown = next((key for key in event if key not in ("name", "params",
                                                            "timestamp_micros")), None)  # fmt: skip
        if unknown is not None:
            raise EventRefused(f"{at}.{shown(unknown)}", "unknown field")
        name = event.get("name")
        if type(name) is not str or not name:
            raise EventRefused(f"{at}.name", "required: the event name")
        params = event.get("params", {})
        if type(params) is not dict:
            raise EventRefused(f"{at}.params", "must be an object")
        out = Translation(index, {"v": 1})
        event_name = tagwire_event(name)
        out.put("event", event_name, f"{at}.name")
        timestamp = event.get("timestamp_micros", self.timestamp)
        if timestamp is not None:
            if type(timestamp) is not int:
                raise EventRefused(f"{at}.timestamp_micros", "must be whole microseconds")
            out.put("ts", timestamp // 1000, f"{at}.timestamp_micros" if "timestamp_micros"
                    in event else "timestamp_micros")  # fmt: skip
        if "event_id" in params:
            out.put("event_id", params["event_id"], f"{at}.params.event_id")
        else:
            stamp = None if timestamp is None else str(timestamp)
            out.put("event_id", derived_event_id(request.client_id, stamp, str(index), name),
                    f"{at}.params.event_id")  # fmt: skip
        if self.consent:
            out.put("consent", self.consent, "consent")
        for key, (value, source) in self.user.items():
            out.put(f"user.{key}", value, source)
        _event_params(out, at, params, event_name, request)
        custom = out.wire.get("custom", {})
        if self.user_properties:
            custom[USER_PROPERTIES] = self.user_properties
            out.sources[f"custom.{USER_PROPERTIES}"] = "user_properties"
        if request.analytics_granted:
            custom[CLIENT_ID] = request.client_id
            out.sources[f"custom.{CLIENT_ID}"] = "client_id"
        if custom:
            out.wire["custom"] = custom
            out.sources.setdefault("custom", f"{at}.params")
        return out


def _first(value: object, path: str) -> str | None:
    """A user_data value: a string, or a list whose first string is used."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    if type(value) is not str:
        raise RequestRefused(400, path, "must be a hex SHA-256 string or a list of them")
    return value


def _event_params(
    out: Translation, at: str, params: dict[str, Any], event: str, request: MpRequest
) -> None:
    """One event's params into page, data and custom."""
    custom: dict[str, Any] = {}
    for name, value in params.items():
        path = f"{at}.params.{shown(name)}"
        if name == "event_id":
            continue
        if name in _PAGE:
            out.put(f"page.{_PAGE[name]}", value, path)
            if name == "page_location" and type(value) is str:
                for key, click in click_ids(value).items():
                    out.put(f"click.{key}", click, path)
        elif name in _DATA:
            out.put(f"data.{_DATA[name]}", value, path)
        elif name == "value":
            if not _number(value):
                raise EventRefused(path, "not a number")
            out.put("data.value", value, path)
        elif name == "items":
            _items(out, path, value)
        elif name == "session_id":
            if type(value) not in (str, int):
                raise EventRefused(path, "must be a string or a whole number")
            if request.analytics_granted:
                request.session_ids.add(str(value))
                custom[SESSION_ID] = str(value)
                out.sources[f"custom.{SESSION_ID}"] = path
        else:
            if not _PARAM_NAME.fullmatch(name):
                raise EventRefused(path, "names are 1-40 of A-Z a-z 0-9 _")
            if name in RESERVED_CUSTOM:
                raise EventRefused(path, "reserved for what tagwire takes from the protocol")
            if not (type(value) in (str, bool) or _number(value)):
                raise EventRefused(path, "must be a string, number or boolean")
            custom[name] = value
            out.sources[f"custom.{name}"] = path
    transaction = params.get("transaction_id")
    if event in _LEAD_EVENTS and transaction is not None and "lead_id" not in params:
        out.put("data.lead_id", transaction, f"{at}.params.transaction_id")
    if custom:
        out.wire["custom"] = custom


def _items(out: Translation, path: str, items: object) -> None:
    """`items` ({item_id, quantity, price}) as `data.contents`; items without an id are
    left out, as tagwire's contents need one."""
    if type(items) is not list:
        raise EventRefused(path, "must be a list of items")
    contents: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if type(item) is not dict:
            raise EventRefused(f"{path}[{index}]", "must be an object")
        if "item_id" not in item:
            continue
        entry = {"id": item["item_id"]}
        if "quantity" in item:
            entry["quantity"] = item["quantity"]
        if "price" in item:
            entry["item_price"] = item["price"]
        out.sources[f"data.contents[{len(contents)}]"] = f"{path}[{index}]"
        out.sources[f"data.content_ids[{len(contents)}]"] = f"{path}[{index}]"
        contents.append(entry)
    if contents:
        out.put("data.contents", contents, path)
        out.put("data.content_ids", [c["id"] for c in contents], path)

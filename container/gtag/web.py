"""One gtag.js event (its parameters, shared ones merged in) as a tagwire wire hit.

The mapping table is in docs/gtag.md. Parameters the hit has no place for (`gtm`, `_et`,
`_s`, client hints…) are ignored, as gtag.js adds new ones over time; a parameter that is
mapped but malformed refuses the event, naming it.
"""

from __future__ import annotations

import re
from typing import Any

from container.gtag.lines import shown
from container.gtag.values import (
    CLIENT_ID,
    RESERVED_CUSTOM,
    SCREEN_RESOLUTION,
    SESSION_ID,
    USER_PROPERTIES,
    EventRefused,
    Refusal,
    Translation,
    click_ids,
    derived_event_id,
    hashed_user_id,
    parse_number,
    tagwire_event,
)
from variables.consent_mode import ConsentModeError, hit_consent

__all__ = ["translate_event"]

_PARAM_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")
_ITEM = re.compile(r"pr([1-9][0-9]{0,2})")
_ITEM_FIELD_SPLIT = re.compile(r"(?<!~)~(?!~)")
_QUANTITY = re.compile(r"[0-9]{1,7}")
_PAGE = {"dl": "url", "dr": "referrer", "dt": "title", "ul": "locale"}
# ep.* parameters that have a place in the hit's data (value is read separately)
_DATA = {"transaction_id": "transaction_id", "lead_id": "lead_id", "search_term": "search_string"}
_LEAD_EVENTS = ("lead", "qualified_lead")


def translate_event(position: int, params: dict[str, str], tid: str) -> Translation | Refusal:
    """The hit for one event, or the first parameter that refuses it."""
    try:
        return _Builder(position, params, tid).build()
    except EventRefused as refused:
        return Refusal(position, refused.param, refused.reason)


class _Builder:
    """Fills one wire hit section by section, noting each field's parameter."""

    def __init__(self, position: int, params: dict[str, str], tid: str) -> None:
        self.position = position
        self.params = params
        self.tid = tid
        self.out = Translation(position, {"v": 1})

    def build(self) -> Translation:
        params = self.params
        name = params.get("en")
        if not name:
            raise EventRefused("en", "required: the event name")
        event = tagwire_event(name)
        self.out.put("event", event, "en")
        consent = self.consent()
        self.event_id(name)
        for param, key in _PAGE.items():
            if params.get(param):
                self.out.put(f"page.{key}", params[param], param)
        for key, value in click_ids(params.get("dl", "")).items():
            self.out.put(f"click.{key}", value, "dl")
        uid = params.get("uid")
        if uid:
            self.out.put("user.external_id", hashed_user_id(uid), "uid")
        self.data(event)
        self.custom(consent.get("analytics_storage") == "granted")
        return self.out

    def consent(self) -> dict[str, str]:
        params = self.params
        try:
            consent = hit_consent(params.get("gcs"), params.get("gcd"), params.get("npa"))
        except ConsentModeError as exc:
            raise EventRefused(exc.param, str(exc)) from None
        if consent:
            self.out.put("consent", consent, "gcs")
            sources = self.out.sources
            for signal in consent:
                sources[f"consent.{signal}"] = "gcd" if "gcd" in params else "gcs"
        return consent

    def event_id(self, name: str) -> None:
        params = self.params
        if "ep.event_id" in params:
            self.out.put("event_id", params["ep.event_id"], "ep.event_id")
            return
        derived = derived_event_id(self.tid, params.get("cid"), params.get("_p"),
                                   params.get("_s"), str(self.position), name)  # fmt: skip
        self.out.put("event_id", derived, "_p")

    def data(self, event: str) -> None:
        params = self.params
        for param in ("epn.value", "ep.value"):
            if param in params:
                value = parse_number(params[param])
                if value is None:
                    raise EventRefused(param, "not a number")
                self.out.put("data.value", value, param)
                break
        if params.get("cu"):
            self.out.put("data.currency", params["cu"], "cu")
        for key, target in _DATA.items():
            if f"ep.{key}" in params:
                self.out.put(f"data.{target}", params[f"ep.{key}"], f"ep.{key}")
        transaction = params.get("ep.transaction_id")
        if event in _LEAD_EVENTS and transaction and "ep.lead_id" not in params:
            self.out.put("data.lead_id", transaction, "ep.transaction_id")
        self.items()

    def items(self) -> None:
        numbered = sorted(
            (int(match.group(1)), key)
            for key in self.params
            if (match := _ITEM.fullmatch(key)) is not None
        )
        contents: list[dict[str, Any]] = []
        sources = self.out.sources
        for _, param in numbered:
            item = _item(param, self.params[param])
            if item is None:
                continue  # GA4 takes an item by name alone; tagwire's contents need an id
            sources[f"data.contents[{len(contents)}]"] = param
            sources[f"data.content_ids[{len(contents)}]"] = param
            contents.append(item)
        if contents:
            self.out.put("data.contents", contents, numbered[0][1])
            self.out.put("data.content_ids", [c["id"] for c in contents], numbered[0][1])

    def custom(self, analytics_granted: bool) -> None:
        params = self.params
        custom: dict[str, Any] = {}
        user_properties: dict[str, Any] = {}
        sources = self.out.sources
        for param, raw in params.items():
            prefix, dot, name = param.partition(".")
            if not dot or prefix not in ("ep", "epn", "up", "upn"):
                continue
            if prefix == "ep" and (name in _DATA or name in ("value", "event_id")):
                continue
            if prefix == "epn" and name == "value":
                continue
            if not _PARAM_NAME.fullmatch(name):
                raise EventRefused(f"{prefix}.{shown(name)}", "names are 1-40 of A-Z a-z 0-9 _")
            if name in RESERVED_CUSTOM:
                raise EventRefused(param, "reserved for what tagwire takes from gtag.js")
            value: Any = raw
            if prefix.endswith("n"):
                value = parse_number(raw)
                if value is None:
                    raise EventRefused(param, "not a number")
            if prefix.startswith("u"):
                user_properties[name] = value
                sources[f"custom.{USER_PROPERTIES}.{name}"] = param
            else:
                custom[name] = value
                sources[f"custom.{name}"] = param
        if user_properties:
            custom[USER_PROPERTIES] = user_properties
            sources[f"custom.{USER_PROPERTIES}"] = "up"
        if analytics_granted:  # the GA client and session ids are analytics identifiers
            for param, key in (("cid", CLIENT_ID), ("sid", SESSION_ID)):
                if params.get(param):
                    custom[key] = params[param]
                    sources[f"custom.{key}"] = param
        if params.get("sr"):
            custom[SCREEN_RESOLUTION] = params["sr"]
            sources[f"custom.{SCREEN_RESOLUTION}"] = "sr"
        if custom:
            self.out.wire["custom"] = custom
            sources.setdefault("custom", "ep")


def _item(param: str, text: str) -> dict[str, Any] | None:
    """One `prN` item (`id…~nm…~pr…~qt…`, `~~` a literal `~`) as a `data.contents` entry:
    its id, quantity and price; None for an item without an id."""
    fields: dict[str, str] = {}
    for part in _ITEM_FIELD_SPLIT.split(text):
        fields.setdefault(part[:2], part[2:].replace("~~", "~"))
    item_id = fields.get("id")
    if not item_id:
        return None
    item: dict[str, Any] = {"id": item_id}
    if "qt" in fields:
        if not _QUANTITY.fullmatch(fields["qt"]):
            raise EventRefused(param, "qt (quantity) is not a whole number")
        item["quantity"] = int(fields["qt"])
    if "pr" in fields:
        price = parse_number(fields["pr"])
        if price is None:
            raise EventRefused(param, "pr (price) is not a number")
        item["item_price"] = price
    return item

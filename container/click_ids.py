"""Click and browser ids that are not shaped like one: stripped from a browser's hit,
refused in a server's event.

A click id is an opaque token a platform put in a landing page URL; templates copy it into
cookies (`_gcl_aw`, `_fbc`) and platform requests. A value that is not shaped like one (an
email a form pasted into `gclid`, text with spaces, quotes or semicolons) is removed before
anything reads the hit, so it never reaches a `Set-Cookie` header or an outbox row; the
other fields of the hit are kept. Each removal is counted per field and logged, without the
value. The Fire API refuses such an event instead, naming the field: its sender is a
program that can be fixed.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter

from variables.hit import CLICK_FIELDS, click_id_shaped

__all__ = ["CLICK_IDS_STRIPPED", "UNSHAPED", "strip_click_ids", "unshaped_click_ids"]

log = logging.getLogger("tagwire.click_ids")

CLICK_IDS_STRIPPED = Counter(
    "tagwire_click_ids_stripped",
    "Click and browser ids removed from hits because they were not shaped like one, by field.",
    ["container", "field"],
)


# What a refusal of a click id says (the Fire API refuses where /collect strips).
UNSHAPED = (
    "not shaped like this click id: letters, digits and . _ ~ + / = - (fbc and fbp: fb.N.N.ID)"
)


def unshaped_click_ids(wire: Any) -> list[str]:
    """The fields of `wire["click"]` whose string is not shaped like that id. Anything
    that is not a hit with a `click` object is left to the validator, which names what is
    wrong with it."""
    if type(wire) is not dict:
        return []
    click = wire.get("click")
    if type(click) is not dict:
        return []
    return [
        name
        for name, value in click.items()
        if name in CLICK_FIELDS and type(value) is str and not click_id_shaped(name, value)
    ]


def strip_click_ids(container_id: str, trace_id: str, wire: Any) -> list[str]:
    """Remove each string in `wire["click"]` that is not shaped like its id; returns the
    fields removed."""
    removed = unshaped_click_ids(wire)
    if not removed:
        return removed
    click = wire["click"]
    for name in removed:
        del click[name]
        CLICK_IDS_STRIPPED.labels(container_id, f"click.{name}").inc()
    log.info(
        "click ids stripped: not shaped like a click id",
        extra={"fields": {"container": container_id, "trace_id": trace_id,
                          "fields": [f"click.{name}" for name in removed]}},
    )  # fmt: skip
    return removed

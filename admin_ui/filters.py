"""How operators name outbox rows: the text a filter matches exactly, and a filter
written back under the operator's own field names (in audit lines and API answers)."""

from __future__ import annotations

import dataclasses
from typing import Any

from admin_ui.times import iso
from config.storage import OutboxFilter

__all__ = ["MAX_TEXT", "check_text", "filter_fields"]

MAX_TEXT = 200


def check_text(value: str) -> str:
    """A container, tag, platform, event or lead id to match exactly."""
    if not value or len(value) > MAX_TEXT:
        raise ValueError(f"must be 1-{MAX_TEXT} characters")
    return value


def filter_fields(filter: OutboxFilter, until: str = "until") -> dict[str, Any]:
    """The filter's set fields under their operator names (audit lines, answers); purge
    calls its upper time bound `before`."""
    names = {"container_id": "container", "tag_id": "tag", "event_name": "event"}
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(filter):
        value = getattr(filter, field.name)
        if value is None or value == ():
            continue
        if field.name == "since_ms":
            fields["since"] = iso(value)
        elif field.name == "until_ms":
            fields[until] = iso(value)
        elif field.name == "states":
            fields["state"] = list(value)
        else:
            fields[names.get(field.name, field.name)] = value
    return fields

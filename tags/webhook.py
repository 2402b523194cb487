"""The built-in `webhook` template: POST the mapped event as JSON to a configured URL.

The payload carries only what the hit already holds in safe form: hashed user
identifiers, click ids, commerce data. Client IP and user agent are personal data and
are included only when the tag sets `include_client`.
"""

from __future__ import annotations

from typing import Any

import orjson

from tags.request import TagRequest
from variables.hit import Hit

__all__ = ["build_request"]


def build_request(hit: Hit, params: dict[str, Any]) -> TagRequest:
    payload: dict[str, Any] = {
        "event": params["event_names"].get(hit.event, hit.event),
        "event_id": hit.event_id,
        "event_time_ms": hit.event_time_ms,
        "page_url": hit.section("page").get("url"),
        "data": hit.section("data"),
        "user": hit.section("user"),
        "click": hit.section("click"),
        "custom": hit.section("custom"),
        "client_id": hit.client_id,
    }
    if params["include_client"]:
        payload["client_ip"] = hit.client_ip
        payload["user_agent"] = hit.user_agent
    headers = {"content-type": "application/json", **params["headers"]}
    return TagRequest("POST", params["url"], headers, orjson.dumps(payload))

"""The event a template reads with `event.get`: the wire hit plus server-side facts.

Server facts live under `server.` so a manifest can grant them one by one
(`server.client_ip` is personal data; `server.event_time_ms` is not).
`server.action_source` says where the conversion happened (`website` for `/collect`).
`server.test_event_code` is set only by a Fire API request that asks for the platforms'
test views; templates use it when their own test parameter is not set.
"""

from __future__ import annotations

from typing import Any

from variables.hit import Hit

__all__ = ["template_event"]


def template_event(hit: Hit) -> dict[str, Any]:
    return {
        **hit.wire,
        "server": {
            "client_ip": hit.client_ip,
            "user_agent": hit.user_agent,
            "client_id": hit.client_id,
            "event_time_ms": hit.event_time_ms,
            "received_ms": hit.received_ms,
            "trace_id": hit.trace_id,
            "sec_gpc": hit.sec_gpc,
            "action_source": hit.action_source,
            "test_event_code": hit.test_event_code,
        },
    }

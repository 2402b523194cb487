"""Recent hits to check a trigger or test-fire a tag on: the hits of the container's
preview sessions, newest first.

They are the only visitors' hits tagwire keeps (a preview's traces, bounded in time and
count, PII already removed), so picking "a recent hit" means picking one a previewing
browser sent. A hit is named `SESSION:TRACE` in links; the pages look a name up among
the container's recent hits, so another container's never matches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from config.storage import PreviewStore

__all__ = ["MAX_RECENT", "RecentHit", "recent_hits"]

MAX_RECENT = 20
_SESSIONS_READ = 5  # the newest sessions of the container whose hits are offered


@dataclass(frozen=True, slots=True)
class RecentHit:
    key: str
    label: str
    hit: dict[str, Any]


async def recent_hits(store: PreviewStore, container_id: str) -> list[RecentHit]:
    """Up to MAX_RECENT hits of the container's newest preview sessions, newest first."""
    found: list[tuple[int, RecentHit]] = []
    for session in (await store.list_previews(container_id, None))[:_SESSIONS_READ]:
        for trace in await store.traces(session.id, 0, MAX_RECENT):
            body = orjson.loads(trace.body)
            hit = body.get("hit")
            if not isinstance(hit, dict):
                continue  # a refused hit: nothing valid to check on
            at = dt.datetime.fromtimestamp(trace.at_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            label = f"{at} UTC · {trace.event_name} · {body.get('summary', '')}"
            found.append((trace.at_ms, RecentHit(f"{session.id}:{trace.id}", label, hit)))
    found.sort(key=lambda pair: -pair[0])
    return [hit for _, hit in found[:MAX_RECENT]]


"""The hit pipeline: a container document compiled once, then run for every accepted hit.

hit → triggers → consent → tag → outbox rows. Compilation happens off the request path
(at start-up); `run` does no I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from config.storage import OutboxRow
from tags.webhook import build_request
from triggers.events import EventTrigger
from variables.consent import missing_consent
from variables.hit import Hit

__all__ = ["CompiledContainer", "CompiledTag"]

log = logging.getLogger("tagwire.pipeline")


@dataclass(frozen=True, slots=True)
class CompiledTag:
    id: str
    params: dict[str, Any]
    firing: tuple[EventTrigger, ...]
    blocking: tuple[EventTrigger, ...]
    gcm: tuple[str, ...]
    fire_once: str
    destination: str

    def fires_for(self, event: str) -> bool:
        return any(t.matches(event) for t in self.firing) and not any(
            t.matches(event) for t in self.blocking
        )

    def dedup_key(self, hit: Hit) -> str | None:
        """The fire-once key (None: no dedup); a hit without the scoped id falls back to
        its event id, so a browser retry of it still cannot send twice."""
        if self.fire_once == "none":
            return None
        if self.fire_once in ("transaction_id", "lead_id"):
            value = hit.section("data").get(self.fire_once)
            if value:
                return f"{self.fire_once}:{value}"
        return f"event_id:{hit.event_id}"


@dataclass(frozen=True, slots=True)
class CompiledContainer:
    id: str
    name: str
    allowed_origins: frozenset[str]
    tags: tuple[CompiledTag, ...]

    @classmethod
    def compile(cls, doc: dict[str, Any]) -> CompiledContainer:
        """Compile a validated document with defaults applied (see config.schema)."""
        triggers = {t["id"]: EventTrigger.compile(t["id"], t["events"]) for t in doc["triggers"]}
        tags = tuple(
            CompiledTag(
                id=tag["id"],
                params=tag["params"],
                firing=tuple(triggers[t] for t in tag["firing_triggers"]),
                blocking=tuple(triggers[t] for t in tag["blocking_triggers"]),
                gcm=tuple(tag["consent"]["gcm"]),
                fire_once=tag["fire_once"],
                destination=urlsplit(tag["params"]["url"]).netloc,
            )
            for tag in doc["tags"]
            if tag["enabled"]
        )
        container = doc["container"]
        return cls(
            container["id"], container["name"], frozenset(container["allowed_origins"]), tags
        )

    def run(self, hit: Hit) -> list[OutboxRow]:
        rows = []
        for tag in self.tags:
            if not tag.fires_for(hit.event):
                continue
            missing = missing_consent(hit, tag.gcm)
            if missing:
                log.debug(
                    "tag blocked by consent",
                    extra={"fields": {"tag": tag.id, "event_id": hit.event_id, "missing": missing}},
                )
                continue
            request = build_request(hit, tag.params)
            rows.append(
                OutboxRow(
                    container_id=self.id,
                    tag_id=tag.id,
                    destination=tag.destination,
                    method=request.method,
                    url=request.url,
                    headers=orjson.dumps(request.headers),
                    body=request.body,
                    event_name=hit.event,
                    event_id=hit.event_id,
                    dedup_key=tag.dedup_key(hit),
                )
            )
        return rows

"""The hit pipeline: a container document compiled once, then run for every accepted hit.

hit → triggers → consent → tag template (Lua sandbox) → outbox rows and browser pixels.
Compilation (templates, parameters, grants) happens off the request path at start-up;
`run` does no I/O. A failing tag is logged and skipped; the other tags of the hit still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from config.schema import template_package
from config.storage import OutboxRow
from tags.errors import TemplateError
from tags.event import template_event
from tags.runtime import BoundTemplate, TemplateRuntime
from triggers.events import EventTrigger
from variables.consent import missing_consent
from variables.hit import Hit

__all__ = ["CompiledContainer", "CompiledTag", "PipelineResult"]

log = logging.getLogger("tagwire.pipeline")


@dataclass(frozen=True, slots=True)
class CompiledTag:
    id: str
    template: BoundTemplate
    firing: tuple[EventTrigger, ...]
    blocking: tuple[EventTrigger, ...]
    gcm: tuple[str, ...]
    fire_once: str

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


@dataclass(slots=True)
class PipelineResult:
    """What one hit produced: requests for the outbox, commands for the browser."""

    rows: list[OutboxRow] = field(default_factory=list)
    pixels: list[dict[str, Any]] = field(default_factory=list)
    cookies: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CompiledContainer:
    id: str
    name: str
    allowed_origins: frozenset[str]
    tags: tuple[CompiledTag, ...]
    runtime: TemplateRuntime

    @classmethod
    def compile(cls, doc: dict[str, Any], runtime: TemplateRuntime) -> CompiledContainer:
        """Compile a validated document with defaults applied (see config.schema).

        Raises TemplateError when a template does not compile or a tag's params are bad.
        """
        container_id = doc["container"]["id"]
        triggers = {t["id"]: EventTrigger.compile(t["id"], t["events"]) for t in doc["triggers"]}
        tags = []
        for tag in doc["tags"]:
            if not tag["enabled"]:
                continue
            package = template_package(doc, tag["template"])
            try:
                bound = runtime.bind(f"{container_id}/{tag['id']}", package, tag["params"])
            except TemplateError as exc:
                raise TemplateError(exc.kind, f"tag {tag['id']!r}: {exc.message}") from None
            tags.append(
                CompiledTag(
                    id=tag["id"],
                    template=bound,
                    firing=tuple(triggers[t] for t in tag["firing_triggers"]),
                    blocking=tuple(triggers[t] for t in tag["blocking_triggers"]),
                    gcm=tuple(tag["consent"]["gcm"]),
                    fire_once=tag["fire_once"],
                )
            )
        container = doc["container"]
        return cls(
            container_id,
            container["name"],
            frozenset(container["allowed_origins"]),
            tuple(tags),
            runtime,
        )

    def run(self, hit: Hit, result: PipelineResult) -> None:
        """Run every tag that fires for the hit, adding what they produce to `result`."""
        context = None
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
            if context is None:
                context = self.runtime.hit_context(
                    template_event(hit), hit.cookies, hit.received_ms
                )
            outcome = self.runtime.execute(tag.template, context)
            if outcome.error is not None:
                log.warning(
                    "tag failed",
                    extra={"fields": {"container": self.id, "tag": tag.id,
                                      "event_id": hit.event_id, "kind": outcome.error.kind,
                                      "reason": outcome.error.message}},
                )  # fmt: skip
                continue
            for line in outcome.logs:
                log.info("template log", extra={"fields": {"tag": tag.id, "line": line}})
            key = tag.dedup_key(hit)
            for index, request in enumerate(outcome.requests):
                result.rows.append(
                    OutboxRow(
                        container_id=self.id,
                        tag_id=tag.id,
                        destination=urlsplit(request["url"]).netloc,
                        method=request["method"],
                        url=request["url"],
                        headers=orjson.dumps(request["headers"]),
                        body=(request["body"] or "").encode("utf-8"),
                        event_name=hit.event,
                        event_id=hit.event_id,
                        dedup_key=key if key is None or index == 0 else f"{key}#{index}",
                    )
                )
            result.pixels.extend(outcome.pixels)
            result.cookies.extend(outcome.cookies)

"""Test fire on the data plane: a workspace's tag run on a sample hit, its requests sent
with the platforms' test modes through the node's own outbox and sender.

The workspace is compiled afresh for each test fire, with a runtime of its own (nothing
shared with the containers serving hits, so a test cannot touch their budgets or
quarantine). The hit is checked and scrubbed as `/collect` does it and carries the test
event code, which the shipped templates turn into each platform's test mode: Meta's and
TikTok's test event code, GA4's debug endpoint, Google Ads' validateOnly; LinkedIn's
Conversions API has none, so its template sends nothing. The rows take no fire-once key
and skip the guards (a test is not traffic); they are recorded in the firing history
under the test's event id like any row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from config.errors import DocumentError
from config.storage import StorageError
from config.versions import VersionRecord
from container.delivery.outbox import OutboxWriter
from container.hit import validate_hit
from container.ids import random_hex
from container.metrics import count_pii_removed
from container.pipeline import CompiledContainer, PipelineResult
from container.reload import Build
from tags.errors import TemplateError
from tags.trial import TEST_EVENT_PREFIX, Trial, TrialRefused
from variables.hit import Hit
from variables.pii_firewall import scrub_hit

__all__ = ["ENV", "MAX_TEST_CODE", "TrialRunner"]

log = logging.getLogger("tagwire.test_fire")

ENV = "test-fire"  # the environment a test fire's container is compiled for
MAX_TEST_CODE = 100
_SAMPLE_IP = "203.0.113.10"  # documentation range (RFC 5737): no real visitor's address
_SAMPLE_UA = "Mozilla/5.0 (tagwire test fire)"


class TrialRunner:
    """Runs test fires for the admin UI; one instance per node (`RunTrial` callable)."""

    def __init__(
        self,
        build: Build,
        writer: OutboxWriter,
        refresh: Callable[[], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`refresh` reads the secrets anew, so one set a moment ago is used at once."""
        self._build = build
        self._writer = writer
        self._refresh = refresh
        self._clock = clock

    async def __call__(
        self, document: dict[str, Any], tag_id: str, wire: dict[str, Any], test_code: str
    ) -> Trial:
        code = test_code.strip()
        if not code or len(code) > MAX_TEST_CODE or not code.isprintable():
            raise TrialRefused(
                "test_code",
                f"give the platform's test event code (1 to {MAX_TEST_CODE} printable "
                "characters); without one the requests would count as real conversions",
            )
        wire = {**wire, "event_id": TEST_EVENT_PREFIX + random_hex(8)}
        wire.setdefault("v", 1)
        problems = validate_hit(wire)
        if problems:
            field, reason = problems[0]
            raise TrialRefused(f"sample.{field}", reason)
        try:
            await self._refresh()
        except StorageError as exc:
            raise TrialRefused("store", f"the secrets could not be read: {exc}") from None
        container = await asyncio.to_thread(self._compile, document)
        now_ms = int(self._clock() * 1000)
        hit = Hit(
            container_id=container.id,
            event=wire["event"],
            event_id=wire["event_id"],
            wire=wire,
            event_time_ms=now_ms,
            received_ms=now_ms,
            client_ip=_SAMPLE_IP,
            user_agent=_SAMPLE_UA,
            client_id=None,
            sec_gpc=False,
            trace_id=wire["event_id"],
            cookies={},
            headers=[],
            test_event_code=code,
        )
        count_pii_removed(scrub_hit(hit.wire, container.pii_policy))
        result = PipelineResult()
        trial = await asyncio.to_thread(container.trial, tag_id, hit, result)
        if result.rows:
            try:
                await self._writer.enqueue(result.rows)
            except StorageError as exc:
                raise TrialRefused("store", f"the requests could not be queued: {exc}") from None
        log.info(
            "test fire",
            extra={"fields": {"container": container.id, "tag": tag_id,
                              "event_id": trial.event_id, "queued": trial.queued,
                              "allowed": trial.allowed, "error": trial.error}},
        )  # fmt: skip
        return trial

    def _compile(self, document: dict[str, Any]) -> CompiledContainer:
        """The workspace as the node would run it once published; a document that would
        not publish cannot be test-fired either."""
        named = document.get("container")
        container_id = str(named.get("id")) if isinstance(named, dict) else "?"
        record = VersionRecord(container_id, 0, None, "test fire", "", 0, document)
        try:
            return self._build(record, ENV)
        except DocumentError as exc:
            first = exc.issues[0]
            raise TrialRefused("document", f"the workspace has problems: {first}") from None
        except TemplateError as exc:
            raise TrialRefused("document", f"a template does not compile: {exc}") from None

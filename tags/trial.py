"""A test fire: one tag of a container's workspace run on a sample hit, sent with each
platform's test mode (test event code, validate-only, debug endpoint).

The data plane runs it (it owns the pipeline, the outbox and the sender); the admin UI
asks for it through a `RunTrial` callable the wiring hands over, and reads what came of
the requests from the firing history. Both sides speak the plain types below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TEST_EVENT_PREFIX", "RunTrial", "Trial", "TrialRefused"]

# Event ids of test fires start with this, so they stand out in the history.
TEST_EVENT_PREFIX = "test-fire-"


class TrialRefused(Exception):
    """The test fire cannot run: `field` names the input at fault, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Trial:
    """What a test fire did. `consent` is the consent decision's reason; when it refused
    (`allowed` False) the template did not run. `error` is the template's failure
    (kind: message). `queued` counts the requests committed to the outbox, each carrying
    `event_id`; the sender sends them like any other row."""

    event_id: str
    triggers_fire: bool
    allowed: bool
    consent: str
    error: str | None = None
    logs: tuple[str, ...] = ()
    pixels: tuple[dict[str, Any], ...] = field(default=())
    queued: int = 0


# (workspace document, tag id, wire hit, test event code) -> what it did; raises
# TrialRefused for a document, tag, hit or code it cannot run.
RunTrial = Callable[[dict[str, Any], str, dict[str, Any], str], Awaitable[Trial]]

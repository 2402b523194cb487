"""Why an operator action was refused, as types the front ends can tell apart.

The CLI turns them into exit codes, the admin API and pages into statuses; the message
is the same everywhere and says what to do, so neither front end words its own.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ActionError", "FieldError", "NotConfigured", "NotFound", "UnknownContainer"]

# How many known container ids an UnknownContainer message lists before it stops.
LISTED_CONTAINERS = 10


class ActionError(Exception):
    """An operator action cannot be done as asked; the message says why and what to do."""


class FieldError(ActionError, ValueError):
    """An operator's input is unusable; `field` names it as the caller wrote it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotConfigured(ActionError):
    """The action needs a setting this process does not have."""


class NotFound(ActionError):
    """The action names something the store does not hold (a token, a secret)."""


class UnknownContainer(NotFound):
    """A container id that is neither in the store (no workspace, no version) nor served
    from a document file the caller named. Every action on one container refuses it with
    this one message shape, so a typo reads the same whatever the command."""

    def __init__(self, container_id: str, known: Sequence[str], hint: str = "") -> None:
        self.container_id = container_id
        listed = ", ".join(known[:LISTED_CONTAINERS])
        if len(known) > LISTED_CONTAINERS:
            listed += f" and {len(known) - LISTED_CONTAINERS} more"
        held = f"it holds {listed}" if known else "it holds none yet"
        super().__init__(
            f"container {container_id!r} is not in the store ({held}); import its document "
            f"with `tagwire import FILE`{hint}"
        )

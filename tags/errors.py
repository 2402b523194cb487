"""Typed template failures. `kind` is part of the `tagwire template run` contract.

`budget` is deterministic (the same template on the same hit always exceeds it), as are
all kinds but two, which depend on the machine: `deadline`, the wall-clock safety net,
and `host`, a failure of tagwire's own code under the template (a host function raising
something unexpected, the sandbox itself failing). A run that failed with one of those
may succeed when run again.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["ENVIRONMENTAL", "KINDS", "ErrorKind", "TemplateError"]

ErrorKind = Literal[
    "syntax", "runtime", "permission", "limit", "budget", "deadline", "host", "params"
]
KINDS: tuple[ErrorKind, ...] = (
    "syntax", "runtime", "permission", "limit", "budget", "deadline", "host", "params"
)  # fmt: skip
# The kinds whose outcome depends on the machine, not on the template and the hit.
ENVIRONMENTAL: frozenset[str] = frozenset({"deadline", "host"})


class TemplateError(Exception):
    """A template could not be loaded or run; `kind` says which class of problem it was."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: ErrorKind = kind
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}

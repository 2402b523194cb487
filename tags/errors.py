"""Typed template failures. `kind` is part of the `tagwire template run` contract.

`budget` is deterministic (the same template on the same hit always exceeds it), as are
all kinds but `deadline`: the wall-clock safety net, which depends on the machine's load.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["KINDS", "ErrorKind", "TemplateError"]

ErrorKind = Literal["syntax", "runtime", "permission", "limit", "budget", "deadline", "params"]
KINDS: tuple[ErrorKind, ...] = (
    "syntax", "runtime", "permission", "limit", "budget", "deadline", "params"
)  # fmt: skip


class TemplateError(Exception):
    """A template could not be loaded or run; `kind` says which class of problem it was."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: ErrorKind = kind
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}

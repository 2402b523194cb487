"""The request a tag asks the outbox to send: data only, never sent inline."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TagRequest"]


@dataclass(frozen=True, slots=True)
class TagRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

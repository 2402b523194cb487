"""Resource limits for one template execution: defaults, and the caps on overrides.

A template's manifest may ask for more (or less) than the defaults, but never more than
the operator caps; asking for more is clamped, not refused, so a template written for a
bigger node still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["CAPS", "DEFAULTS", "Limits", "limits_from_manifest"]


@dataclass(frozen=True, slots=True)
class Limits:
    instructions: int = 1_000_000  # Lua VM instructions per execution
    memory_bytes: int = 8 * 1024 * 1024  # allocation above the runtime's usage before the call
    deadline_ms: int = 50  # wall clock per execution
    max_depth: int = 200  # Lua call stack depth
    max_requests: int = 10  # send_http calls per execution
    max_pixels: int = 10  # pixel calls per execution
    max_logs: int = 20  # log lines per execution
    max_log_bytes: int = 2048  # per log line
    max_body_bytes: int = 256 * 1024  # per queued request body
    max_output_bytes: int = 512 * 1024  # all requests, pixels and logs together


DEFAULTS = Limits()
CAPS = Limits(
    instructions=10_000_000,
    memory_bytes=32 * 1024 * 1024,
    deadline_ms=500,
    max_depth=1000,
    max_requests=100,
    max_pixels=50,
    max_logs=100,
    max_log_bytes=8192,
    max_body_bytes=1024 * 1024,
    max_output_bytes=4 * 1024 * 1024,
)
LIMIT_NAMES = tuple(f.name for f in fields(Limits))


def limits_from_manifest(overrides: dict[str, Any]) -> Limits:
    """Defaults with a validated manifest's `limits` applied, each clamped to its cap."""
    values = {name: min(int(value), getattr(CAPS, name)) for name, value in overrides.items()}
    return replace(DEFAULTS, **values)

"""Resource limits for one template execution: defaults, and the caps on overrides.

A template's manifest may ask for more (or less) than the defaults, but never more than
the operator caps; asking for more is clamped, not refused, so a template written for a
bigger node still loads.

`instructions` is the cost budget (docs/writing-templates.md, "The cost budget"): one
unit per Lua VM instruction plus what the library and host functions charge for their C
work. `deadline_ms` is still accepted in manifests but no longer applies: the wall-clock
deadline is a node-wide safety net (TemplateRuntime's `deadline_ms`), see DEADLINE_MS.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["CAPS", "DEADLINE_MS", "DEFAULTS", "Limits", "limits_from_manifest"]

# The wall-clock safety net per execution, far above what any template within its budget
# needs (the shipped ones run in well under 1 ms): it only catches what the budget cannot
# see, and its failures (kind "deadline") depend on the machine's load.
DEADLINE_MS = 1500


@dataclass(frozen=True, slots=True)
class Limits:
    instructions: int = 1_000_000  # cost budget per execution: VM instructions + C work
    memory_bytes: int = 8 * 1024 * 1024  # allocation above the runtime's usage before the call
    deadline_ms: int = 50  # accepted for older manifests; not applied (see DEADLINE_MS)
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

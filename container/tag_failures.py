"""What a failed tag run leaves behind: a durable record of the hit, and when to retry.

The record is the hit exactly as the template saw it (after the PII firewall) plus the
facts its outbox rows carry, so the tag can run again later, on this node or another,
without the request that brought the hit. A failure that depends on the machine (the
wall-clock safety net, tagwire's own code) is retried on the schedule below; any other
failure is dead at once, with the error and the Lua line, until an operator replays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from config.storage import RUN_DESTINATION, RUN_METHOD, FailedRun, OutboxRow
from tags.errors import ENVIRONMENTAL
from variables.hit import Hit

__all__ = [
    "BUSY",
    "RETRIED",
    "RETRY_DELAYS_MS",
    "UNSERVED",
    "HitRecord",
    "RecordError",
    "failed_run",
    "read_record",
    "record_hit",
    "retry_at",
]

# After the failure at the hit, then after each failed retry; past the last one, dead.
RETRY_DELAYS_MS = (10_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000)
_VERSION = 1
# Why a stored run could not run again on this node now, besides the template's kinds.
UNSERVED = "unserved"  # the node does not serve its container and environment
BUSY = "busy"  # its container's lane would not take it
RETRIED = ENVIRONMENTAL | {UNSERVED, BUSY}


# Each field's JSON types. A field of another type (a damaged record) would raise deep in
# the re-run, on the lane, taking down every run claimed with it: it is refused here.
_NONE = type(None)
_FIELDS: dict[str, tuple[type, ...]] = {
    "env": (str,), "event": (dict,), "cookies": (dict,), "received_ms": (int,),
    "event_name": (str,), "event_id": (str,), "event_time_ms": (int,),
    "dedup_key": (str, _NONE), "lead_id": (str, _NONE), "value": (int, float, _NONE),
    "currency": (str, _NONE),
}  # fmt: skip


class RecordError(ValueError):
    """A stored hit record cannot be read (written by a newer tagwire, or damaged)."""


@dataclass(frozen=True, slots=True)
class HitRecord:
    """A hit as a tag run needs it again: the template's view and the rows' facts."""

    env: str
    event: dict[str, Any]
    cookies: dict[str, str]
    received_ms: int
    event_name: str
    event_id: str
    event_time_ms: int
    dedup_key: str | None
    lead_id: str | None
    value: float | None
    currency: str | None

    def encode(self) -> bytes:
        return orjson.dumps(
            {"v": _VERSION, "env": self.env, "event": self.event, "cookies": self.cookies,
             "received_ms": self.received_ms, "event_name": self.event_name,
             "event_id": self.event_id, "event_time_ms": self.event_time_ms,
             "dedup_key": self.dedup_key, "lead_id": self.lead_id, "value": self.value,
             "currency": self.currency}
        )  # fmt: skip


def record_hit(container_id: str, record: HitRecord) -> Hit:
    """The hit a record was made from, as the pipeline's Hit: what a tag whose parameters
    reference the hit's values resolves them from again when it runs again."""
    wire = {k: v for k, v in record.event.items() if k != "server"}
    server = record.event.get("server") or {}
    return Hit(
        container_id, record.event_name, record.event_id, wire, record.event_time_ms,
        record.received_ms, str(server.get("client_ip") or ""),
        str(server.get("user_agent") or ""), server.get("client_id"),
        bool(server.get("sec_gpc")), str(server.get("trace_id") or ""), dict(record.cookies),
        [], str(server.get("action_source") or "website"), server.get("test_event_code"),
    )  # fmt: skip


def read_record(body: bytes) -> HitRecord:
    """Raises RecordError naming what is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"hit record is not JSON: {exc}") from None
    version = data.get("v") if isinstance(data, dict) else None
    if version != _VERSION:
        raise RecordError(f"hit record version {version!r} is not {_VERSION}")
    for name, types in _FIELDS.items():
        if name not in data:
            raise RecordError(f"hit record has no {name!r}")
        if type(data[name]) not in types:
            raise RecordError(f"hit record's {name!r} is a {type(data[name]).__name__}")
    cookies = data["cookies"]
    if not all(type(value) is str for value in cookies.values()):
        raise RecordError("hit record's 'cookies' are not all strings")
    value = data["value"]
    return HitRecord(
        data["env"], data["event"], cookies, data["received_ms"],
        data["event_name"], data["event_id"], data["event_time_ms"], data["dedup_key"],
        data["lead_id"], None if value is None else float(value), data["currency"],
    )  # fmt: skip


def retry_at(kind: str, failures: int, now_ms: int) -> int | None:
    """When to run a tag again after its `failures`-th failure of `kind`; None: never, it
    is dead (a deterministic kind, or the schedule is used up)."""
    if kind not in RETRIED or failures > len(RETRY_DELAYS_MS):
        return None
    return now_ms + RETRY_DELAYS_MS[failures - 1]


def failed_run(
    container_id: str,
    tag_id: str,
    platform: str,
    record: HitRecord,
    kind: str,
    error: str,
    next_attempt_at: int | None,
) -> FailedRun:
    """The `RUN` row of a failure at the hit, dead at once when `next_attempt_at` is None."""
    row = OutboxRow(
        container_id=container_id,
        tag_id=tag_id,
        destination=RUN_DESTINATION,
        method=RUN_METHOD,
        url="",
        headers=b"{}",
        body=record.encode(),
        event_name=record.event_name,
        event_id=record.event_id,
        dedup_key=None,
        platform=platform,
        event_time_ms=record.event_time_ms,
        lead_id=record.lead_id,
        value=record.value,
        currency=record.currency,
        held=False,
    )
    return FailedRun(row, kind, error, next_attempt_at)

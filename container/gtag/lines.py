"""Reading a gtag.js request: the query string and the body's lines into parameters.

gtag.js sends `/g/collect?v=2&tid=G-…&cid=…&…` with the parameters every event shares in
the query, and either one event in the query too (an empty body, or a GET) or one event
per body line, each line a query string whose parameters override the shared ones.
Values are percent-encoded UTF-8. A line that cannot be decoded is refused on its own; a
shared parameter that cannot be decoded spoils every event, so it refuses the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from container.gtag.values import Refusal
from container.hit import MAX_BATCH

__all__ = ["GtagRequest", "RequestRefused", "query_params", "read_request", "shown"]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class RequestRefused(Exception):
    """A request that cannot be read at all: `status` to answer, the parameter to blame."""

    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.status = status
        self.field = field
        self.reason = reason


@dataclass(slots=True)
class GtagRequest:
    """The measurement id, then each event's parameters (shared ones merged in) by
    position: the body line, or 0 for an event sent in the query alone."""

    tid: str
    events: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def shown(key: str) -> str:
    """A parameter name as it may appear in an answer or a log line: anything unusual
    (long, odd characters, possibly an email used as a name) is not echoed."""
    return key if _PLAIN_KEY.fullmatch(key) and "@" not in key else "<unrecognised key>"


def _decode(raw: bytes) -> str:
    """A form-encoded key or value (`+` is a space); raises UnicodeDecodeError."""
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")


def query_params(raw: bytes) -> tuple[dict[str, str], str | None]:
    """The parameters of one query string (the first of a repeated name counts), and
    the shown name of the first one that is not UTF-8 (None: all were)."""
    params: dict[str, str] = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition(b"=")
        try:
            key = _decode(raw_key)
        except UnicodeDecodeError:
            return params, "<unrecognised key>"
        try:
            value = _decode(raw_value)
        except UnicodeDecodeError:
            return params, shown(key)
        params.setdefault(key, value)
    return params, None


def read_request(query: bytes, body: bytes) -> GtagRequest:
    """The events of a `/g/collect` request; raises RequestRefused for a request whose
    protocol version, measurement id, shared parameters or body size are unusable."""
    shared, broken = query_params(query)
    if broken is not None:
        raise RequestRefused(400, broken, "not percent-encoded UTF-8")
    version = shared.pop("v", None)
    if version is None:
        raise RequestRefused(400, "v", "required: the protocol version, 2")
    if version != "2":
        raise RequestRefused(400, "v", "must be 2 (GA4); other protocol versions are not taken")
    tid = shared.pop("tid", None)
    if not tid:
        raise RequestRefused(400, "tid", "required: the GA4 measurement id (G-…)")
    request = GtagRequest(tid)
    lines = [line.removesuffix(b"\r") for line in body.split(b"\n")] if body else []
    if not any(lines):
        request.events.append((0, shared))
        return request
    if sum(1 for line in lines if line) > MAX_BATCH:
        raise RequestRefused(413, "body", f"more than {MAX_BATCH} events (lines) per request")
    for position, line in enumerate(lines):
        if not line:
            continue
        own, broken = query_params(line)
        if broken is not None:
            request.refused.append(Refusal(position, broken, "not percent-encoded UTF-8"))
            continue
        query_level = {"v": version, "tid": tid}
        clash = next((k for k, want in query_level.items() if own.pop(k, want) != want), None)
        if clash is not None:
            reason = "differs from the query's; one request serves one stream and version"
            request.refused.append(Refusal(position, clash, reason))
            continue
        request.events.append((position, {**shared, **own}))
    return request

"""A preview hit's trace: everything the node decided about it, as one JSON document.

Format (version 1), the contract between the data plane that writes traces and the admin
UI's live view that shows them:

    v, trace_id, session, revision, mode (dry_run|test|live), source, container, at_ms
    event, event_id           the hit's (absent when the hit was refused)
    request                   origin, user_agent, client_ip (last part masked), headers
                              (cookie and credential values masked)
    errors                    [{field, reason}]: why the hit was refused (then no more)
    hit                       the wire hit after the PII firewall (user details hashed)
    guards                    [{guard, verdict}]: bot filter, value guard, spike guard
    variables                 [{id, value}]: each container variable on this hit
    triggers                  [{id, name, fired, reason, path, var, op, expected, actual}]
    tags                      [{id, template, outcome (fired|not_fired|
                              blocked_by_consent|failed), consent, error, logs, pixels,
                              requests: [{method, url, headers, body, dedup_key}]}]
    delivery                  what happened to the requests in this mode, in words
    summary                   e.g. "2 fired, 1 blocked by consent, 4 not fired"

Values are already free of plaintext PII (the firewall ran on the hit, the outbound scan
on the requests); credential-looking header values and keys are masked here again, and
secret references are never resolved in a trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from config.diff import masked
from container.pipeline import CompiledContainer, TagTrace
from triggers.explain import explain
from variables.hit import Hit
from variables.resolver import Resolver

__all__ = ["TRACE_VERSION", "outcome_words", "refused_trace", "request_facts", "tag_trace"]

TRACE_VERSION = 1
_SECRET = re.compile(r"authorization|cookie|token|secret|key|auth|signature", re.I)
_SHOWN_HEADERS = ("origin", "referer", "user-agent", "content-type", "accept-language", "host")
_WORDS = {
    "fired": "fired",
    "blocked_by_consent": "blocked by consent",
    "failed": "failed",
    "not_fired": "not fired",
}


def _masked_ip(ip: str) -> str:
    """The address without its last part: enough to tell a network, not a person."""
    if ":" in ip:
        return ":".join(ip.split(":")[:3]) + "::/48"
    parts = ip.split(".")
    return ".".join(parts[:3]) + ".0/24" if len(parts) == 4 else ""


def request_facts(
    headers: Mapping[bytes, str], ip: str, cookies: Mapping[str, str]
) -> dict[str, Any]:
    """What the request said about itself, filtered: a few headers, the cookie names."""
    shown = {
        name: value
        for name in _SHOWN_HEADERS
        if (value := headers.get(name.encode())) is not None
    }
    return {
        "origin": headers.get(b"origin", ""),
        "user_agent": headers.get(b"user-agent", "")[:512],
        "client_ip": _masked_ip(ip),
        "headers": shown,
        "cookies": sorted(cookies),
    }


def _request(row: Any) -> dict[str, Any]:
    headers = orjson.loads(row.headers)
    try:
        body: Any = masked(orjson.loads(row.body))
    except orjson.JSONDecodeError:
        body = row.body.decode("utf-8", "replace")
    return {
        "method": row.method,
        "url": row.url,
        "headers": {k: "***" if _SECRET.search(k) else v for k, v in headers.items()},
        "body": body,
        "dedup_key": row.dedup_key,
    }


def outcome_words(tags: list[dict[str, Any]]) -> str:
    """The summary line: how many tags ended each way, in a fixed order."""
    counts: dict[str, int] = {}
    for tag in tags:
        counts[tag["outcome"]] = counts.get(tag["outcome"], 0) + 1
    return ", ".join(f"{counts[k]} {w}" for k, w in _WORDS.items() if k in counts) or "no tags"


def tag_trace(
    container: CompiledContainer,
    doc: Mapping[str, Any],
    hit: Hit,
    tags: list[TagTrace],
    base: dict[str, Any],
) -> dict[str, Any]:
    """The trace of a hit that ran: `base` (session, request, guards, delivery…) plus
    the hit, variables, triggers and tags."""
    resolver = Resolver(hit, container.variables)
    variables = [{"id": v["id"], "value": resolver.get(f"var.{v['id']}")}
                 for v in doc.get("variables", [])]  # fmt: skip
    triggers = []
    for trigger in doc.get("triggers", []):
        why = explain(trigger, hit.event, resolver)
        triggers.append({"id": trigger["id"], "name": trigger.get("name", ""),
                         "fired": why.fired, "reason": why.reason, "path": why.path,
                         "var": why.var, "op": why.op, "expected": why.expected,
                         "actual": why.actual})  # fmt: skip
    shown = [{"id": t.tag_id, "template": t.platform, "outcome": t.outcome,
              "consent": t.consent, "error": t.error, "logs": list(t.logs),
              "pixels": list(t.pixels), "requests": [_request(r) for r in t.rows]}
             for t in tags]  # fmt: skip
    return {**base, "event": hit.event, "event_id": hit.event_id, "hit": hit.wire,
            "variables": variables, "triggers": triggers, "tags": shown,
            "summary": outcome_words(shown)}  # fmt: skip


def refused_trace(base: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The trace of a hit `/collect` refused: its errors, nothing ran."""
    return {**base, "errors": errors, "tags": [], "summary": "refused"}

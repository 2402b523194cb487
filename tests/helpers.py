"""Shared test helpers: a valid hit, a container document, free ports."""

from __future__ import annotations

import copy
import hashlib
import socket
from typing import Any

EMAIL_HASH = hashlib.sha256(b"jane.doe@example.com").hexdigest()


def make_hit(**overrides: Any) -> dict[str, Any]:
    hit: dict[str, Any] = {
        "v": 1,
        "event": "lead",
        "event_id": "0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10",
        "ts": 1_763_900_000_000,
        "page": {"url": "https://www.example.com/en/thanks", "referrer": "", "title": "Thanks",
                 "locale": "en-GB"},
        "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                    "ad_user_data": "granted", "ad_personalization": "denied", "source": "api"},
        "user": {"em": EMAIL_HASH},
        "click": {"fbclid": "IwAR2xyz", "gclid": "Cj0KCQ"},
        "data": {"value": 50, "currency": "EUR", "lead_id": "L-1001"},
        "custom": {"plan": "pro"},
    }  # fmt: skip
    hit.update(overrides)
    return hit


def make_document(url: str = "https://hooks.example.com/tagwire", **tag: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "container": {"id": "shop", "name": "Shop", "allowed_origins": ["https://www.example.com"]},
        "triggers": [
            {"id": "leads", "name": "Leads", "events": ["lead"]},
            {"id": "everything", "name": "All", "events": ["*"]},
            {"id": "tests", "name": "Test events", "events": ["test_*"]},
        ],
        "tags": [
            {
                "id": "hook",
                "name": "Webhook",
                "template": "webhook",
                "params": {"url": url, "event_names": {"lead": "Lead"}},
                "firing_triggers": ["leads"],
                "consent": {"gcm": ["ad_storage"]},
            }
        ],
    }
    doc["tags"][0].update(tag)
    return copy.deepcopy(doc)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

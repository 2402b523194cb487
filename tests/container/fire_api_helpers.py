"""Shared by the Fire API tests: a container for CRM events, a node app, tokens."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from config.schema import apply_defaults
from config.settings import load_settings
from config.sqlite_store import SQLiteStore
from config.tokens import hash_token, new_token
from container.app import DataPlane, create_app
from container.containers import ContainerSet
from container.pipeline import CompiledContainer
from demo import demo_document, demo_secrets
from tags.runtime import TemplateRuntime
from tests.helpers import on_store

PLATFORMS = ("meta", "tiktok", "linkedin", "google_ads", "ga4")
CRM_EVENT_SET = "7281234567890123456"


def fire_document(policy: str = "strict", fire_once: str = "event_id") -> dict[str, Any]:
    """Container `shop`: the demo's five platform tags plus a webhook, all firing on
    `qualified_lead` and `purchase` (offline conversions a CRM reports)."""
    doc = demo_document("https://hooks.example.com/fire")
    doc["container"].update(id="shop", consent_policy=policy, default_country="DE")
    doc["variables"] = []
    doc["triggers"] = [
        {"id": "offline", "name": "CRM events", "events": ["qualified_lead", "purchase"]}
    ]
    for tag in doc["tags"]:
        tag["firing_triggers"] = ["offline"]
        tag["fire_once"] = fire_once
        params = tag["params"]
        if tag["template"] == "webhook":
            tag["id"] = "hook"
            params["include_client"] = True
            params["event_names"] = {}
        if tag["template"] == "tiktok":
            params["crm_event_set_id"] = CRM_EVENT_SET
        for key in ("conversions", "conversion_actions"):
            if key in params:
                params[key] = {"qualified_lead": next(iter(params[key].values()))}
    return copy.deepcopy(doc)


def compile_container(doc: dict[str, Any]) -> CompiledContainer:
    runtime = TemplateRuntime(demo_secrets().get)
    return CompiledContainer.compile(apply_defaults(doc), runtime)


def build_app(db: Path, doc: dict[str, Any] | None = None, **env: str) -> DataPlane:
    """The node's app with the Fire API route; the sender is off unless env turns it on."""
    settings = load_settings({"TAGWIRE_SENDER": "off", **env})
    store = SQLiteStore(db)
    container = compile_container(doc or fire_document())
    return create_app(settings, store, ContainerSet.of({container.id: container}))


def add_token(
    db: Path, container_id: str = "shop", name: str = "crm", revoked: bool = False
) -> str:
    """Store a new token for the container in the node's database; the token."""
    token = new_token()

    async def create(store: Any) -> None:
        await store.create_token(container_id, name, hash_token(token), int(time.time() * 1000))
        if revoked:
            await store.revoke_token(container_id, name)

    on_store(db, create)
    return token


def tokens(db: Path) -> list[Any]:
    return on_store(db, lambda store: store.list_tokens(None))


GRANTED = {"ad_storage": "granted", "analytics_storage": "granted",
           "ad_user_data": "granted", "ad_personalization": "granted"}  # fmt: skip


def crm_event(**overrides: Any) -> dict[str, Any]:
    """A qualified lead reported by a CRM after a phone call, with plaintext contact data."""
    event: dict[str, Any] = {
        "event": "qualified_lead",
        "action_source": "phone_call",
        "lead_id": "L-4711",
        "user": {"email": "Zebulon.Quartz@Example.org", "phone": "030 12345678",
                 "first_name": "Zebulon", "last_name": "Quartzfeld"},
        "client_id": "1234567890.1763000000",
        "data": {"value": 80, "currency": "EUR"},
        "consent": GRANTED,
    }  # fmt: skip
    event.update(overrides)
    return event

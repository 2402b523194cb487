"""The node that `tagwire serve` runs: the data plane with the control plane mounted beside it.

This is the only place the two planes meet. The data plane (`container`) takes the control
plane's routes as plain Starlette routes, so neither plane imports the other.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from admin_ui.routes import control_plane_routes
from admin_ui.web import AdminUI
from config.settings import Settings
from config.storage import Store
from container.app import create_app
from container.config_source import HttpConfigSource
from container.containers import ContainerSet
from container.hit import validate_hit
from container.node_secrets import NodeSecrets
from container.reload import ConfigWatcher
from tags.trial import Trial
from tagwire.proxy import ForwardedScheme

__all__ = ["build_control_plane", "build_node", "check_hit"]


def check_hit(wire: object) -> list[str]:
    """A template test's hit checked as `/collect` checks it, for the admin UI's editor."""
    return [f"{field}: {reason}" for field, reason in validate_hit(wire)]


def build_node(
    settings: Settings,
    store: Store,
    containers: ContainerSet,
    *,
    watcher: ConfigWatcher | None,
    secrets: NodeSecrets,
    remote: HttpConfigSource | None,
    signer: Ed25519PrivateKey | None = None,
    extra_routes: list[BaseRoute] | None = None,
) -> ASGIApp:
    """One ASGI app serving `/collect`, the Fire API and the loader, plus the admin and
    config APIs over the same store, the admin UI under `/admin` unless the settings turn
    it off (`signer` signs the versions made there; its test fires run on this node's
    pipeline and sender), plus `extra_routes` (the demo's); behind trusted proxies, with
    the scheme they forward."""
    routes = control_plane_routes(store)

    async def test_fire(
        document: dict[str, Any], tag_id: str, wire: dict[str, Any], test_code: str
    ) -> Trial:
        # the data plane is made below, with the admin UI among its routes
        return await plane.test_fire(document, tag_id, wire, test_code)

    if settings.admin_ui:
        ui = AdminUI(
            store,
            signer=signer,
            secrets_key=settings.secrets_key,
            check_hit=check_hit,
            test_fire=test_fire,
        )
        routes.append(Mount("/admin", app=ui))
    plane = create_app(
        settings,
        store,
        containers,
        [*routes, *(extra_routes or [])],
        watcher=watcher,
        secrets=secrets,
        remote=remote,
    )
    return _behind_proxies(plane, settings)


def build_control_plane(
    settings: Settings, store: Store, signer: Ed25519PrivateKey | None
) -> ASGIApp:
    """What `tagwire admin` runs: the admin UI and the admin and config APIs over the
    store, and no data plane (no /collect, no loader, no sender)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    ui = AdminUI(store, signer=signer, secrets_key=settings.secrets_key, check_hit=check_hit)
    routes: list[BaseRoute] = [
        Route("/", lambda request: RedirectResponse("/admin/", 303), methods=["GET"]),
        *control_plane_routes(store),
        Mount("/admin", app=ui),
    ]
    return _behind_proxies(Starlette(routes=routes, lifespan=lifespan), settings)


def _behind_proxies(app: ASGIApp, settings: Settings) -> ASGIApp:
    """`app` taking the scheme from TAGWIRE_TRUSTED_PROXIES' X-Forwarded-Proto (as is,
    when no proxy is trusted)."""
    return ForwardedScheme(app, settings.trusted_proxies) if settings.trusted_proxies else app

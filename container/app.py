"""The data-plane ASGI app: explicit wiring of store, pipeline, outbox writer and sender."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from config.preview_tokens import PREVIEW_KEY
from config.publishing import LIVE
from config.settings import Settings
from config.storage import StorageError, Store
from container.collect import CollectEndpoint
from container.config_source import HttpConfigSource
from container.containers import ContainerSet
from container.delivery.fire_once import FireOnceSweeper
from container.delivery.orphans import OrphanSweeper
from container.delivery.outbox import OutboxWriter
from container.delivery.retention import RetentionPruner
from container.delivery.routes import PlatformRoutes
from container.delivery.sender import Sender
from container.fire_api import FireEndpoint
from container.gtag import GtagEndpoint, MeasurementProtocolEndpoint
from container.guards import Guards
from container.guards.spike_sync import SpikeSync
from container.lanes import TagLanes
from container.loader import LoaderFiles, loader_scripts
from container.metrics import exposition
from container.node_secrets import NodeSecrets
from container.preview.routes import PreviewLinks
from container.preview.runner import PreviewRunner
from container.preview.sessions import PreviewSessions
from container.preview.writer import TraceWriter
from container.reload import Build, ConfigWatcher, builder
from container.tag_retry import TagRetrier
from container.trials import TrialRunner

__all__ = ["DataPlane", "create_app"]

log = logging.getLogger("tagwire.app")

REFERENCE_KEY = "secret-references"  # the node key that signs secret references
PREVIEW_POLL_S = 2.0  # how soon a revoked preview session stops on every node


class DataPlane:
    """The node's ASGI app: `/collect` goes straight to its endpoint, the rest to Starlette.

    The collect endpoint handles its own errors and answers, so it skips the router and
    the middleware stack; that is a fifth of the CPU of a small hit. Everything else
    (health, the loader, the Fire API and any routes composed in) keeps Starlette's
    routing and error pages.
    """

    def __init__(self, collect: CollectEndpoint, app: Starlette, test_fire: TrialRunner) -> None:
        self.collect = collect
        self.app = app
        self.test_fire = test_fire

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/collect"
            and scope["method"]
            in (
                "POST",
                "OPTIONS",
            )
        ):
            await self.collect(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(
    settings: Settings,
    store: Store,
    containers: ContainerSet,
    extra_routes: list[BaseRoute] | None = None,
    watcher: ConfigWatcher | None = None,
    secrets: NodeSecrets | None = None,
    remote: HttpConfigSource | None = None,
) -> DataPlane:
    """`extra_routes` are served beside the data plane's own: the control plane's APIs
    and the demo, which the `tagwire` command composes in. `watcher`, when given, loads
    the published versions into `containers` before the node reports ready, then keeps
    following them (hot reload). `secrets` fills the
    secret references in requests as the sender sends them. `remote`, when given, is
    the control plane the watcher pulls from; its connections close on shutdown."""
    platforms = PlatformRoutes.from_settings(settings)
    sender = Sender(
        store,
        concurrency=settings.sender_concurrency,
        timeout=settings.send_timeout,
        max_attempts=settings.max_attempts,
        routes=platforms,
        batch_flush_ms=settings.batch_flush_ms,
        secrets=secrets,
        egress=settings.egress_allow,
    )
    writer = OutboxWriter(
        store,
        on_commit=sender.wake,
        fire_once_ttl_ms=settings.fire_once_ttl_hours * 3_600_000,
        routes=platforms,
    )
    sweeper = FireOnceSweeper(store)
    orphans = OrphanSweeper(store, on_released=sender.wake)
    retention = (
        RetentionPruner(store, settings.retention_days * 86_400_000)
        if settings.retention_days
        else None
    )
    lanes = TagLanes(
        settings.tag_workers,
        settings.tag_queue,
        stuck_after_s=max(10.0, 4 * settings.tag_deadline_ms / 1000),
    )
    retrier = TagRetrier(
        store,
        containers,
        lanes,
        on_queued=sender.wake,
        routes=platforms,
        fire_once_ttl_ms=settings.fire_once_ttl_hours * 3_600_000,
    )
    guards = Guards.from_settings(settings, int(time.time() * 1000))
    spike_sync = SpikeSync(guards.spikes, store)
    node_secrets = secrets or NodeSecrets(None, None, lambda name: None)
    build = builder(node_secrets, settings.allow_http_loopback, settings.tag_deadline_ms)
    previews = _previews(settings, store, build)
    collect = CollectEndpoint(
        containers, writer, lanes, settings.trusted_proxies, settings.cookie_domain,
        guards=guards, previews=previews,
    )  # fmt: skip

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await store.ping()
        except StorageError as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, 503)
        if not containers:
            return JSONResponse({"status": "unavailable", "reason": "no container loaded"}, 503)
        return JSONResponse(
            {
                "status": "ready",
                "containers": _live(containers),
                "environments": _served(containers),
                "quarantined": _quarantined(containers),
            }
        )

    async def metrics(request: Request) -> Response:
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        if secrets is not None:
            secrets.use_key(await store.node_key(REFERENCE_KEY))
        released = await store.release_inflight()
        if released:
            log.info(
                "released rows a stopped node left inflight", extra={"fields": {"rows": released}}
            )
        if watcher is not None:
            await watcher.sync()
            watcher.start()
        lanes.start()
        writer.start()
        sweeper.start()
        spike_sync.start()
        if previews is not None:
            await previews.sessions.start(await store.node_key(PREVIEW_KEY))
            previews.traces.start()
        if settings.sender:
            sender.start()
            retrier.start()
            orphans.start()
            if retention is not None:
                retention.start()
        log.info(
            "tagwire ready",
            extra={"fields": {"containers": _live(containers), "sender": settings.sender}},
        )
        try:
            yield
        finally:
            if watcher is not None:
                await watcher.stop()
            if remote is not None:
                await remote.aclose()
            await sweeper.stop()
            await spike_sync.stop()
            await orphans.stop()
            if retention is not None:
                await retention.stop()
            if previews is not None:
                await previews.sessions.stop()
                await previews.traces.stop()
            await retrier.stop()
            await writer.stop()
            await lanes.stop()
            await sender.stop(settings.shutdown_grace_s)
            await store.close()
            log.info("tagwire stopped")

    fire = FireEndpoint(
        containers, writer, lanes, store, settings.idempotency_ttl_hours, value_guard=guards.value
    )
    loader = LoaderFiles(containers, loader_scripts(settings), cookie_domain=settings.cookie_domain)
    gtag = GtagEndpoint(collect, containers)
    measurement_protocol = MeasurementProtocolEndpoint(collect, containers, node_secrets.value)
    routes: list[BaseRoute] = [
        Route("/collect", collect, methods=["POST", "OPTIONS"]),
        Route("/g/collect", gtag, methods=["GET", "POST", "OPTIONS"]),
        Route("/mp/collect", measurement_protocol, methods=["POST"]),
        *fire.routes(),
        *loader.routes(),
        *(PreviewLinks(previews.sessions).routes() if previews is not None else []),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *(extra_routes or []),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    # No trailing-slash redirects: Starlette builds their Location from the Host header.
    app.router.redirect_slashes = False
    test_fire = TrialRunner(build, writer, refresh=node_secrets.refresh)
    return DataPlane(collect, app, test_fire)


def _previews(settings: Settings, store: Store, build: Build) -> PreviewRunner | None:
    """Preview sessions, honoured unless the setting turns them off."""
    if not settings.preview:
        return None
    sessions = PreviewSessions(store, build, interval_s=PREVIEW_POLL_S)
    retention_ms = settings.preview_retention_hours * 3_600_000
    traces = TraceWriter(store, settings.preview_traces, retention_ms)
    return PreviewRunner(sessions, traces, store)


def _live(containers: ContainerSet) -> list[str]:
    return [container_id for (container_id, env), _ in containers.items() if env == LIVE]


def _served(containers: ContainerSet) -> list[dict[str, Any]]:
    """Each environment this node serves and the version it runs (None: a document file)."""
    return [
        {"container": container_id, "env": env, "version": compiled.version}
        for (container_id, env), compiled in containers.items()
    ]


def _quarantined(containers: ContainerSet) -> list[dict[str, Any]]:
    """Tags this node stopped running because their templates keep hitting limits."""
    return [
        {"container": container_id, "env": env, **entry}
        for (container_id, env), compiled in containers.items()
        for entry in compiled.quarantine.snapshot()
    ]

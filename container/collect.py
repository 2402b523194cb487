"""`POST /collect`: the loader's endpoint.

Validates each hit, adds the request facts the browser cannot be trusted for, runs the
container's pipeline and answers only after the queued requests are committed. Bad input
gets a 4xx naming the field; good hits in a batch are kept when others are bad.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from config.storage import OutboxRow, StorageError
from container.client_ip import Network, client_ip, is_trusted
from container.delivery.outbox import OutboxWriter
from container.hit import MAX_BODY_BYTES, BodyError, parse_body, validate_hit
from container.pipeline import CompiledContainer
from variables.consent import storage_granted
from variables.hit import Hit

__all__ = ["COOKIE_NAME", "CollectEndpoint"]

log = logging.getLogger("tagwire.collect")

COOKIE_NAME = "tw_id"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers honour (400 days)
MAX_EVENT_AGE_MS = 24 * 3600 * 1000
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_CONTENT_TYPES = ("application/json", "text/plain")


def _json(status: int, body: Mapping[str, Any], headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _error(status: int, field: str, reason: str, headers: dict[str, str]) -> Response:
    return _json(status, {"errors": [{"field": field, "reason": reason}]}, headers)


class CollectEndpoint:
    def __init__(
        self,
        containers: Mapping[str, CompiledContainer],
        writer: OutboxWriter,
        trusted_proxies: Sequence[Network],
        cookie_domain: str,
    ) -> None:
        self.containers = containers
        self._writer = writer
        self._trusted = tuple(trusted_proxies)
        self._cookie_suffix = f"; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax"
        if cookie_domain:
            self._cookie_suffix += f"; Domain={cookie_domain}"

    def _is_https(self, request: Request) -> bool:
        if request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else ""
        return (
            request.headers.get("x-forwarded-proto") == "https"
            and bool(self._trusted)
            and is_trusted(peer, self._trusted)
        )

    def _cors(
        self, request: Request, container: CompiledContainer
    ) -> tuple[dict[str, str], str | None]:
        """CORS headers for an allowed origin, or the reason a present origin is refused."""
        origin = request.headers.get("origin")
        if origin is None:
            return {}, None  # not a browser fetch: server-to-server or sendBeacon without CORS
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin != own and origin not in container.allowed_origins:
            return {}, f"origin {origin!r} is not in container {container.id!r} allowed_origins"
        return {
            "access-control-allow-origin": origin,
            "access-control-allow-credentials": "true",
            "vary": "Origin",
        }, None

    async def handle(self, request: Request) -> Response:
        container_id = request.query_params.get("id")
        if not container_id:
            return _error(400, "id", "required query parameter: the container id", {})
        container = self.containers.get(container_id)
        if container is None:
            return _error(404, "id", f"unknown container {container_id!r}", {})
        headers, refused = self._cors(request, container)
        if refused:
            return _error(403, "Origin", refused, {})
        if request.method == "OPTIONS":
            headers["access-control-allow-methods"] = "POST"
            headers["access-control-allow-headers"] = "content-type"
            headers["access-control-max-age"] = "86400"
            return Response(status_code=204, headers=headers)
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in _CONTENT_TYPES:
            return _error(415, "Content-Type", "must be application/json or text/plain", headers)
        try:
            body = await _read_body(request)
            candidates = parse_body(body)
        except BodyError as exc:
            return _error(exc.status, exc.field, exc.reason, headers)
        return await self._accept(request, container, candidates, headers)

    async def _accept(
        self,
        request: Request,
        container: CompiledContainer,
        candidates: list[Any],
        headers: dict[str, str],
    ) -> Response:
        now_ms = int(time.time() * 1000)
        request_headers = request.headers
        peer = request.client.host if request.client else ""
        ip = client_ip(peer, request_headers.get("x-forwarded-for"), self._trusted)
        user_agent = request_headers.get("user-agent", "")[:512]
        sec_gpc = request_headers.get("sec-gpc") == "1"
        trace_id = secrets.token_hex(8)
        cookie = request.cookies.get(COOKIE_NAME)
        client_id = cookie if cookie and _CLIENT_ID.fullmatch(cookie) else None
        set_cookie = False
        errors: list[dict[str, Any]] = []
        accepted: list[int] = []
        rows: list[OutboxRow] = []
        for index, wire in enumerate(candidates):
            problems = validate_hit(wire)
            if problems:
                errors.extend({"index": index, "field": f, "reason": r} for f, r in problems)
                continue
            accepted.append(index)
            hit_client_id = None
            if storage_granted(wire.get("consent")):
                if client_id is None:
                    client_id = secrets.token_urlsafe(16)
                hit_client_id = client_id
                set_cookie = True
            ts = wire.get("ts", now_ms)
            hit = Hit(
                container_id=container.id,
                event=wire["event"],
                event_id=wire["event_id"],
                wire=wire,
                event_time_ms=min(now_ms, max(ts, now_ms - MAX_EVENT_AGE_MS)),
                received_ms=now_ms,
                client_ip=ip,
                user_agent=user_agent,
                client_id=hit_client_id,
                sec_gpc=sec_gpc,
                trace_id=trace_id,
            )
            rows.extend(container.run(hit))
        if errors:
            log.info(
                "hits rejected",
                extra={"fields": {"container": container.id, "trace_id": trace_id,
                                  "rejected": len(candidates) - len(accepted),
                                  "errors": errors[:10]}},
            )  # fmt: skip
        if not accepted:
            return _json(400, {"errors": errors}, headers)
        if rows:
            try:
                await self._writer.enqueue(rows)
            except StorageError:
                log.exception("outbox commit failed", extra={"fields": {"trace_id": trace_id}})
                headers["retry-after"] = "5"
                return _error(503, "store", "temporarily unavailable; retry later", headers)
        if set_cookie:
            secure = "; Secure" if self._is_https(request) else ""
            headers["set-cookie"] = f"{COOKIE_NAME}={client_id}{self._cookie_suffix}{secure}"
        if errors:
            return _json(207, {"accepted": accepted, "errors": errors}, headers)
        return Response(status_code=204, headers=headers)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyError("Content-Length", "must be a whole number of bytes")
        if int(declared) > MAX_BODY_BYTES:
            raise BodyError("body", f"larger than {MAX_BODY_BYTES} bytes", 413)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyError("body", f"larger than {MAX_BODY_BYTES} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)

"""`GET /loader.js?id=CONTAINER[&env=ENV]` and `GET /loader-consented.js`: the loader's
two files, and `POST /forget`, which deletes tagwire's cookies when a visitor withdraws
consent (`forget`). A loader sends its hits to the environment it was fetched for ("live"
without `env`).

Caching: the plain loader URL is cached for five minutes and revalidated by ETag, so a
settings change reaches browsers quickly; the same URL with `&v=VERSION` (the version is
in the `Content-Location` header) is immutable for a year, for sites that pin it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from container.containers import ContainerSet, NotServed
from container.loader.bundle import PIXELS_PATH, Asset, build_loader, build_pixels, collect_query
from container.loader.forget import FORGET_PATH, Forget
from container.pipeline import CompiledContainer

__all__ = ["LOADER_PATH", "LoaderFiles"]

LOADER_PATH = "/loader.js"
SHORT_CACHE = "public, max-age=300"
LONG_CACHE = "public, max-age=31536000, immutable"
JS = "text/javascript; charset=utf-8"


def _error(status: int, field: str, reason: str) -> Response:
    return JSONResponse({"errors": [{"field": field, "reason": reason}]}, status)


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _matches(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


class LoaderFiles:
    """Builds each environment's loader on first request and keeps it with its ETag until
    a reload swaps in another version of that environment."""

    def __init__(
        self, containers: ContainerSet, scripts: dict[str, str], *, cookie_domain: str = ""
    ) -> None:
        """`cookie_domain` is `TAGWIRE_COOKIE_DOMAIN`, where `/forget` deletes cookies
        besides the container's domain and the request host's own domains."""
        self.containers = containers
        self.scripts = dict(scripts)
        self.forget = Forget(containers, cookie_domain)
        self.consented = build_pixels()
        # (id, env) -> ((version, consent policy, default country) it was built for, the loader)
        self._built: dict[tuple[str, str], tuple[tuple[int | None, str, str | None], Asset]] = {}

    def asset(self, container: CompiledContainer) -> Asset:
        key = (container.id, container.env)
        made_for = (container.version, container.consent_policy, container.default_country)
        built = self._built.get(key)
        if built is not None and built[0] == made_for:
            return built[1]
        asset = build_loader(
            container.id,
            container.consent_policy,
            self.scripts,
            self.consented,
            env=container.env,
            default_country=container.default_country,
        )
        self._built[key] = (made_for, asset)
        return asset

    def routes(self) -> list[Route]:
        return [
            Route(LOADER_PATH, self.loader, methods=["GET", "HEAD"]),
            Route(PIXELS_PATH, self.consented_file, methods=["GET", "HEAD"]),
            Route(FORGET_PATH, self.forget.answer, methods=["POST"]),
        ]

    async def loader(self, request: Request) -> Response:
        query = request.query_params
        try:
            container = self.containers.resolve(query.get("id"), query.get("env"))
        except NotServed as refused:
            return _error(refused.status, refused.field, refused.reason)
        asset = self.asset(container)
        version = query.get("v")
        if version is None:
            cache = SHORT_CACHE
        elif version == asset.version:
            cache = LONG_CACHE
        else:
            cache = "no-cache"  # an outdated pinned URL: serve today's file, never pin it
        response = _serve(request, asset, cache)
        response.headers["content-location"] = (
            f"{LOADER_PATH}?{collect_query(container.id, container.env)}&v={asset.version}"
        )
        return response

    async def consented_file(self, request: Request) -> Response:
        version = request.query_params.get("v")
        cache = LONG_CACHE if version == self.consented.version else SHORT_CACHE
        return _serve(request, self.consented, cache)


def _serve(request: Request, asset: Asset, cache: str) -> Response:
    headers = {
        "cache-control": cache,
        "etag": asset.etag,
        "vary": "accept-encoding",
        "x-content-type-options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if _accepts_gzip(request.headers.get("accept-encoding", "")):
        body = asset.gzipped
        headers["content-encoding"] = "gzip"
    if request.method == "HEAD":
        headers["content-length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=JS)
    return Response(body, headers=headers, media_type=JS)

"""`POST /forget?id=CONTAINER[&env=ENV]`: deletes the cookies tagwire set in this browser.

The loader calls it when a visitor withdraws consent. `tw_id` is HttpOnly, so only the node
can delete it; the same answer deletes every cookie the container's tags may set (`_fbp`,
`_fbc`, `_ga`, ...). A cookie is deleted only by a `Set-Cookie` with its name, path and
domain, and a browser never says which domain a cookie has, so each name is deleted
host-only, at the container's domain and the node's cookie domain, and at every parent
domain of the request's host. A browser ignores a deletion for a domain the host is not
part of.

A browser request from another site's page is refused as `/collect` refuses it (see
container/site_domain.py): a foreign page must not be able to wipe a visitor's cookies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from container.collect import COOKIE_NAME
from container.containers import ContainerSet, NotServed
from container.pipeline import CompiledContainer
from container.site_domain import host_of, origin_refusal

__all__ = ["FORGET_PATH", "Forget", "cookie_names", "deletions"]

FORGET_PATH = "/forget"


def cookie_names(container: CompiledContainer) -> list[str]:
    """tagwire's visitor id and every cookie a tag of the container is allowed to set."""
    names = [COOKIE_NAME]
    for tag in container.tags:
        names.extend(tag.binding.package.manifest.set_cookies)
    return list(dict.fromkeys(names))


def _domains(host: str, cookie_domains: Iterable[str]) -> list[str]:
    """The domains a cookie for `host` may have been set at: the configured ones and each
    parent of the host with at least two labels (none for an IP address, which is never a
    cookie domain)."""
    domains = [d.lstrip(".").lower() for d in cookie_domains]
    host = host.lower().rstrip(".")
    if not _is_ip(host):
        labels = host.split(".")
        domains.extend(".".join(labels[i:]) for i in range(len(labels) - 1))
    return list(dict.fromkeys(d for d in domains if d and not _is_ip(d)))


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def deletions(names: Iterable[str], host: str, *cookie_domains: str) -> list[str]:
    """`Set-Cookie` values that delete each cookie host-only and at each domain it may
    have (tagwire sets every cookie with `Path=/`); `cookie_domains` are the container's
    and the node's."""
    domains = ["", *(f"; Domain={d}" for d in _domains(host, cookie_domains))]
    return [
        f"{name}=; Path=/; Max-Age=0; SameSite=Lax{domain}" for name in names for domain in domains
    ]


def _error(status: int, field: str, reason: str) -> Response:
    return JSONResponse({"errors": [{"field": field, "reason": reason}]}, status)


class Forget:
    """The endpoint; `cookie_domain` is the node's `TAGWIRE_COOKIE_DOMAIN`."""

    def __init__(self, containers: ContainerSet, cookie_domain: str = "") -> None:
        self.containers = containers
        self.cookie_domain = cookie_domain

    async def answer(self, request: Request) -> Response:
        query = request.query_params
        try:
            container = self.containers.resolve(query.get("id"), query.get("env"))
        except NotServed as refused:
            return _error(refused.status, refused.field, refused.reason)
        origin = request.headers.get("origin")
        if origin is not None:
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            refusal = origin_refusal(
                origin, own, container.id, container.domain, container.allowed_origins
            )
            if refusal is not None:
                return _error(403, "Origin", refusal)
        response = Response(status_code=204, headers={"cache-control": "no-store"})
        host = host_of(request.headers.get("host", ""))
        domains = (container.domain or "", self.cookie_domain)
        for value in deletions(cookie_names(container), host, *domains):
            response.headers.append("set-cookie", value)
        return response

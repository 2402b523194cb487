"""`POST /forget?id=CONTAINER[&env=ENV]`: deletes the cookies tagwire set in this browser.

The loader calls it when a visitor withdraws consent. `tw_id` is HttpOnly, so only the node
can delete it; the same answer deletes every cookie the container's tags may set (`_fbp`,
`_fbc`, `ttclid`, ...). A cookie is deleted only by a `Set-Cookie` with its name, path and
domain, and a browser never says which domain a cookie has, so each name is deleted
host-only, at the configured cookie domain, and at every parent domain of the request's
host. A browser ignores a deletion for a domain the host is not part of.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from container.collect import COOKIE_NAME
from container.containers import ContainerSet, NotServed
from container.pipeline import CompiledContainer

__all__ = ["FORGET_PATH", "Forget", "cookie_names", "deletions"]

FORGET_PATH = "/forget"


def cookie_names(container: CompiledContainer) -> list[str]:
    """tagwire's visitor id and every cookie a tag of the container is allowed to set."""
    names = [COOKIE_NAME]
    for tag in container.tags:
        names.extend(tag.binding.package.manifest.set_cookies)
    return list(dict.fromkeys(names))


def _domains(host: str, cookie_domain: str) -> list[str]:
    """The domains a cookie for `host` may have been set at: the configured one and each
    parent of the host with at least two labels (none for an IP address)."""
    domains = [cookie_domain.lstrip(".").lower()] if cookie_domain else []
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        labels = host.split(".")
        domains.extend(".".join(labels[i:]) for i in range(len(labels) - 1))
    return list(dict.fromkeys(d for d in domains if d))


def deletions(names: Iterable[str], host: str, cookie_domain: str = "") -> list[str]:
    """`Set-Cookie` values that delete each cookie host-only and at each domain it may
    have (tagwire sets every cookie with `Path=/`)."""
    domains = ["", *(f"; Domain={d}" for d in _domains(host, cookie_domain))]
    return [
        f"{name}=; Path=/; Max-Age=0; SameSite=Lax{domain}" for name in names for domain in domains
    ]


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
            return JSONResponse(
                {"errors": [{"field": refused.field, "reason": refused.reason}]}, refused.status
            )
        response = Response(status_code=204, headers={"cache-control": "no-store"})
        host = request.url.hostname or ""
        for value in deletions(cookie_names(container), host, self.cookie_domain):
            response.headers.append("set-cookie", value)
        return response

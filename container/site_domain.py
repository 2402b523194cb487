"""A container's site: the browser origins it takes hits from and the `Domain=` of the
cookies set for its hits.

Several clients' containers can share one node, each reached at a host of its own site
(`t.client-a.com`, `t.client-b.com`). The container document's `domain` (`client-a.com`)
names that site; without one, the node-wide `TAGWIRE_COOKIE_DOMAIN` is the cookie domain
and the origin rule is the collector's own origin plus `allowed_origins`.

A cookie gets a `Domain` only when the request's host is that domain or below it: a
browser drops a cookie whose domain does not cover the host it came from, so such a
cookie is set host-only instead (and the node logs it once per container).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection

__all__ = ["cookie_domain", "host_of", "origin_refusal", "within"]

_ORIGIN = re.compile(r"(https?)://([^/?#@\s]+)")
_PORT = re.compile(r"[0-9]{1,5}")


def host_of(authority: str) -> str:
    """The host of a `Host` header or an origin's authority: lower case, without the
    port and without an IPv6 address's brackets."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    name, colon, port = authority.rpartition(":")
    if colon and _PORT.fullmatch(port):
        authority = name
    return authority.rstrip(".")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_ip(host: str) -> bool:
    return _ip(host) is not None


def _is_loopback(host: str) -> bool:
    ip = _ip(host)
    return host == "localhost" if ip is None else ip.is_loopback


def within(host: str, domain: str) -> bool:
    """Whether `host` is `domain` or a subdomain of it; an IP address only matches itself."""
    if host == domain:
        return True
    return not _is_ip(domain) and host.endswith("." + domain)


def cookie_domain(wanted: str | None, host: str) -> str | None:
    """The `Domain` attribute for a cookie a request to `host` sets, when `wanted` is the
    domain the container (or the node) asks for; None: host-only. An IP address is never a
    cookie domain (the cookie is host-only on it anyway)."""
    if not wanted or _is_ip(wanted) or not within(host, wanted):
        return None
    return wanted


def origin_refusal(
    origin: str,
    own: str,
    container_id: str,
    domain: str | None,
    allowed_origins: Collection[str],
) -> str | None:
    """Why a browser request from `origin` for this container is refused, or None.

    Listed `allowed_origins` always pass. With a `domain`, so does any http(s) origin whose
    host is the domain or below it, and the node's own origin on a loopback host (the demo
    and local tools); another site's page is refused even when it is the node's own origin,
    which is what keeps two clients on one node apart. Without a `domain`: the node's own
    origin, as before per-container domains."""
    if origin in allowed_origins:
        return None
    if domain is None:
        if origin == own:
            return None
        return f"origin {origin!r} is not in container {container_id!r} allowed_origins"
    match = _ORIGIN.fullmatch(origin)
    if match is not None:
        host = host_of(match.group(2))
        if within(host, domain) or (origin == own and _is_loopback(host)):
            return None
    return (
        f"origin {origin!r} is not on container {container_id!r} domain {domain!r} "
        "(or a subdomain of it) and not in its allowed_origins"
    )

"""Which address a request really came from.

`X-Forwarded-For` is only believed when the peer is a configured trusted proxy; then the
chain is walked from the right, skipping trusted hops, and the first untrusted address is
the client. Anything else would let a visitor choose the IP that platforms see.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["client_ip", "is_trusted"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.9:5123"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    ip = _parse(address)
    return ip is not None and any(ip in network for network in trusted)


def client_ip(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    if not forwarded_for or not trusted or not is_trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        ip = _parse(hop)
        if ip is None:
            break  # garbage: nothing left of it can be believed
        client = str(ip)
        if not any(ip in network for network in trusted):
            break
    return client

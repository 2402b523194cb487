"""The egress policy at the connect seam: every connection the sender opens is checked.

`GuardedNetwork.addresses` takes the host of the URL, resolves it once (the resolver is
injectable, so tests use a stub and never reach DNS), asks the policy (`config.egress`)
about every address it got, and returns those checked addresses: the connection goes to
them, never to the name again, so there is no second lookup that could answer
differently between the check and the connect. A refused host raises `EgressRefused`
before any socket is opened; the sender dead-letters the row with its reason.

The sender's keep-alive pool (`container.delivery.pool`) calls `addresses` for every new
connection. `GuardedNetwork` is also an httpcore network backend, and `EgressTransport`
is httpx's own transport whose connections all open through it, for httpx clients.

Redirects are not followed (the pool never follows one): a 3xx is the answer.

Environment proxies (`HTTPS_PROXY`, …) are not used: a proxy would do the resolving, out of
the policy's sight.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from config.egress import EgressPolicy, IPAddress, normalize_host, parse_literal

__all__ = [
    "EgressRefused",
    "EgressTransport",
    "GuardedNetwork",
    "Resolver",
    "system_resolver",
]

# host, port -> the addresses to try, in order
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class EgressRefused(Exception):
    """The policy refuses the request's host; `reason` says why, and nothing about ports."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's answer (hosts file, DNS), each address once, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedNetwork(httpcore.AsyncNetworkBackend):
    """Resolves, checks and then connects to the checked addresses through `network`."""

    def __init__(
        self,
        policy: EgressPolicy,
        resolver: Resolver = system_resolver,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._network = network or httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        """The addresses a connection to `host` may use; raises `EgressRefused` when the
        policy refuses any of them, httpcore's connect errors when there are none."""
        name = normalize_host(host)
        refused = self._policy.check_name(name)
        if refused is not None:
            raise EgressRefused(refused)
        literal = parse_literal(name)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = await asyncio.wait_for(self._resolver(name, port), timeout)
            except TimeoutError:
                raise httpcore.ConnectTimeout("the host name did not resolve in time") from None
            except OSError:
                raise httpcore.ConnectError("the host name did not resolve") from None
            if not found:
                raise httpcore.ConnectError("the host name did not resolve")
        refused = self._policy.check(name, found)
        if refused is not None:
            raise EgressRefused(refused)
        return found

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in await self.addresses(host, port, timeout):
            try:
                return await self._network.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses() never returns an empty list
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused("egress refused: the sender does not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class EgressTransport(httpx.AsyncHTTPTransport):
    """httpx's transport whose connections all go through a `GuardedNetwork`."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        limits: httpx.Limits,
        resolver: Resolver = system_resolver,
        network: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=True),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetwork(policy, resolver, network),
        )

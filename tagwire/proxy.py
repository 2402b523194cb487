"""The scheme a visitor used, when a trusted reverse proxy terminates TLS in front of tagwire.

Behind such a proxy every connection tagwire sees is plain http, so pages that compare a
form's `Origin` with their own origin, set `Secure` cookies or print links would all get
the scheme wrong (the admin UI would refuse every form). For a request whose peer is one
of `TAGWIRE_TRUSTED_PROXIES` and that carries `X-Forwarded-Proto: https`, this ASGI
middleware sets the request's scheme to https before the app sees it; from any other
peer the header is ignored, as `X-Forwarded-For` is. `/collect` is left alone: it
checks the forwarded scheme itself, only when it sets a cookie.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from container.client_ip import Network, is_trusted

__all__ = ["ForwardedScheme"]

_PROTO = b"x-forwarded-proto"


class ForwardedScheme:
    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self._trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["scheme"] == "http"
            and scope["path"] != "/collect"
            and _forwarded_https(scope, self._trusted)
        ):
            scope = {**scope, "scheme": "https"}
        await self.app(scope, receive, send)


def _forwarded_https(scope: Scope, trusted: tuple[Network, ...]) -> bool:
    proto = next((v for k, v in scope["headers"] if k == _PROTO), None)
    if proto is None or proto.split(b",", 1)[0].strip().lower() != b"https":
        return False
    client = scope.get("client")
    return client is not None and is_trusted(client[0], trusted)

"""Response headers every admin page carries: a strict CSP with a per-response nonce, no
framing, no sniffing, no referrer leaks, no caching of pages that show a client's data.

The nonce goes on the request's scope for templates to put on their one script tag; the
stylesheet is same-origin, so no inline style or script is ever needed.
"""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["NONCE_KEY", "SecurityHeaders"]

NONCE_KEY = "tagwire.csp_nonce"


def _headers(nonce: str) -> list[tuple[bytes, bytes]]:
    csp = (
        "default-src 'none'; "
        f"script-src 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),  # "no-referrer" would make forms send Origin: null
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        (b"cache-control", b"no-store"),
    ]


class SecurityHeaders:
    """ASGI middleware: sets the nonce on the scope and the headers on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope[NONCE_KEY] = nonce
        extra = _headers(nonce)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in extra}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

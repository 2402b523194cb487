"""Fake OAuth 2.0 token endpoints: Google's and LinkedIn's `grant_type=refresh_token`.

`POST /google-oauth/token` stands for `https://oauth2.googleapis.com/token`, and
`POST /linkedin-oauth/oauth/v2/accessToken` for `https://www.linkedin.com/oauth/v2/accessToken`.
Both take a form with `grant_type`, `refresh_token`, `client_id` and `client_secret`, and
answer with a bearer token that lives `OAuthClient.lifetime_s` by the fake's clock, or with
the provider's `{"error", "error_description"}` (`invalid_grant` for a refresh token it did
not issue).

The tokens carry their own expiry under an HMAC keyed by the client secret, so the
conversion APIs check them (`check`) without shared state: an expired one gets the
platform's 401. Token requests are recorded under the platform they serve, with the
refresh token, the client secret and the minted token redacted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fake_platforms.accounts import OAuthClient
from fake_platforms.exchange import REDACTED, Context
from fake_platforms.recorder import RequestRecord

__all__ = ["GOOGLE_PATH", "LINKEDIN_PATH", "Provider", "check", "routes"]

Provider = Literal["google", "linkedin"]
GOOGLE_PATH = "/google-oauth/token"
LINKEDIN_PATH = "/linkedin-oauth/oauth/v2/accessToken"
PREFIX = {"google": "ya29.fake", "linkedin": "AQVfake"}
PLATFORM = {"google": "google_ads", "linkedin": "linkedin"}
SCOPE = {"google": "https://www.googleapis.com/auth/adwords", "linkedin": "rw_conversions"}
SECRET_FIELDS = frozenset({"refresh_token", "client_secret"})
MAC_HEX = 32


def _client(ctx: Context, provider: Provider) -> OAuthClient:
    return ctx.accounts.google_oauth if provider == "google" else ctx.accounts.linkedin_oauth


def _mac(client: OAuthClient, provider: Provider, expires_ms: int, nonce: str) -> str:
    key = hashlib.sha256(b"fake-oauth\0" + client.client_secret.encode()).digest()
    message = f"{provider}\0{expires_ms}\0{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:MAC_HEX]


def _mint(ctx: Context, provider: Provider) -> str:
    client = _client(ctx, provider)
    expires_ms = ctx.now_ms() + client.lifetime_s * 1000
    nonce = secrets.token_hex(8)
    return f"{PREFIX[provider]}.{expires_ms}.{nonce}.{_mac(client, provider, expires_ms, nonce)}"


def check(ctx: Context, provider: Provider, token: str) -> Literal["valid", "expired", "unknown"]:
    """Whether `token` is one this fake minted for `provider`, and still alive."""
    parts = token.rsplit(".", 3)
    if len(parts) != 4 or parts[0] != PREFIX[provider] or not parts[1].isdigit():
        return "unknown"
    _, expires, nonce, mac = parts
    expected = _mac(_client(ctx, provider), provider, int(expires), nonce)
    if not hmac.compare_digest(mac, expected):
        return "unknown"
    return "valid" if ctx.now_ms() < int(expires) else "expired"


def _refused(status: int, error: str, description: str) -> tuple[int, dict[str, object]]:
    return status, {"error": error, "error_description": description}


def _exchange(
    ctx: Context, provider: Provider, form: dict[str, str]
) -> tuple[int, dict[str, object]]:
    """The answer to a token request's form, as the provider words it."""
    client = _client(ctx, provider)
    grant = form.get("grant_type")
    if not grant:
        return _refused(400, "invalid_request", "Missing required parameter: grant_type")
    if grant != "refresh_token":
        return _refused(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
    for name in ("refresh_token", "client_id", "client_secret"):
        if not form.get(name):
            return _refused(400, "invalid_request", f"Missing required parameter: {name}")
    if form["client_id"] != client.client_id:
        description = (
            "The OAuth client was not found." if provider == "google"
            else "Client authentication failed"
        )  # fmt: skip
        return _refused(401, "invalid_client", description)
    if form["client_secret"] != client.client_secret:
        description = "Unauthorized" if provider == "google" else "Client authentication failed"
        return _refused(401, "invalid_client", description)
    if form["refresh_token"] != client.refresh_token:
        description = (
            "Token has been expired or revoked." if provider == "google"
            else "The provided authorization grant or refresh token is invalid, expired or revoked"
        )  # fmt: skip
        return _refused(400, "invalid_grant", description)
    answer: dict[str, object] = {
        "access_token": _mint(ctx, provider),
        "expires_in": client.lifetime_s,
        "scope": SCOPE[provider],
    }
    if provider == "google":
        answer["token_type"] = "Bearer"  # noqa: S105 - the token's type, not a secret
    else:
        answer["refresh_token"] = client.refresh_token
        answer["refresh_token_expires_in"] = 31_536_000
    return 200, answer


def _endpoint(ctx: Context, provider: Provider) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        received_ms = ctx.now_ms()
        raw = await request.body()
        kind = request.headers.get("content-type", "")
        if request.method != "POST":
            status, answer = _refused(405, "invalid_request", "Use POST")
            form: dict[str, str] = {}
        elif not kind.startswith("application/x-www-form-urlencoded"):
            status, answer = _refused(
                400, "invalid_request",
                "The request must be application/x-www-form-urlencoded",
            )  # fmt: skip
            form = {}
        else:
            form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            status, answer = _exchange(ctx, provider, form)
        shown = {k: REDACTED if k in SECRET_FIELDS else v for k, v in form.items()}
        kept = {k: REDACTED if k in ("access_token", "refresh_token") else v
                for k, v in answer.items()}  # fmt: skip
        reasons = (f"{answer['error']}: {answer['error_description']}",) if status != 200 else ()
        ctx.recorder.add(RequestRecord(
            PLATFORM[provider], request.method, request.url.path, dict(request.query_params),
            {k: v for k, v in request.headers.items() if k != "authorization"}, shown, status,
            kept, reasons, received_ms,
        ))  # fmt: skip
        headers = {"cache-control": "no-store", "pragma": "no-cache"}
        return Response(orjson.dumps(answer), status, headers, media_type="application/json")

    return run


def routes(ctx: Context) -> list[BaseRoute]:
    methods = ["GET", "POST", "PUT", "DELETE"]
    return [
        Route(GOOGLE_PATH, _endpoint(ctx, "google"), methods=methods),
        Route(LINKEDIN_PATH, _endpoint(ctx, "linkedin"), methods=methods),
    ]

"""OAuth access tokens the sender derives from stored secrets (Google Ads, LinkedIn).

A template that wants a fresh bearer token does not name an access token. It sets tagwire's
own header `x-tagwire-oauth: <provider> <refresh token> <client id> <client secret>`, the
last three being secret references (`container.secret_refs`), so the outbox holds neither
the refresh token nor any access token. Just before the request leaves, the sender removes
that header, reads the three secrets' current values, asks the node's `TokenManager` for
an access token and sends `Authorization: Bearer <token>`.

The manager exchanges a refresh token at the provider's token endpoint
(`grant_type=refresh_token`) and keeps the answer in memory until shortly before its
`expires_in`. Concurrent requests for the same grant share one exchange (single flight),
and a 401 from the platform asks for one more exchange unless another request already
got a newer token. A refused refresh (`invalid_grant`, `invalid_client`) is an
`OAuthFailure` that names the secrets to fix; it is remembered for `FAILED_HOLD_S`, so rows
arriving meanwhile fail without another request, while a secret set again (a new value) is
tried at once. Tokens and the three values are never logged, stored or put in an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

import orjson

from container.delivery.clock import SYSTEM_CLOCK, Clock
from container.delivery.egress import EgressRefused
from container.delivery.pool import InvalidRequest, Response, TransportFailure

__all__ = [
    "FAILED_HOLD_S",
    "HEADER",
    "PROVIDERS",
    "Grant",
    "OAuthFailure",
    "Post",
    "Provider",
    "TokenManager",
    "refresh_margin_s",
]

log = logging.getLogger("tagwire.oauth")

HEADER = "x-tagwire-oauth"
FAILED_HOLD_S = 60.0  # a refused grant is not asked again for this long (same values)
RETRY_HOLD_S = 5.0  # nor is an endpoint that did not answer usefully
MAX_MARGIN_S = 300.0  # refresh at most 5 minutes before the token expires
FORM = "application/x-www-form-urlencoded"
# token endpoint errors that a retry cannot fix: the secrets must change
REFUSED = frozenset({"invalid_grant", "invalid_client", "unauthorized_client", "invalid_request",
                     "unsupported_grant_type", "invalid_scope"})  # fmt: skip

# url, headers, body -> the answer (the sender's pool: egress rules apply)
Post = Callable[[str, dict[str, str], bytes], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    label: str
    token_url: str  # the real endpoint; node settings may route it elsewhere


PROVIDERS = {
    "google": Provider("google", "Google", "https://oauth2.googleapis.com/token"),
    "linkedin": Provider("linkedin", "LinkedIn", "https://www.linkedin.com/oauth/v2/accessToken"),
}


class OAuthFailure(Exception):
    """No access token: `outcome` is `dead` when only new secret values can help (the
    reason names them), `retry` when the endpoint may answer later."""

    def __init__(self, reason: str, outcome: Literal["dead", "retry"]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


@dataclass(frozen=True, slots=True)
class Grant:
    """What one token exchange needs: each secret as (name, current value)."""

    provider: Provider
    container_id: str
    refresh_token: tuple[str, str]
    client_id: tuple[str, str]
    client_secret: tuple[str, str]

    @property
    def key(self) -> bytes:
        """Identifies the grant by its values, so that a secret set again is a new grant."""
        parts = (self.provider.name, self.container_id, self.refresh_token[1],
                 self.client_id[1], self.client_secret[1])  # fmt: skip
        return hashlib.sha256("\0".join(parts).encode()).digest()

    def values(self) -> list[tuple[str, str]]:
        """(value, what to show instead) for masking text kept from an exchange."""
        return [(value, f"[secret {name}]")
                for name, value in (self.refresh_token, self.client_id, self.client_secret)
                if value]  # fmt: skip


def refresh_margin_s(expires_in: float) -> float:
    """How long before expiry a token is replaced: a tenth of its life, at most 5 minutes
    (a request started just before the edge must not arrive with an expired token)."""
    return min(MAX_MARGIN_S, expires_in / 10)


@dataclass(slots=True)
class _Token:
    value: str
    refresh_at: float  # Unix seconds


class TokenManager:
    """A node's access tokens, one per grant; see the module docstring."""

    def __init__(self, post: Post, clock: Clock = SYSTEM_CLOCK) -> None:
        self._post = post
        self._clock = clock
        self._tokens: dict[bytes, _Token] = {}
        self._flights: dict[bytes, asyncio.Future[str]] = {}
        self._failed: dict[bytes, tuple[OAuthFailure, float]] = {}
        self.exchanges = 0  # token requests made (tests and metrics read it)

    async def token(self, grant: Grant, stale: str | None = None) -> str:
        """A current access token for `grant`; `stale` is one the platform just refused
        (401), so a newer one is needed. Raises OAuthFailure."""
        key = grant.key
        now = self._clock.time()
        held = self._tokens.get(key)
        if held is not None and held.value != stale and now < held.refresh_at:
            return held.value
        failed = self._failed.get(key)
        if failed is not None:
            if now < failed[1]:
                raise failed[0]
            del self._failed[key]
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._exchange(grant))
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        return await asyncio.shield(flight)

    async def _exchange(self, grant: Grant) -> str:
        try:
            value, expires_in = await self._ask(grant)
        except OAuthFailure as failure:
            hold = FAILED_HOLD_S if failure.outcome == "dead" else RETRY_HOLD_S
            self._failed[grant.key] = (failure, self._clock.time() + hold)
            self._tokens.pop(grant.key, None)
            log.warning(
                "oauth refresh failed",
                extra={"fields": {"provider": grant.provider.name,
                                  "container": grant.container_id,
                                  "secret": grant.refresh_token[0], "reason": failure.reason}},
            )  # fmt: skip
            raise
        now = self._clock.time()
        self._tokens[grant.key] = _Token(value, now + expires_in - refresh_margin_s(expires_in))
        log.info(
            "oauth token refreshed",
            extra={"fields": {"provider": grant.provider.name, "container": grant.container_id,
                              "secret": grant.refresh_token[0], "expires_in": expires_in}},
        )  # fmt: skip
        return value

    async def _ask(self, grant: Grant) -> tuple[str, float]:
        provider = grant.provider
        form = urlencode({
            "grant_type": "refresh_token",
            "refresh_token": grant.refresh_token[1],
            "client_id": grant.client_id[1],
            "client_secret": grant.client_secret[1],
        }).encode()  # fmt: skip
        headers = {"content-type": FORM, "accept": "application/json"}
        self.exchanges += 1
        try:
            response = await self._post(provider.token_url, headers, form)
        except TransportFailure as exc:
            raise OAuthFailure(
                f"{provider.label} token endpoint did not answer ({exc.kind})", "retry"
            ) from None
        except (EgressRefused, InvalidRequest) as exc:
            raise OAuthFailure(
                f"{provider.label} token endpoint cannot be reached: {exc.reason}", "dead"
            ) from None
        return _read(grant, response)


def _read(grant: Grant, response: Response) -> tuple[str, float]:
    """The token and its lifetime from the endpoint's answer; OAuthFailure otherwise."""
    label = grant.provider.label
    body = None
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(response.body)
    if not isinstance(body, dict):
        body = {}
    if response.status == 200:
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if isinstance(value, str) and value and _positive(expires_in):
            return value, float(expires_in)  # type: ignore[arg-type]
        raise OAuthFailure(f"{label} token endpoint answered 200 without a token", "retry")
    error = str(body.get("error", ""))[:64]
    description = str(body.get("error_description", ""))[:200]
    for value, shown in grant.values():
        description = description.replace(value, shown)
    said = f"{error}: {description}" if description else error or f"HTTP {response.status}"
    if response.status in (400, 401, 403) and (error in REFUSED or not error):
        raise OAuthFailure(_fix(grant, error, said), "dead")
    raise OAuthFailure(f"{label} token endpoint answered {response.status} ({said})", "retry")


def _fix(grant: Grant, error: str, said: str) -> str:
    """The reason a refused refresh gives: which secrets to set again, and how."""
    label, container = grant.provider.label, grant.container_id
    if error in ("invalid_client", "unauthorized_client"):
        names = f"{grant.client_id[0]!r} and {grant.client_secret[0]!r}"
        what = "the OAuth client"
    else:
        names = repr(grant.refresh_token[0])
        what = "the refresh token"
    return (
        f"{label} refused {what} ({said}): set secret {names} of container {container!r} "
        f"again (`tagwire secrets set {container} <name>`), then replay the rows"
    )


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0

"""The token manager: cached tokens, one exchange for concurrent callers, 401 refreshes,
refused grants named and held back, any answer read without a crash."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from container.delivery.oauth import (
    FAILED_HOLD_S,
    PROVIDERS,
    Grant,
    OAuthFailure,
    TokenManager,
    refresh_margin_s,
)
from container.delivery.pool import Response, TransportFailure
from tests.container.delivery.support import ManualClock

pytestmark = pytest.mark.anyio

GRANT = Grant(PROVIDERS["google"], "shop", ("ads_refresh", "1//refresh-value"),
              ("ads_client", "client-id-value"), ("ads_secret", "client-secret-value"))  # fmt: skip


class Endpoint:
    """A scripted token endpoint: answers in order, then new tokens that live `lifetime`."""

    def __init__(self, *answers: Response | Exception, lifetime: int = 100) -> None:
        self.answers = list(answers)
        self.lifetime = lifetime
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, url: str, headers: dict[str, str], body: bytes) -> Response:
        self.seen.append((url, headers, body))
        if self.gate is not None:
            await self.gate.wait()
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        body = orjson.dumps({"access_token": f"token-{len(self.seen)}",
                             "expires_in": self.lifetime})  # fmt: skip
        return Response(200, {}, body)


def refused(status: int, error: str, description: str = "") -> Response:
    body = {"error": error, "error_description": description}
    return Response(status, {"content-type": "application/json"}, orjson.dumps(body))


async def test_a_token_is_kept_until_shortly_before_it_expires():
    endpoint, clock = Endpoint(lifetime=100), ManualClock()
    tokens = TokenManager(endpoint, clock.clock)
    assert await tokens.token(GRANT) == "token-1"
    url, headers, body = endpoint.seen[0]
    assert url == "https://oauth2.googleapis.com/token"
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert body == (b"grant_type=refresh_token&refresh_token=1%2F%2Frefresh-value"
                    b"&client_id=client-id-value&client_secret=client-secret-value")  # fmt: skip
    clock.advance(100 - refresh_margin_s(100) - 0.001)
    assert await tokens.token(GRANT) == "token-1"
    clock.advance(0.001)
    assert await tokens.token(GRANT) == "token-2"
    assert tokens.exchanges == 2
    assert refresh_margin_s(3599) == 300  # Google's hour: five minutes early


async def test_concurrent_callers_share_one_exchange():
    endpoint = Endpoint()
    endpoint.gate = asyncio.Event()
    tokens = TokenManager(endpoint, ManualClock().clock)
    waiting = [asyncio.ensure_future(tokens.token(GRANT)) for _ in range(20)]
    await asyncio.sleep(0)
    endpoint.gate.set()
    assert set(await asyncio.gather(*waiting)) == {"token-1"}
    assert len(endpoint.seen) == 1


async def test_a_refused_token_is_replaced_once_for_everyone():
    endpoint = Endpoint()
    tokens = TokenManager(endpoint, ManualClock().clock)
    first = await tokens.token(GRANT)
    endpoint.gate = asyncio.Event()
    again = [asyncio.ensure_future(tokens.token(GRANT, stale=first)) for _ in range(5)]
    await asyncio.sleep(0)
    endpoint.gate.set()
    assert set(await asyncio.gather(*again)) == {"token-2"}
    # a caller whose refused token is already replaced gets the new one, no exchange
    assert await tokens.token(GRANT, stale=first) == "token-2"
    assert tokens.exchanges == 2


async def test_a_revoked_refresh_token_names_the_secret_and_is_not_asked_again_at_once(caplog):
    caplog.set_level(logging.INFO, "tagwire.oauth")
    clock = ManualClock()
    endpoint = Endpoint(refused(400, "invalid_grant", "Token has been expired or revoked."))
    tokens = TokenManager(endpoint, clock.clock)
    with pytest.raises(OAuthFailure) as caught:
        await tokens.token(GRANT)
    failure = caught.value
    assert failure.outcome == "dead"
    assert failure.reason == (
        "Google refused the refresh token (invalid_grant: Token has been expired or revoked.): "
        "set secret 'ads_refresh' of container 'shop' again (`tagwire secrets set shop <name>`), "
        "then replay the rows"
    )
    for _ in range(3):  # no hot loop: the same values fail without a request
        with pytest.raises(OAuthFailure):
            await tokens.token(GRANT)
    assert len(endpoint.seen) == 1
    clock.advance(FAILED_HOLD_S)
    assert await tokens.token(GRANT) == "token-2"
    assert [r.getMessage() for r in caplog.records] == ["oauth refresh failed",
                                                        "oauth token refreshed"]  # fmt: skip


async def test_a_secret_set_again_is_tried_at_once():
    endpoint = Endpoint(refused(401, "invalid_client", "Unauthorized"))
    tokens = TokenManager(endpoint, ManualClock().clock)
    with pytest.raises(OAuthFailure, match="'ads_client' and 'ads_secret'"):
        await tokens.token(GRANT)
    fixed = Grant(GRANT.provider, "shop", GRANT.refresh_token, GRANT.client_id,
                  ("ads_secret", "the-right-secret"))  # fmt: skip
    assert await tokens.token(fixed) == "token-2"


@pytest.mark.parametrize(
    "answer",
    [
        TransportFailure("ConnectError"),
        Response(503, {}, b"busy"),
        Response(429, {}, b""),
        Response(200, {}, b'{"access_token": "", "expires_in": 60}'),
        Response(200, {}, b'{"access_token": "t", "expires_in": true}'),
    ],
)
async def test_an_endpoint_that_does_not_answer_usefully_is_retried(answer):
    tokens = TokenManager(Endpoint(answer), ManualClock().clock)
    with pytest.raises(OAuthFailure) as caught:
        await tokens.token(GRANT)
    assert caught.value.outcome == "retry"


async def test_the_endpoint_cannot_echo_a_secret_into_the_reason():
    echo = refused(400, "invalid_grant", "bad token 1//refresh-value for client-id-value")
    tokens = TokenManager(Endpoint(echo), ManualClock().clock)
    with pytest.raises(OAuthFailure) as caught:
        await tokens.token(GRANT)
    assert "refresh-value" not in caught.value.reason
    assert "client-id-value" not in caught.value.reason
    assert "[secret ads_refresh]" in caught.value.reason


FIELDS = st.sampled_from(["access_token", "expires_in", "error", "error_description"])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(),
                   st.text(max_size=20), st.lists(st.integers(0, 9), max_size=2))  # fmt: skip
BODIES = st.one_of(st.binary(max_size=200), st.dictionaries(FIELDS, VALUES).map(orjson.dumps))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(100, 599), BODIES)
def test_any_endpoint_answer_is_a_token_or_an_oauth_failure(status, body):
    async def once() -> str | OAuthFailure:
        tokens = TokenManager(Endpoint(Response(status, {}, body)), ManualClock().clock)
        try:
            return await tokens.token(GRANT)
        except OAuthFailure as failure:
            return failure

    got = asyncio.run(once())
    if isinstance(got, OAuthFailure):
        assert got.outcome in ("dead", "retry")
        assert "secret-value" not in got.reason
    else:
        assert status == 200
        assert got

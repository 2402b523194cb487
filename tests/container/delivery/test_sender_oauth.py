"""OAuth delivery end to end: the sender against the fake platforms and their token
endpoints, with one clock the test moves for both, across several token lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

import orjson
import pytest

from config.storage import OutboxFilter
from container.delivery.oauth import TokenManager
from container.delivery.routes import PlatformRoutes
from container.delivery.sender import Sender
from container.node_secrets import NodeSecrets
from container.secret_refs import References
from fake_platforms import FakeAccounts, FakePlatforms
from fake_platforms.accounts import OAuthClient
from tests.container.delivery.support import (
    ADS,
    JSON,
    LINKEDIN,
    ManualClock,
    fake_routes,
    fake_transport,
    row,
    settled,
)
from tests.fake_platforms.payloads import (
    LINKEDIN_HEADERS,
    NOW_MS,
    ads_body,
    ads_conversion,
    linkedin_event,
)

pytestmark = pytest.mark.anyio

LIFETIME_S = 60
GOOGLE = OAuthClient(
    "google-client-id-4711", "google-client-secret", "1//google-refresh", LIFETIME_S
)
LINKEDIN_CLIENT = OAuthClient(
    "linkedin-client-id-4711", "linkedin-client-secret", "AQlinkedin-refresh", LIFETIME_S
)
VALUES = {
    "ads_refresh": GOOGLE.refresh_token, "ads_client": GOOGLE.client_id,
    "ads_secret": GOOGLE.client_secret, "ads_dev": "ads-dev-token",
    "li_refresh": LINKEDIN_CLIENT.refresh_token, "li_client": LINKEDIN_CLIENT.client_id,
    "li_secret": LINKEDIN_CLIENT.client_secret,
}  # fmt: skip
SECRET_VALUES = [v for k, v in VALUES.items() if k != "ads_dev"]
MINTED = ("ya29.fake", "AQVfake")  # how the fake's access tokens start


class World:
    """The fakes and the sender on one moving clock; `skew_s` puts the fakes ahead."""

    def __init__(self, store, secrets: NodeSecrets, accounts: FakeAccounts | None = None) -> None:
        self.store = store
        self.secrets = secrets
        self.clock = ManualClock()
        self.skew_s = 0.0
        accounts = accounts or FakeAccounts(google_oauth=GOOGLE, linkedin_oauth=LINKEDIN_CLIENT)
        self.fakes = FakePlatforms(accounts, clock=self.fake_now)
        self.tokens = TokenManager(self._post, self.clock.clock)
        self.sender = Sender(store, concurrency=8, timeout=5, max_attempts=5,
                             routes=fake_routes(), clock=self.clock.clock,
                             transport=fake_transport(self.fakes), batch_flush_ms=0,
                             secrets=secrets, tokens=self.tokens)  # fmt: skip
        self.queued = 0

    def fake_now(self) -> int:
        return int((self.clock.now + self.skew_s) * 1000)

    async def _post(self, url, headers, body):
        return await self.sender._post(url, headers, body)

    def ref(self, name: str) -> str:
        reference = self.secrets.lookup_for("shop")(name)
        assert reference is not None
        return reference

    def oauth(self, provider: str, prefix: str) -> str:
        refs = " ".join(self.ref(f"{prefix}_{part}") for part in ("refresh", "client", "secret"))
        return f"{provider} {refs}"

    def ads_row(self, n: int, customer: str = "1234567890"):
        headers = {**JSON, "developer-token": self.ref("ads_dev"),
                   "x-tagwire-oauth": self.oauth("google", "ads")}  # fmt: skip
        url = ADS.replace("1234567890", customer)
        action = f"customers/{customer}/conversionActions/987654321"
        body = ads_body(ads_conversion(orderId=f"o-{customer}-{n}", conversionAction=action))
        return row((url, headers, body), tag="gads", event_id=f"g{n}", platform="google_ads",
                   event_time_ms=int(self.clock.now * 1000) - 60_000)  # fmt: skip

    def linkedin_row(self, n: int):
        headers = {k: v for k, v in LINKEDIN_HEADERS.items() if k != "Authorization"}
        headers = {**JSON, **headers, "x-tagwire-oauth": self.oauth("linkedin", "li")}
        body = linkedin_event(eventId=f"li-{n}", conversionHappenedAt=int(self.clock.now * 1000))
        return row((LINKEDIN, headers, body), tag="li", event_id=f"l{n}", platform="linkedin",
                   event_time_ms=int(self.clock.now * 1000) - 60_000)  # fmt: skip

    async def deliver(self, rows) -> dict[str, int]:
        await self.store.enqueue(rows, int(self.clock.now * 1000))
        self.queued += len(rows)
        self.sender.wake()
        return await settled(self.store)

    def statuses(self, platform: str) -> list[int]:
        return [r["status"] for r in self.fakes.requests(platform) if "oauth" not in r["path"]]

    def exchanges(self, platform: str) -> int:
        return sum("oauth" in r["path"] for r in self.fakes.requests(platform))


@pytest.fixture
async def secrets(store):
    secrets = NodeSecrets(None, None, VALUES.get)
    secrets.use_key(await store.node_key("secret-references"))
    return secrets


@pytest.fixture
async def world(store, secrets):
    world = World(store, secrets)
    world.sender.start()
    yield world
    await world.sender.stop(5)


def stored_text(path) -> str:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT * FROM outbox").fetchall()
    finally:
        conn.close()
    return repr(rows)


def assert_no_token_in(text: str) -> None:
    for value in (*MINTED, *SECRET_VALUES):
        assert value not in text


async def test_delivery_across_several_token_lifetimes_loses_nothing(world, store, caplog):
    caplog.set_level(logging.DEBUG)
    n = 0
    for _ in range(12):  # sends every 25 s for 275 s: more than four lifetimes of 60 s
        rows = []
        for _ in range(3):
            n += 1
            rows += [world.ads_row(n), world.linkedin_row(n)]
        assert await world.deliver(rows) == {"sent": world.queued}
        world.clock.advance(25)
    assert len(world.fakes.events("google_ads")) == len(world.fakes.events("linkedin")) == n
    # tokens were replaced before they expired: no request was ever refused
    assert set(world.statuses("google_ads")) == {200}
    assert set(world.statuses("linkedin")) <= {200, 201}
    # a token is replaced 54 s into its life (a tenth early): at 0, 75, 150 and 225 s
    assert world.exchanges("google_ads") == world.exchanges("linkedin") == 4
    history = await store.history(OutboxFilter(), -1, 0)
    assert len(history) == 2 * n
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert "oauth token refreshed" in logged
    for text in (logged, stored_text(store.path), repr(history)):
        assert_no_token_in(text)


async def test_a_401_gets_one_newer_token_and_the_row_is_sent(world):
    assert await world.deliver([world.ads_row(1), world.linkedin_row(1)]) == {"sent": 2}
    world.skew_s = LIFETIME_S  # the platforms now take the cached tokens for expired
    assert await world.deliver([world.ads_row(2), world.linkedin_row(2)]) == {"sent": 4}
    assert world.statuses("google_ads") == [200, 401, 200]
    assert world.statuses("linkedin") == [201, 401, 201]
    assert world.exchanges("google_ads") == world.exchanges("linkedin") == 2
    refused = [r for r in world.fakes.requests("linkedin") if r["status"] == 401]
    assert refused[0]["response"]["code"] == "EXPIRED_ACCESS_TOKEN"


async def test_concurrent_batches_share_one_refresh(store, secrets):
    customers = [f"12345678{i:02d}" for i in range(10)]
    accounts = FakeAccounts(google_oauth=GOOGLE, linkedin_oauth=LINKEDIN_CLIENT,
                            google_ads_customers=customers)  # fmt: skip
    crowd = World(store, secrets, accounts)
    crowd.sender.start()
    try:
        # ten customers: ten batches in flight at once, all needing the same token
        counts = await crowd.deliver([crowd.ads_row(1, customer) for customer in customers])
    finally:
        await crowd.sender.stop(5)
    assert counts == {"sent": 10}
    assert crowd.exchanges("google_ads") == 1
    assert crowd.tokens.exchanges == 1


async def test_a_revoked_refresh_token_makes_the_rows_dead_naming_the_secret(store, secrets):
    revoked = OAuthClient(GOOGLE.client_id, GOOGLE.client_secret, "1//another-refresh", LIFETIME_S)
    world = World(store, secrets, FakeAccounts(google_oauth=revoked))
    world.sender.start()
    try:
        counts = await world.deliver([world.ads_row(i, f"12345678{i:02d}") for i in range(4)])
        counts = await world.deliver([world.ads_row(9)])
    finally:
        await world.sender.stop(5)
    assert counts == {"dead": 5}
    assert world.exchanges("google_ads") == 1  # held back: no request per batch
    assert world.statuses("google_ads") == []  # nothing sent without a token
    history = await store.history(OutboxFilter(), -1, 0)
    assert {h.response for h in history} == {
        "Google refused the refresh token (invalid_grant: Token has been expired or revoked.): "
        "set secret 'ads_refresh' of container 'shop' again (`tagwire secrets set shop <name>`), "
        "then replay the rows"
    }


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("google {gone} {client} {secret}", "secret 'gone' of container 'shop' is not configured"),
        ("google {client} {secret}", "invalid request: header 'x-tagwire-oauth' must be"),
        ("bing {refresh} {client} {secret}", "invalid request: header 'x-tagwire-oauth' must be"),
    ],
)
async def test_a_bad_oauth_header_is_dead_with_the_reason(world, store, header, reason):
    gone = References(await store.node_key("secret-references")).reference("shop", "gone")
    queued = world.ads_row(1)
    headers = orjson.loads(queued.headers)
    headers["x-tagwire-oauth"] = header.format(
        gone=gone, refresh=world.ref("ads_refresh"), client=world.ref("ads_client"),
        secret=world.ref("ads_secret"),
    )  # fmt: skip
    assert await world.deliver([queued._replace(headers=orjson.dumps(headers))]) == {"dead": 1}
    [entry] = await store.history(OutboxFilter(), -1, 0)
    assert entry.response.startswith(reason)
    assert world.fakes.requests() == []


async def test_a_click_too_recent_waits_six_hours_then_is_sent(store, secrets):
    clicked = {"Cj0KCQiA": NOW_MS - 3_600_000}  # the gclid of every test conversion
    accounts = FakeAccounts(google_oauth=GOOGLE, google_ads_clicks=clicked)
    world = World(store, secrets, accounts)
    world.sender.start()
    try:
        queued = world.ads_row(1)
        assert await world.deliver([queued]) == {"failed": 1}
        [entry] = await store.history(OutboxFilter(), -1, 0)
        assert "TOO_RECENT_EVENT" in entry.response
        with contextlib.closing(sqlite3.connect(store.path)) as conn:
            [(due,)] = conn.execute("SELECT next_attempt_at FROM outbox")
        assert due == queued.event_time_ms + (6 * 60 + 15) * 60_000
        world.clock.advance((6 * 60 + 15) * 60)  # the token expired meanwhile, too
        world.sender.wake()
        for _ in range(200):
            if (await store.outbox_counts()).get("sent"):
                break
            await asyncio.sleep(0.05)
    finally:
        await world.sender.stop(5)
    assert await store.outbox_counts() == {"sent": 1}
    assert world.exchanges("google_ads") == 2


async def test_the_token_endpoint_obeys_the_egress_rules(store, secrets):
    """Without a test transport the sender's own pool asks the token endpoint: a loopback
    address not in TAGWIRE_EGRESS_ALLOW is refused before any connection."""
    world = World(store, secrets)
    routes = PlatformRoutes({"https://oauth2.googleapis.com": "http://127.0.0.1:9/google-oauth"})
    world.sender = Sender(store, concurrency=2, timeout=5, max_attempts=5, routes=routes,
                          clock=world.clock.clock, batch_flush_ms=0, secrets=secrets)  # fmt: skip
    world.sender.start()
    try:
        assert await world.deliver([world.ads_row(1)]) == {"dead": 1}
    finally:
        await world.sender.stop(5)
    [entry] = await store.history(OutboxFilter(), -1, 0)
    assert entry.response.startswith(
        "Google token endpoint cannot be reached: egress refused: 127.0.0.1 is a loopback"
    )

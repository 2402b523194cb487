"""The guards through the real `/collect` endpoint, outbox writer and SQLite store, with an
injected clock: bots dropped quietly, rate limits answered 429, spikes held, values judged."""

import contextlib
import ipaddress
import logging
import sqlite3

import orjson
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from config.schema import apply_defaults
from config.sqlite_store import SQLiteStore
from container.collect import CollectEndpoint
from container.containers import ContainerSet
from container.delivery.outbox import OutboxWriter
from container.guards import Guards
from container.guards.bot import BotFilter
from container.guards.rates import RateLimiter, RateLimits
from container.guards.spike import SpikeDetector
from container.guards.value import ValueGuard
from container.lanes import TagLanes
from container.pipeline import CompiledContainer
from demo import demo_document, demo_secrets
from tags.runtime import TemplateRuntime
from tests.helpers import make_document, make_hit

T0 = 1_800_000_000_000 // 60_000 * 60_000
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def make_guards(
    *, bots=True, per_ip=None, per_client=None, spike=(10, 100), value_max=100_000,
    policy="block",
):  # fmt: skip
    return Guards(
        bots=BotFilter() if bots else None,
        rates=RateLimits(
            RateLimiter(per_ip) if per_ip else None,
            RateLimiter(per_client) if per_client else None,
        ),
        spikes=SpikeDetector(*spike, T0, warmup_minutes=0),
        value=ValueGuard(value_max, policy),
    )


@contextlib.contextmanager
def client_for(tmp_path, guards, clock, doc=None, runtime=None, peer="198.51.100.7", **kwargs):
    store = SQLiteStore(tmp_path / "tagwire.db")
    writer = OutboxWriter(store, on_commit=lambda: None)
    container = CompiledContainer.compile(
        apply_defaults(doc or make_document()), runtime or TemplateRuntime()
    )
    lanes = TagLanes(workers=1)
    endpoint = CollectEndpoint(
        ContainerSet.of({container.id: container}), writer, lanes, kwargs.get("trusted", ()),
        "", guards=guards, clock=clock,
    )  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await store.open()
        lanes.start()
        writer.start()
        yield
        await writer.stop()
        await lanes.stop()
        await store.close()

    app = Starlette(routes=[Route("/collect", endpoint, methods=["POST"])], lifespan=lifespan)
    headers = {"user-agent": CHROME, "content-type": "application/json"}
    with TestClient(app, base_url="https://t.example.com", client=(peer, 5000),
                    headers=headers) as client:  # fmt: skip
        yield client


def post(client, body, container="shop", **headers):
    return client.post(f"/collect?id={container}", content=orjson.dumps(body), headers=headers)


def outbox(tmp_path):
    conn = sqlite3.connect(tmp_path / "tagwire.db")
    rows = conn.execute("SELECT tag_id, event_id, state FROM outbox ORDER BY id").fetchall()
    conn.close()
    return rows


def metric(name, **labels):
    return REGISTRY.get_sample_value(f"tagwire_guard_{name}_total", labels) or 0


def hit(n, **overrides):
    overrides.setdefault("data", {"value": 50, "currency": "EUR"})
    return make_hit(event_id=f"evt-{n:08d}", **overrides)


# ---- bots -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "reason"),
    [("curl/8.5.0", "http_client"), ("", "empty_user_agent"),
     ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
     (CHROME.replace("Chrome/", "HeadlessChrome/"), "headless_browser")],
)  # fmt: skip
def test_a_bot_gets_a_quiet_204_and_is_counted(tmp_path, user_agent, reason):
    before = metric("blocks", container="shop", guard="bot", reason=reason)
    with client_for(tmp_path, make_guards(), Clock()) as client:
        response = post(client, [hit(1), hit(2)], **{"user-agent": user_agent})
    assert response.status_code == 204
    assert "set-cookie" not in response.headers
    assert outbox(tmp_path) == []
    assert metric("blocks", container="shop", guard="bot", reason=reason) == before + 2


def test_a_hit_without_a_page_url_is_dropped_quietly_and_the_rest_kept(tmp_path):
    before = metric("blocks", container="shop", guard="bot", reason="no_page_url")
    no_page = hit(2)
    del no_page["page"]
    with client_for(tmp_path, make_guards(), Clock()) as client:
        response = post(client, [hit(1), no_page, hit(3, ts=T0 + 2 * 24 * 3600 * 1000)])
    assert response.status_code == 204
    assert [row[1] for row in outbox(tmp_path)] == ["evt-00000001"]
    assert metric("blocks", container="shop", guard="bot", reason="no_page_url") == before + 1
    assert metric("blocks", container="shop", guard="bot", reason="ts_in_future") >= 1


def test_bot_filter_off_lets_bots_through(tmp_path):
    with client_for(tmp_path, make_guards(bots=False), Clock()) as client:
        assert post(client, hit(1), **{"user-agent": "curl/8.5.0"}).status_code == 204
    assert len(outbox(tmp_path)) == 1


def test_loopback_clients_skip_the_bot_filter_and_rate_limits(tmp_path, caplog):
    """Local tools, the test suite and the demo's headless Chromium talk to 127.0.0.1."""
    headless = CHROME.replace("Chrome/", "HeadlessChrome/")
    with (
        client_for(tmp_path, make_guards(per_ip=1), Clock(), peer="127.0.0.1") as client,
        caplog.at_level(logging.WARNING, logger="tagwire.collect"),
    ):
        assert post(client, hit(1), **{"user-agent": headless}).status_code == 204
        assert post(client, hit(2), **{"user-agent": "curl/8.5.0"}).status_code == 204
        assert caplog.records == []
        forwarded = {"x-forwarded-for": "203.0.113.9"}
        assert post(client, hit(3), **forwarded).status_code == 204
        assert post(client, hit(4), **forwarded).status_code == 204
    assert len(outbox(tmp_path)) == 4
    (warning,) = caplog.records  # once: a local proxy that is not trusted
    assert "TAGWIRE_TRUSTED_PROXIES" in warning.getMessage()


def test_behind_a_trusted_local_proxy_the_visitor_is_guarded(tmp_path):
    trusted = (ipaddress.ip_network("127.0.0.1/32"),)
    with client_for(tmp_path, make_guards(), Clock(), peer="127.0.0.1", trusted=trusted) as c:
        response = post(c, hit(1), **{"user-agent": "curl/8", "x-forwarded-for": "203.0.113.9"})
    assert response.status_code == 204
    assert outbox(tmp_path) == []


# ---- rate limits ------------------------------------------------------------------------


def test_an_ip_over_its_limit_gets_429_naming_the_limit(tmp_path):
    clock = Clock()
    before = metric("blocks", container="shop", guard="rate", reason="ip_limit")
    with client_for(tmp_path, make_guards(per_ip=3), clock) as client:
        assert post(client, [hit(1), hit(2)]).status_code == 204
        assert post(client, hit(3)).status_code == 204
        refused = post(client, [hit(4), hit(5)], origin="https://www.example.com")
        clock.now += 40_000
        assert post(client, [hit(6), hit(7)]).status_code == 204
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "40"
    assert refused.headers["access-control-allow-origin"] == "https://www.example.com"
    (error,) = refused.json()["errors"]
    assert error["field"] == "max_hits_per_ip_minute"
    assert error["reason"] == "more than 3 hits per minute from this IP address; retry after 40 s"
    assert metric("blocks", container="shop", guard="rate", reason="ip_limit") == before + 2
    assert [row[1] for row in outbox(tmp_path)] == [f"evt-{n:08d}" for n in (1, 2, 3, 6, 7)]


def test_a_client_id_over_its_limit_gets_429(tmp_path):
    with client_for(tmp_path, make_guards(per_ip=100, per_client=2), Clock()) as client:
        client.cookies.set("tw_id", "abcdefghijklmnopqrstuv")
        assert post(client, [hit(1), hit(2)]).status_code == 204
        refused = post(client, hit(3))
        client.cookies.set("tw_id", "another-visitor-000001")
        assert post(client, hit(4)).status_code == 204
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["field"] == "max_hits_per_client_minute"


# ---- spikes -----------------------------------------------------------------------------


def test_a_spike_holds_rows_and_counts_them(tmp_path, caplog):
    held_before = metric("held_rows", container="shop")
    spikes_before = REGISTRY.get_sample_value("tagwire_guard_spikes_total", {"container": "shop"})
    with (
        client_for(tmp_path, make_guards(spike=(10, 3)), Clock()) as client,
        caplog.at_level(logging.WARNING, logger="tagwire.guards"),
    ):
        assert post(client, [hit(n) for n in range(1, 6)]).status_code == 204
    states = [row[2] for row in outbox(tmp_path)]
    assert states == ["pending", "pending", "held", "held", "held"]
    assert metric("held_rows", container="shop") == held_before + 3
    spikes = REGISTRY.get_sample_value("tagwire_guard_spikes_total", {"container": "shop"})
    assert spikes == (spikes_before or 0) + 1
    assert [r.getMessage() for r in caplog.records] == [
        "volume spike: holding this event's outbox rows until released"
    ]


def test_a_held_hit_gets_no_browser_commands(tmp_path):
    doc = demo_document("http://127.0.0.1:9/unused")
    doc["container"]["id"] = "shop"
    runtime = TemplateRuntime(demo_secrets().get, allow_http_loopback=True)
    lead = make_hit(event_id="evt-00000001",
                    page={"url": "https://www.example.com/demo/thanks"},
                    data={"value": 50, "currency": "EUR", "lead_id": "L-1"})  # fmt: skip
    second = {**lead, "event_id": "evt-00000002", "data": {**lead["data"], "lead_id": "L-2"}}
    with client_for(tmp_path, make_guards(spike=(10, 2)), Clock(), doc, runtime) as client:
        first = post(client, lead)
        held = post(client, second)
    assert first.status_code == 200
    assert first.json()["pixels"]
    assert held.status_code == 204
    assert "set-cookie" in held.headers  # tw_id still: the visitor consented to it
    states = {(row[1], row[2]) for row in outbox(tmp_path)}
    assert {state for event_id, state in states if event_id == "evt-00000002"} == {"held"}
    assert {state for event_id, state in states if event_id == "evt-00000001"} == {"pending"}


# ---- values -----------------------------------------------------------------------------


def test_block_policy_accepts_the_hit_but_fires_no_tag(tmp_path):
    guards = make_guards(value_max=1000)
    doc = make_document()
    doc["container"]["currency_default"] = "EUR"
    before = metric("blocks", container="shop", guard="value", reason="currency_mismatch")
    with client_for(tmp_path, guards, Clock(), doc) as client:
        wrong = make_hit(event_id="evt-00000002", data={"value": 50, "currency": "USD"})
        huge = make_hit(event_id="evt-00000003", data={"value": 5000, "currency": "EUR"})
        response = post(client, [hit(1), wrong, huge])
    assert response.status_code == 204
    assert [row[1] for row in outbox(tmp_path)] == ["evt-00000001"]
    assert metric("blocks", container="shop", guard="value", reason="currency_mismatch") == (
        before + 1
    )


def test_flag_policy_sends_and_counts(tmp_path):
    before = metric("flagged", container="shop", guard="value", reason="value_too_large")
    with client_for(tmp_path, make_guards(value_max=1000, policy="flag"), Clock()) as client:
        huge = make_hit(event_id="evt-00000003", data={"value": 5000, "currency": "EUR"})
        assert post(client, huge).status_code == 204
    assert [row[1] for row in outbox(tmp_path)] == ["evt-00000003"]
    assert metric("flagged", container="shop", guard="value", reason="value_too_large") == (
        before + 1
    )


def test_guard_stops_are_not_counted_as_accepted_hits(tmp_path):
    def accepted():
        labels = {"container": "shop", "outcome": "accepted"}
        return REGISTRY.get_sample_value("tagwire_hits_total", labels) or 0

    before = accepted()
    with client_for(tmp_path, make_guards(value_max=10), Clock()) as client:
        small = hit(1, data={"value": 5, "currency": "EUR"})
        assert post(client, [small, hit(2)]).status_code == 204  # hit 2: value over 10
        assert post(client, hit(3), **{"user-agent": "curl/8"}).status_code == 204
    assert accepted() == before + 1


def test_without_guards_nothing_is_guarded(tmp_path):
    with client_for(tmp_path, None, Clock()) as client:
        assert post(client, hit(1), **{"user-agent": "curl/8"}).status_code == 204
    assert len(outbox(tmp_path)) == 1

"""Load test: the demo pipeline at saturation loses no acknowledged hit.

A real `tagwire serve --demo` process (its fake platforms and receiver on loopback, so
delivery works) takes /collect hits from many concurrent visitors for SECONDS
(TAGWIRE_SATURATION_SECONDS shortens it for a local run). Every hit the node acknowledged
(a 2xx naming it) must then have, for each tag that should have fired for it, a history
row in the node's outbox: a request row in any state (pending, sent, failed, dead...) or a
`RUN` row, a failed tag run with its reason. A non-2xx answer (a 503 with Retry-After
when the container's tag queue is full, say) acknowledges nothing; it is counted and
reported, and its hits are not checked.

Which tags should have fired is computed here, in the test process, from the same demo
document compiled the way the node compiles it: `CompiledContainer.firing_tags` (the
tags the hit's triggers select and its consent allows) on a `Hit` built the way
/collect builds one.

`pytest -s tests/container/test_saturation.py` prints the figures.
"""

from __future__ import annotations

import asyncio
import collections
import http.cookiejar
import os
import sqlite3
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from config.schema import apply_defaults
from config.storage import RUN_METHOD
from container.pipeline import CompiledContainer, PipelineResult
from demo import demo_document, demo_secrets
from tags.runtime import TemplateRuntime
from tests.helpers import LOOPBACK_EGRESS, tagwire_process
from variables.consent import storage_granted
from variables.hit import Hit

pytestmark = pytest.mark.e2e

SECONDS = float(os.environ.get("TAGWIRE_SATURATION_SECONDS", "30"))
CLIENTS = 48  # concurrent visitors, each one request in flight at a time
BASELINE_S = 2.0  # one visitor alone first, for the latency of an idle node
REQUEST_TIMEOUT_S = 30.0
CONTAINER = "demo"

GRANTED = {
    "ad_storage": "granted",
    "analytics_storage": "granted",
    "ad_user_data": "granted",
    "ad_personalization": "granted",
    "source": "api",
}
# What the demo's lead form hands the loader, SHA-256 hashed in the browser (no plaintext).
USER = {
    "em": "8c4c5e4b2b6a1d9f3e7a0c5d2f8b1e6a9c3d7f0b4e8a2c6d1f5b9e3a7c0d4f8b",
    "ph": "2f1c8e7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e",
    "fn": "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
}
TITLES = {
    "/demo/": "tagwire demo",
    "/demo/lead": "Request a quote",
    "/demo/thanks": "Thank you",
    "/demo/events": "Delivered events",
}
# Plain HTTP only; one TLS context for every client instead of one CA load per visitor.
TLS = ssl.create_default_context()
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _hit(base: str, event: str, path: str, query: str = "", **extra: Any) -> dict[str, Any]:
    """A hit as the loader sends it from a demo page, consent granted for every signal."""
    return {
        "v": 1,
        "event": event,
        "event_id": str(uuid.uuid4()),
        "ts": int(time.time() * 1000),
        "page": {
            "url": f"{base}{path}{query}",
            "referrer": f"{base}/demo/",
            "title": TITLES[path],
            "locale": "en-GB",
        },
        "consent": GRANTED,
        **extra,
    }


def journey(base: str, number: int) -> list[list[dict[str, Any]]]:
    """One visitor's way through the demo site, one request (one loader flush) per step:
    the landing page, the form, then the thank-you page's page view and lead together,
    as demo.js reports it (value 50 EUR, a fresh lead id). Every fourth visit also opens
    the internal events page (no tag fires: the trigger excepts it) and reports a
    purchase, which no trigger of the demo container selects: both are acknowledged
    hits with nothing to fire, so the check must compute, not assume."""
    lead_id = "lead-" + uuid.uuid4().hex[:24]
    thanks = f"?lead_id={lead_id}"
    steps = [
        [_hit(base, "page_view", "/demo/")],
        [_hit(base, "page_view", "/demo/lead")],
        [
            _hit(base, "page_view", "/demo/thanks", thanks, user=USER),
            _hit(
                base,
                "lead",
                "/demo/thanks",
                thanks,
                user=USER,
                data={"value": 50, "currency": "EUR", "lead_id": lead_id},
            ),
        ],
    ]
    if number % 4 == 3:
        order = "order-" + uuid.uuid4().hex[:16]
        steps.append([_hit(base, "page_view", "/demo/events", user=USER)])
        steps.append(
            [
                _hit(
                    base,
                    "purchase",
                    "/demo/thanks",
                    user=USER,
                    data={"value": 129.9, "currency": "EUR", "transaction_id": order},
                )
            ]
        )
    return steps


@dataclass
class Load:
    """What the visitors sent and what the node answered."""

    sent: int = 0  # hits
    requests: int = 0
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # event_id -> wire hit
    refused: collections.Counter[str] = field(default_factory=collections.Counter)  # hits
    latencies: list[float] = field(default_factory=list)


async def visitor(base: str, load: Load, deadline: float) -> None:
    """One browser: keeps its tw_id cookie, sends its journeys until the deadline."""
    # The tw_id cookie is kept by hand (below), so the client's jar takes none.
    jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    limits = httpx.Limits(max_connections=1)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, cookies=jar, verify=TLS) as client:
        await browse(client, base, load, deadline)


async def browse(client: httpx.AsyncClient, base: str, load: Load, deadline: float) -> None:
    cookie: str | None = None
    number = 0
    while time.monotonic() < deadline:
        for batch in journey(base, number):
            if time.monotonic() >= deadline:
                return
            headers = {"content-type": "text/plain", "origin": base, "user-agent": USER_AGENT}
            if cookie:
                headers["cookie"] = f"tw_id={cookie}"
            load.sent += len(batch)
            load.requests += 1
            started = time.monotonic()
            try:
                answer = await client.post(
                    f"{base}/collect?id={CONTAINER}", content=orjson.dumps(batch), headers=headers
                )
            except httpx.HTTPError as exc:
                load.refused[type(exc).__name__] += len(batch)
                continue
            load.latencies.append(time.monotonic() - started)
            if answer.status_code in (200, 204):
                accepted = range(len(batch))
            elif answer.status_code == 207:
                accepted = answer.json()["accepted"]
                load.refused["207 (refused part)"] += len(batch) - len(accepted)
            else:
                retry = answer.headers.get("retry-after")
                label = f"{answer.status_code}" + (f" (Retry-After {retry})" if retry else "")
                load.refused[label] += len(batch)
                continue
            for index in accepted:
                load.acked[batch[index]["event_id"]] = batch[index]
            for header in answer.headers.get_list("set-cookie"):
                if header.startswith("tw_id="):
                    cookie = header.split(";", 1)[0].removeprefix("tw_id=")
        number += 1


async def run_visitors(base: str, clients: int, seconds: float) -> tuple[Load, float]:
    """`clients` visitors at once, each with a client (one connection) of its own, as each
    browser has: one shared httpx pool of many connections spends more CPU picking a
    connection than sending, on the same cores as the node."""
    load = Load()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(visitor(base, load, deadline) for _ in range(clients)))
    return load, time.monotonic() - started


def compile_demo(base: str) -> CompiledContainer:
    """The demo document the node published, compiled as `tagwire serve` compiles it."""
    doc = demo_document(f"{base}/demo/receiver")
    secrets = demo_secrets()
    runtime = TemplateRuntime(secrets.get, allow_http_loopback=True)
    return CompiledContainer.compile(apply_defaults(doc), runtime)


def as_collected(wire: dict[str, Any], now_ms: int) -> Hit:
    """The `Hit` /collect builds from a wire hit (container/collect.py `_Batch.hit`): the
    visitor id is set only when the consent lets it be stored."""
    client_id = "saturation-visitor-0001" if storage_granted(wire.get("consent")) else None
    return Hit(
        container_id=CONTAINER,
        event=wire["event"],
        event_id=wire["event_id"],
        wire=wire,
        event_time_ms=min(now_ms, wire["ts"]),
        received_ms=now_ms,
        client_ip="127.0.0.1",
        user_agent=USER_AGENT,
        client_id=client_id,
        sec_gpc=False,
        trace_id="saturation",
        cookies={},
        headers=[],
    )


def server_tags(doc: dict[str, Any]) -> set[str]:
    """The tags whose template queues a server request, so a hit they fire on leaves an
    outbox row. The shipped platform templates (meta, tiktok, linkedin, google_ads, ga4)
    send a server copy unless their `send_server` parameter is off; with it off they
    only hand pixels to the browser, and a hit they fire on legitimately has no row.
    The webhook template has no such switch: it always sends. The demo container turns
    none off, so none is excluded; the rule is here so that a demo that did would be
    checked honestly rather than reported as loss."""
    return {tag["id"] for tag in doc["tags"] if tag["params"].get("send_server", True)}


def check_shapes(container: CompiledContainer, servers: set[str], base: str) -> None:
    """Every hit shape the visitors send, run through the compiled container here: each
    tag that fires and sends to a server queues at least one request and does not fail.
    So an acknowledged hit with no row for such a tag is loss, not a template that chose
    to send nothing (linkedin and google_ads skip a lead without user identifiers, ga4 a
    hit without a client id: the hits carry them)."""
    now_ms = int(time.time() * 1000)
    shapes = [hit for number in range(4) for batch in journey(base, number) for hit in batch]
    for wire in shapes:
        hit = as_collected(wire, now_ms)
        result = PipelineResult()
        container.run(hit, result)
        assert not result.failures, (wire, result.failures)
        queued = {row.tag_id for row in result.rows}
        expected = set(container.firing_tags(hit)) & servers
        page = wire["page"]["url"].removeprefix(base)
        assert queued == expected, (wire["event"], page, queued, expected)


def node_pid(base: str) -> int | None:
    """The pid of the `tagwire serve` process this test started on `base`'s port, to read
    its CPU time from /proc (None where /proc is not there)."""
    port = base.rsplit(":", 1)[1]
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and b"--demo" in argv and port.encode() in argv:
            return int(entry.name)
    return None


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_seconds(pid: int | None) -> float:
    """How long the node's threads waited for a CPU while runnable (schedstat): on a
    shared machine, what the node could not run for lack of a core."""
    total = 0
    for task in Path(f"/proc/{pid}/task").glob("*") if pid is not None else ():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def outbox(db: Path) -> list[tuple[str, str, str, str, str | None]]:
    """(event_id, tag_id, method, state, last_response) of every outbox row of the demo
    container, read through a read-only connection while the node runs. A failed tag run
    is a row with method `RUN` and its reason in last_response; one that ran again and
    worked has become its first request row (config/sqlite/tag_runs.py)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(
            "SELECT event_id, tag_id, method, state, last_response FROM outbox"
            " WHERE container_id = ?",
            (CONTAINER,),
        ).fetchall()
    finally:
        conn.close()


def ms(values: list[float], fraction: float) -> str:
    """The `fraction` percentile of latencies in seconds, in milliseconds."""
    ordered = sorted(values) or [0.0]
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1000:.0f} ms"


def test_every_acknowledged_hit_has_a_row_for_every_tag_it_fires(tmp_path):
    data_dir = tmp_path / "data"
    env = {"TAGWIRE_DATA_DIR": str(data_dir), **LOOPBACK_EGRESS}
    with tagwire_process("--demo", env=env) as base:
        container = compile_demo(base)
        servers = server_tags(apply_defaults(demo_document(f"{base}/demo/receiver")))
        check_shapes(container, servers, base)
        # One visitor alone first: the latency of an idle node, to compare the loaded one
        # with (its hits are checked too).
        alone, alone_s = asyncio.run(run_visitors(base, 1, BASELINE_S))
        pid = node_pid(base)
        cpu_before, client_before = cpu_seconds(pid), time.process_time()
        wait_before = runqueue_seconds(pid)
        load, elapsed = asyncio.run(run_visitors(base, CLIENTS, SECONDS))
        node_cpu = cpu_seconds(pid) - cpu_before
        node_wait = runqueue_seconds(pid) - wait_before
        client_cpu = time.process_time() - client_before
        # Rows are committed before a hit is acknowledged: nothing to wait for.
        rows = outbox(data_dir / "tagwire.db")

    acked = {**alone.acked, **load.acked}
    have = {(row[0], row[1]) for row in rows}
    now_ms = int(time.time() * 1000)
    expected = no_tag = 0
    missing: collections.Counter[tuple[str, str]] = collections.Counter()  # (event, tag)
    examples: list[tuple[str, str, str]] = []
    for event_id, wire in acked.items():
        tags = [t for t in container.firing_tags(as_collected(wire, now_ms)) if t in servers]
        no_tag += not tags
        for tag_id in tags:
            expected += 1
            if (event_id, tag_id) not in have:
                missing[(wire["event"], tag_id)] += 1
                if len(examples) < 10:
                    examples.append((event_id, wire["event"], tag_id))

    requests_by_state = collections.Counter(row[3] for row in rows if row[2] != RUN_METHOD)
    runs = [row for row in rows if row[2] == RUN_METHOD]
    runs_by_state = collections.Counter(row[3] for row in runs)
    runs_without_reason = [row for row in runs if not row[4]]
    print(
        f"\nsaturation: {CLIENTS} concurrent visitors for {elapsed:.1f} s, demo container\n"
        f"  one visitor alone ({alone_s:.1f} s): {alone.requests / alone_s:.0f} req/s,"
        f" latency p50 {ms(alone.latencies, 0.5)}\n"
        f"  loaded: {load.requests} requests, {load.requests / elapsed:.0f} req/s"
        f" ({load.sent / elapsed:.0f} hits/s); latency p50 {ms(load.latencies, 0.5)},"
        f" p99 {ms(load.latencies, 0.99)}, max {ms(load.latencies, 1.0)}\n"
        f"  CPU: node {node_cpu / elapsed * 100:.0f}% of one core, load generator"
        f" {client_cpu / elapsed * 100:.0f}%; the node's threads waited {node_wait:.1f} s"
        f" for a core; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n"
        f"  hits sent: {alone.sent + load.sent}, acknowledged: {len(acked)}, not"
        f" acknowledged: {dict(alone.refused + load.refused) or 0}\n"
        f"  acknowledged hits with no tag to fire: {no_tag}; (hit, tag) pairs expected:"
        f" {expected}\n"
        f"  outbox rows: {len(rows)}; request rows by state: {dict(requests_by_state)};"
        f" RUN rows by state: {dict(runs_by_state) or 0}\n"
        f"  missing (hit, tag) pairs: {sum(missing.values())}"
        + (f" by (event, tag): {dict(missing)}; e.g. {examples}" if missing else "")
    )
    assert acked, "the node acknowledged no hit"
    assert not missing, f"acknowledged hits without a row: {dict(missing)}; e.g. {examples}"
    assert not runs_without_reason, f"failed tag runs without a reason: {runs_without_reason[:5]}"

"""Hostile templates against a real node: the node keeps answering while they run.

Templates used to run on the event loop, and one template that kept the Lua VM busy in C
(a huge `table.sort`, `utf8.char` of a huge unpack, the output encoder escaping megabytes)
stalled `/healthz` and every other container for about 15 s. Now templates run on
per-container lanes on worker threads, every C function a template can reach is charged
to a deterministic cost budget, and a tag that keeps hitting its limits is quarantined.

One node process serves two containers: "hostile", whose tags each run one attack with
their manifest limits raised to the caps (what an agency may set), and a normal "shop".
For each attack a separate process keeps CONCURRENCY hostile `/collect` requests in
flight for LOAD_S seconds, while this process polls `GET /healthz` and posts shop hits
back to back and keeps the worst latency. Then the hostile tag runs must have failed with
a deterministic kind (`budget` or `limit`, never the wall-clock `deadline`), and the tags
must be quarantined: listed in `/readyz`, and later hits stored as RUN rows that say
"quarantined" without running.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from container.quarantine import STRIKES
from tags.limits import CAPS
from tests.helpers import make_document, make_hit, tagwire_process

pytestmark = pytest.mark.e2e

# The failure this guards against was a 15 s stall of /healthz. On the two-core machine
# this was written on, with the load generator and the probers on the same cores, /healthz
# answered in 1-2 ms (median) and at worst ~20-150 ms during these attacks. 500 ms leaves
# room for scheduling noise on a loaded CI machine while staying far below a stall caused
# by templates: a run at the caps takes ~50-200 ms here, and when templates ran on the
# event loop this same test measured 1.0-1.6 s.
HEALTHZ_BOUND_S = 0.5
# A shop hit also waits for the shop lane and the outbox commit the hostile RUN rows share.
SHOP_BOUND_S = 1.5
CONCURRENCY = 32
LOAD_S = 2.0
# Tags per attack, all with the attack's template: each runs STRIKES times before its
# quarantine, so COPIES tags keep the attack really running COPIES times longer.
COPIES = 3

# The caps: instructions 10,000,000 and memory 32 MiB, plus output and pixel caps for the
# encoder attack; a template asking for more would be clamped to these.
LIMITS = {
    "instructions": CAPS.instructions,
    "memory_bytes": CAPS.memory_bytes,
    "max_output_bytes": CAPS.max_output_bytes,
    "max_pixels": CAPS.max_pixels,
}

# One template per attack. Each keeps repeating its expensive C call, so the budget (or
# the memory limit) is what must stop it.
ATTACKS = {
    # 8 x n x log2 n compares are charged before the sort: 200k items cannot be paid for
    "sort_200k": (
        "local t = {} for i = 1, 200000 do t[i] = (i * 7919) % 200003 end "
        "while true do table.sort(t) end"
    ),
    # strings with a long common prefix: each compare scans it, charged by the longest
    "sort_strings": (
        "local p = string.rep('a', 60) local t = {} "
        "for i = 1, 20000 do t[i] = p .. ((i * 7919) % 20011) end "
        "while true do table.sort(t) end"
    ),
    # the largest unpack the sandbox lets through (65,536 values), in a loop
    "utf8_char_unpack_65k": (
        "local t = {} for i = 1, 65536 do t[i] = 0x10FFFF end "
        "while true do local s = utf8.char(table.unpack(t)) end"
    ),
    # more values than one call may push: refused up front as a `limit` (it used to reach
    # Lua's own stack overflow, a plain runtime error quarantine did not count)
    "utf8_char_unpack_900k": (
        "local t = {} for i = 1, 900000 do t[i] = 0x10FFFF end "
        "while true do local s = utf8.char(table.unpack(t)) end"
    ),
    # a table too big for the memory limit before it can be unpacked
    "utf8_char_unpack_3m": (
        "local t = {} for i = 1, 3000000 do t[i] = 0x10FFFF end "
        "while true do local s = utf8.char(table.unpack(t)) end"
    ),
    # 8 MB per concat, as often as the budget allows
    "concat_8mb": (
        "local s = string.rep('x', 1024) local t = {} for i = 1, 8000 do t[i] = s end "
        "while true do local r = table.concat(t) end"
    ),
    # 400 MB asked for at once: refused by the charge before the copy
    "concat_400mb": (
        "local s = string.rep('x', 4096) local t = {} for i = 1, 100000 do t[i] = s end "
        "while true do local r = table.concat(t) end"
    ),
    "insert_remove_front": (
        "local t = {} for i = 1, 200000 do t[i] = i end "
        "while true do table.insert(t, 1, 0) table.remove(t, 1) end"
    ),
    # 1 MB of two-byte characters per call
    "utf8_len_1mb": "local s = string.rep('\\u{e9}', 1 << 19) while true do utf8.len(s) end",
    "spin": "while true do end",
    # The output encoder runs after the template, without the instruction hook: 1,200
    # references to one 4 KB string of control characters, each escaped to 24 KB.
    "encoder_control_chars": (
        "local s = string.rep('\\1', 4096) local args = {} "
        "for i = 1, 1200 do args[i] = s end "
        "pixel{vendor = 'acme', command = 'track', args = args}"
    ),
}

DETERMINISTIC = ("budget: ", "limit: ")
QUARANTINED = "limit: quarantined: "


def attack_tags(attack: str) -> list[str]:
    return [f"{attack}-{n}" for n in range(1, COPIES + 1)]


def hostile_document() -> dict[str, Any]:
    doc: dict[str, Any] = {
        "container": {"id": "hostile", "name": "Hostile", "allowed_origins": []},
        "triggers": [],
        "templates": [],
        "tags": [],
    }
    for attack, lua in ATTACKS.items():
        template = attack.replace("_", "-")
        doc["triggers"].append({"id": attack, "name": attack, "events": [f"attack_{attack}"]})
        doc["templates"].append(
            {"id": template, "lua": lua, "permissions": {"pixel": ["acme"]}, "limits": LIMITS}
        )
        for tag in attack_tags(attack):
            doc["tags"].append(
                {"id": tag, "name": tag, "template": template, "params": {},
                 "firing_triggers": [attack], "consent": {"gcm": ["ad_storage"]}}
            )  # fmt: skip
    return doc


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real node serving "hostile" and "shop"; yields its URL and its database."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "hostile.json").write_text(json.dumps(hostile_document()))
    # the shop's webhook is never called: the sender is off, its rows stay pending
    (folder / "shop.json").write_text(json.dumps(make_document()))
    env = {
        "TAGWIRE_DATA_DIR": str(folder / "data"),
        "TAGWIRE_SENDER": "off",
        # every failed run logs a warning; nobody reads the node's stderr pipe
        "TAGWIRE_LOG_LEVEL": "error",
    }
    args = ("--container", str(folder / "hostile.json"), "--container", str(folder / "shop.json"))
    with tagwire_process(*args, env=env) as base:
        yield base, folder / "data" / "tagwire.db"


# Keeps CONCURRENCY hostile requests in flight for LOAD_S seconds, in a process of its own
# so that the load generator's work does not delay this process's prober. Prints the
# count of each answer status.
LOAD = """
import asyncio, json, sys, time, uuid
import httpx

base, concurrency, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
hit = json.loads(sys.stdin.read())

async def client(http, until, statuses):
    while time.monotonic() < until:
        body = json.dumps({**hit, "event_id": str(uuid.uuid4())})
        try:
            answer = await http.post(f"{base}/collect?id=hostile", content=body,
                                     headers={"content-type": "text/plain"})
            key = str(answer.status_code)
        except httpx.HTTPError as exc:
            key = type(exc).__name__
        statuses[key] = statuses.get(key, 0) + 1

async def main():
    statuses = {}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        until = time.monotonic() + seconds
        await asyncio.gather(*(client(http, until, statuses) for _ in range(concurrency)))
    print(json.dumps(statuses))

asyncio.run(main())
"""


class Prober(threading.Thread):
    """Sends one kind of request on its own connection, again and again until stopped;
    keeps each answer's latency and status. /healthz and the shop have a prober each, so
    a slow shop hit does not space out the /healthz probes (nor the other way round)."""

    def __init__(self, base: str, send: Callable[[httpx.Client, str], httpx.Response]) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.send = send
        self.stop = threading.Event()
        self.answers: list[tuple[float, int | str]] = []

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    status: int | str = self.send(http, self.base).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.answers.append((time.perf_counter() - started, status))
                time.sleep(0.002)  # a request every few ms, not a flood of the node

    def worst(self) -> float:
        return max(latency for latency, _ in self.answers)


def get_healthz(http: httpx.Client, base: str) -> httpx.Response:
    return http.get(f"{base}/healthz")


def post_shop_hit(http: httpx.Client, base: str) -> httpx.Response:
    hit = make_hit(event_id=str(uuid.uuid4()))
    return http.post(f"{base}/collect?id=shop", content=orjson.dumps(hit),
                     headers={"content-type": "text/plain"})  # fmt: skip


def run_rows(db: Path, tags: list[str]) -> list[tuple[str, str, str]]:
    """(tag, state, last_response) of the RUN rows of these tags, oldest first."""
    conn = sqlite3.connect(db)
    try:
        marks = ",".join("?" * len(tags))
        return conn.execute(
            "SELECT tag_id, state, last_response FROM outbox WHERE method = 'RUN'"
            f" AND container_id = 'hostile' AND tag_id IN ({marks}) ORDER BY id",
            tags,
        ).fetchall()
    finally:
        conn.close()


def failure_counts(base: str, tags: list[str]) -> Counter[str]:
    """tagwire_tag_failures_total of these hostile tags, by kind."""
    kinds: Counter[str] = Counter()
    for line in httpx.get(f"{base}/metrics", timeout=10).text.splitlines():
        if not line.startswith("tagwire_tag_failures_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        if labels["container"] == "hostile" and labels["tag"] in tags:
            kinds[labels["kind"]] += int(float(line.rsplit(" ", 1)[1]))
    return kinds


def post_hostile(base: str, attack: str) -> int:
    hit = make_hit(event=f"attack_{attack}", event_id=str(uuid.uuid4()))
    return httpx.post(f"{base}/collect?id=hostile", content=orjson.dumps(hit),
                      headers={"content-type": "text/plain"}, timeout=30).status_code  # fmt: skip


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_hostile_template_neither_stalls_the_node_nor_escapes_its_budget(
    node: tuple[str, Path], attack: str
) -> None:
    base, db = node
    tags = attack_tags(attack)
    healthz, shop = Prober(base, get_healthz), Prober(base, post_shop_hit)
    healthz.start()
    shop.start()
    try:
        load = subprocess.run(
            [sys.executable, "-c", LOAD, base, str(CONCURRENCY), str(LOAD_S)],
            input=orjson.dumps(make_hit(event=f"attack_{attack}")).decode(),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        for prober in (healthz, shop):
            prober.stop.set()
            prober.join(30)
    assert load.returncode == 0, load.stderr
    hostile: dict[str, int] = json.loads(load.stdout)
    print(f"{attack}: worst /healthz {healthz.worst() * 1000:.1f} ms over "
          f"{len(healthz.answers)} probes, worst shop hit {shop.worst() * 1000:.1f} ms over "
          f"{len(shop.answers)}, hostile answers {hostile}")  # fmt: skip

    # the node answered everyone: the prober, the shop and the hostile clients
    assert len(healthz.answers) >= 50, "the /healthz prober hardly ran"
    assert len(shop.answers) >= 10, "the shop prober hardly ran"
    assert [s for _, s in healthz.answers if not (isinstance(s, int) and 200 <= s < 300)] == []
    assert [s for _, s in shop.answers if s != 204] == []
    assert set(hostile) == {"204"}, hostile
    assert healthz.worst() < HEALTHZ_BOUND_S, f"/healthz took {healthz.worst():.3f} s"
    assert shop.worst() < SHOP_BOUND_S, f"a shop hit took {shop.worst():.3f} s"

    # the runs that happened failed deterministically, STRIKES of them per tag, and every
    # later hit was stored as quarantined without running
    rows = run_rows(db, tags)
    assert len(rows) == hostile["204"] * COPIES, "a hostile hit's tag run is missing"
    assert {state for _, state, _ in rows} == {"dead"}
    for tag in tags:
        responses = [response for t, _, response in rows if t == tag]
        ran = [r for r in responses if not r.startswith(QUARANTINED)]
        assert len(ran) == STRIKES, (tag, ran)
        assert [r for r in ran if not r.startswith(DETERMINISTIC)] == [], tag
        assert all(r.startswith(QUARANTINED) for r in responses[STRIKES:]), tag
        assert len(responses) > STRIKES, f"{tag}: no hit came after its quarantine"

    # the metric agrees: deterministic kinds only (a quarantined run counts as `limit`)
    failures = failure_counts(base, tags)
    assert failures["deadline"] == 0, failures
    assert set(failures) <= {"budget", "limit"}, failures
    assert sum(failures.values()) == len(rows), failures

    quarantined = httpx.get(f"{base}/readyz", timeout=10).json()["quarantined"]
    listed = {q["tag"]: q for q in quarantined if q["container"] == "hostile"}
    for tag in tags:
        assert listed[tag]["kind"] in ("budget", "limit"), listed[tag]

    # a later hit: answered, and its runs recorded as quarantined, not run
    assert post_hostile(base, attack) == 204
    later = run_rows(db, tags)[len(rows) :]
    assert sorted(tag for tag, _, _ in later) == tags
    assert all(state == "dead" and r.startswith(QUARANTINED) for _, state, r in later), later

"""Benchmark what isolating tag runs from the event loop costs per hit.

The same compiled container runs the same hit four ways in one process, side by side:
  - "inline, no allowance": `CompiledContainer.run` on the event loop with no bound, as
    tags ran before isolation (the baseline; not isolated);
  - "acceptor": `Acceptor.run`, what the endpoints call: on the loop under the
    `INLINE_UNITS` allowance while the lane is idle, on the lane once a run outgrows it;
  - "lane, one at a time": each hit a job on the container's lane (container/lanes.py),
    awaited before the next: the full cross-thread hand-off, there and back, per hit;
  - "lane, N concurrent": N requests in flight, as under load: a worker drains the lane
    in batches and settles them with one loop wake-up.
Two containers: one webhook tag (the durable-ack benchmark's) and the demo container.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

from collect import DURABLE_CONTAINER  # bench/collect.py: the durable-ack container
from timing import machine

from config.schema import apply_defaults
from container.accept import Acceptor
from container.delivery.outbox import OutboxWriter
from container.lanes import TagLanes
from container.pipeline import CompiledContainer, PipelineResult
from tags.runtime import TemplateRuntime
from variables.hit import Hit

HERE = Path(__file__).parent
ROOT = HERE.parent


def _hit(container_id: str) -> Hit:
    wire = json.loads((HERE / "hit.json").read_text())
    now = int(time.time() * 1000)
    return Hit(container_id, wire["event"], wire["event_id"], wire, now, now, "203.0.113.9",
               "Mozilla/5.0 (bench)", "cid-1", False, "trace", {}, [])  # fmt: skip


async def _inline(container: CompiledContainer, hit: Hit, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        container.run(hit, PipelineResult())
        await asyncio.sleep(0)  # a request would give the loop a turn
    return (time.perf_counter() - start) / number * 1e6


async def _acceptor(
    acceptor: Acceptor, container: CompiledContainer, hit: Hit, number: int
) -> float:
    hits = [hit]
    start = time.perf_counter()
    for _ in range(number):
        await acceptor.run(container, hits)
    return (time.perf_counter() - start) / number * 1e6


async def _serial(lanes: TagLanes, container: CompiledContainer, hit: Hit, number: int) -> float:
    def job() -> PipelineResult:
        result = PipelineResult()
        container.run(hit, result)
        return result

    start = time.perf_counter()
    for _ in range(number):
        await lanes.run(container.lane, job)
    return (time.perf_counter() - start) / number * 1e6


async def _concurrent(
    lanes: TagLanes, container: CompiledContainer, hit: Hit, number: int, inflight: int
) -> float:
    def job() -> PipelineResult:
        result = PipelineResult()
        container.run(hit, result)
        return result

    async def client(count: int) -> None:
        for _ in range(count):
            await lanes.run(container.lane, job)

    start = time.perf_counter()
    await asyncio.gather(*(client(number // inflight) for _ in range(inflight)))
    return (time.perf_counter() - start) / (number // inflight * inflight) * 1e6


async def _measure(container: CompiledContainer, repeats: int, number: int, inflight: int) -> None:
    hit = _hit(container.id)
    check = PipelineResult()
    container.run(hit, check)
    if not check.rows or check.failures:
        raise SystemExit(f"{container.id}: the hit queued no request ({check.failures})")
    lanes = TagLanes(workers=2, max_queued=inflight * 2)
    lanes.start()
    # The acceptor's run never writes: the endpoints commit separately.
    acceptor = Acceptor(OutboxWriter.__new__(OutboxWriter), lanes)
    try:
        await _inline(container, hit, number // 5)  # warm-up
        await _serial(lanes, container, hit, number // 5)
        inline, accepted, serial, concurrent = [], [], [], []
        for _ in range(repeats):
            inline.append(await _inline(container, hit, number))
            accepted.append(await _acceptor(acceptor, container, hit, number))
            serial.append(await _serial(lanes, container, hit, number))
            concurrent.append(await _concurrent(lanes, container, hit, number, inflight))
    finally:
        await lanes.stop()
    a, d, b, c = (statistics.median(x) for x in (inline, accepted, serial, concurrent))
    tags = len(container.firing_tags(hit))
    print(f"{container.id} ({tags} tag{'s' if tags != 1 else ''} fire per hit):")
    print(f"  inline, no allowance:        {a:8.1f} µs/hit  (baseline, not isolated)")
    print(f"  acceptor (loop, allowance):  {d:8.1f} µs/hit  ({d - a:+.1f} µs; {a / d:.2f}x)")
    print(f"  lane, one at a time:         {b:8.1f} µs/hit  ({b - a:+.1f} µs; {a / b:.2f}x)")
    print(f"  lane, {inflight:3d} concurrent:      {c:8.1f} µs/hit  ({c - a:+.1f} µs;"
          f" {a / c:.2f}x)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--inflight", type=int, default=64)
    args = parser.parse_args()
    demo = json.loads((ROOT / "demo" / "container.json").read_text())
    containers = [
        CompiledContainer.compile(
            apply_defaults(doc), TemplateRuntime(lambda name: "secret", allow_http_loopback=True)
        )
        for doc in (DURABLE_CONTAINER, demo)
    ]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{machine()}; load average {load} (median of {args.repeats} runs)")
    for container in containers:
        asyncio.run(_measure(container, args.repeats, args.number, args.inflight))
    return 0


if __name__ == "__main__":
    sys.exit(main())

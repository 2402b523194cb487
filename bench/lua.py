"""Benchmark the Lua template runtime: µs per tag execution and per hit with 4 tags.

Measures a realistic mapping template (bench/mapping_template: a 20-field hit in, a
15-field request body and one pixel command out) through the same calls the data plane
makes: the hit converted to Lua once (`hit_context`), then `execute` per tag, which
includes the output conversion back to Python. "limits off" runs the same compiled
template through the sandbox with the instruction/deadline hook and the per-call memory
cap disabled, to price the limits. "hit→Lua" is the conversion alone, which a hit pays once
for all of its tags.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timing import machine, measure

from tags.event import template_event
from tags.package import load_package
from tags.runtime import TemplateRuntime
from variables.hit import Hit

HERE = Path(__file__).parent

WIRE = {
    "v": 1,
    "event": "purchase",
    "event_id": "0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10",
    "ts": 1763900000000,
    "page": {"url": "https://www.example.com/checkout/thanks", "referrer": "", "title": "Thanks",
             "locale": "en-GB"},
    "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                "ad_user_data": "granted", "ad_personalization": "denied"},
    "user": {"em": "a" * 64, "ph": "b" * 64, "fn": "c" * 64},
    "click": {"fbc": "fb.1.1763899000000.IwAR2F4", "fbp": "fb.1.1763899000000.123"},
    "data": {"value": 129.5, "currency": "EUR", "transaction_id": "T-2026-1"},
}  # fmt: skip
PARAMS = {"endpoint": "https://graph.example.com/v19.0/123/events",
          "event_names": {"purchase": "Purchase"}}  # fmt: skip


def hit() -> Hit:
    return Hit("bench", WIRE["event"], WIRE["event_id"], WIRE, 1763900000000, 1763900000100,
               "203.0.113.9", "Mozilla/5.0 (bench)", "cid-1", False, "trace", {}, [])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=5000)
    args = parser.parse_args()

    package = load_package(HERE / "mapping_template")
    runtime = TemplateRuntime()
    tags = [runtime.bind(f"bench/tag{i}", package, PARAMS) for i in range(4)]
    event = template_event(hit())
    check = runtime.execute(tags[0], runtime.hit_context(event, {}, 1763900000100))
    if check.error or len(check.requests) != 1 or len(check.pixels) != 1:
        raise SystemExit(f"benchmark template misbehaves: {check}")

    def one_tag() -> None:
        runtime.execute(tags[0], runtime.hit_context(event, {}, 1763900000100))

    def one_tag_no_limits() -> None:
        runtime.execute_unlimited(tags[0], runtime.hit_context(event, {}, 1763900000100))

    def convert() -> None:
        runtime.hit_context(event, {}, 1763900000100)

    def four_tags() -> None:
        context = runtime.hit_context(event, {}, 1763900000100)
        for tag in tags:
            runtime.execute(tag, context)

    for fn in (one_tag, one_tag_no_limits, convert, four_tags):
        measure(fn, 1, args.number // 5)  # warm-up
    limited = measure(one_tag, args.repeats, args.number)
    conversion = measure(convert, args.repeats, args.number)
    unlimited = measure(one_tag_no_limits, args.repeats, args.number)
    per_hit = measure(four_tags, args.repeats, args.number // 4)
    print(f"{machine()} (median of {args.repeats} runs)")
    print(f"one tag, limits on  (hit→Lua + execute + output→Python): {limited:7.1f} µs "
          "(target <= 25 µs)")  # fmt: skip
    print(f"one tag, limits off (same, no hook, no memory cap):       {unlimited:7.1f} µs")
    print(f"limits add: {(limited / unlimited - 1) * 100:.0f} % (target <= 30 %)")
    print(f"hit→Lua alone (once per hit, whatever its tags):          {conversion:7.1f} µs")
    print(f"cost of one execution: {check.cost} budget units")
    print(f"one hit with 4 such tags (hit converted once):           {per_hit:7.1f} µs "
          f"({per_hit / 4:.1f} µs per tag)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

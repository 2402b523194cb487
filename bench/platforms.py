"""Benchmark the shipped platform templates: µs per execution, and per hit with all five.

Each template runs with the demo container's parameters on a lead hit that carries hashed
user data, click ids and a value, through the calls the data plane makes (`hit_context`
once per hit, `execute` per tag, output back to Python). "Whole pipeline" runs the demo
container's compiled pipeline (variables, triggers, consent, the five platform tags and
the webhook tag, PII last scan, outbox rows) on the same hit.
"""

from __future__ import annotations

import argparse
import sys

from timing import machine, measure

from config.schema import apply_defaults
from container.pipeline import CompiledContainer, PipelineResult
from demo import demo_document, demo_secrets
from tags.event import template_event
from tags.runtime import TemplateRuntime
from variables.hit import Hit

PLATFORMS = ("meta", "tiktok", "linkedin", "google_ads", "ga4")
NOW_MS = 1763900000100
H = "0123456789abcdef" * 4
WIRE = {
    "v": 1,
    "event": "lead",
    "event_id": "0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10",
    "ts": 1763900000000,
    # The demo reports a lead from its thank-you page, where its `leads` trigger fires.
    "page": {"url": "http://127.0.0.1:8000/demo/thanks?lead_id=L-1001",
             "referrer": "http://127.0.0.1:8000/demo/lead", "title": "Thanks",
             "locale": "en-GB"},
    "consent": {"ad_storage": "granted", "analytics_storage": "granted",
                "ad_user_data": "granted", "ad_personalization": "denied"},
    "user": {"em": H, "ph": H[::-1], "ph_d": H[1:] + "0", "fn": H[2:] + "01"},
    "click": {"fbclid": "IwAR2F4-dbP0l7Mn1Iaw", "gclid": "Cj0KCQiA-bench", "ttclid": "E.C.P.bench",
              "li_fat_id": "1b2c3d4e-bench"},
    "data": {"value": 50, "currency": "EUR", "lead_id": "L-1001"},
}  # fmt: skip


def hit() -> Hit:
    return Hit("demo", WIRE["event"], WIRE["event_id"], WIRE, 1763900000000, NOW_MS,
               "203.0.113.9", "Mozilla/5.0 (bench)", "cid-1", False, "trace",
               {"_fbp": "fb.1.1763800000000.42"}, [])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()

    doc = apply_defaults(demo_document("http://127.0.0.1:8000/demo/receiver"))
    runtime = TemplateRuntime(demo_secrets().get, allow_http_loopback=True)
    container = CompiledContainer.compile(doc, runtime)
    tags = {tag.id: tag.binding.static for tag in container.tags if tag.id in PLATFORMS}
    the_hit = hit()
    event = template_event(the_hit)

    def context():
        return runtime.hit_context(event, the_hit.cookies, NOW_MS)

    for name, bound in tags.items():
        check = runtime.execute(bound, context())
        if check.error or len(check.requests) != 1:
            raise SystemExit(f"{name} misbehaves on the benchmark hit: {check}")

    def all_five() -> None:
        shared = context()
        for bound in tags.values():
            runtime.execute(bound, shared)

    def pipeline() -> None:
        container.run(the_hit, PipelineResult())

    check = PipelineResult()
    container.run(the_hit, check)
    if len(check.rows) != 6:
        raise SystemExit(f"the demo pipeline should queue 6 requests, got {len(check.rows)}")

    print(f"{machine()} (median of {args.repeats} runs)")
    for name, bound in tags.items():

        def one(bound=bound) -> None:
            runtime.execute(bound, context())

        measure(one, 1, args.number // 5)  # warm-up
        print(f"{name:<11} one execution (hit→Lua + execute + output→Python): "
              f"{measure(one, args.repeats, args.number):7.1f} µs")  # fmt: skip
    measure(all_five, 1, args.number // 10)
    five = measure(all_five, args.repeats, args.number // 5)
    print(f"one hit, all five platform templates (hit converted once):  {five:7.1f} µs")
    measure(pipeline, 1, args.number // 10)
    whole = measure(pipeline, args.repeats, args.number // 5)
    print(f"one hit, whole demo pipeline (5 platforms + webhook):       {whole:7.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

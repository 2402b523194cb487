"""Benchmark the browser loader: its size, and its main-thread cost in headless Chromium.

Sizes are the bytes the server sends: both files built with default settings. Main-thread
cost is measured side by side in one run, against a real `tagwire serve --demo` process.
Synthetic pages are served on the node's own origin through Playwright routes, under a
strict CSP (nonce + 'strict-dynamic', Trusted Types). Each load gets a fresh browser
context, so every load starts with a cold HTTP cache and empty storage. After load,
network idle and a settle time, CDP `Performance.getMetrics` gives the page's
ScriptDuration, TaskDuration and ThreadTime (the main thread's CPU time), and a
`longtask` observer counts long tasks. The scenarios take turns in each round, so drift
on the machine hits them all alike; the loader's cost is each scenario minus the bare
page of the same round.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from collect import free_port, wait_ready
from playwright.sync_api import Browser, ConsoleMessage, Route, sync_playwright
from timing import machine

from config.settings import Settings
from container.loader import build_loader, build_pixels, loader_scripts, snippet
from fake_platforms import pixel_script_urls

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONTAINER = "demo"
LOADER_TARGET_GZ = 4096
MAIN_THREAD_TARGET_MS = 5.0
LONG_TASK_MS = 50
WARMUP_ROUNDS = 2
CSP = (
    "script-src 'nonce-{nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'; "
    "require-trusted-types-for 'script'; trusted-types tagwire"
)
GRANTED = (
    "{ad_storage: 'granted', analytics_storage: 'granted', ad_user_data: 'granted', "
    "ad_personalization: 'granted'}"
)
LONG_TASKS = """
window.__twLongTasks = [];
try {
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) { window.__twLongTasks.push(e.duration); });
  }).observe({type: 'longtask', buffered: true});
} catch (e) {}
"""
LEFT_OUT = "/* vendor library left out by the benchmark */\n"
# Third-party figures, not measured here: the team's performance notes
# (shared/docs/performance.md, section 4) with the sources they cite.
SIZE_REFERENCES = [
    ("empty GTM web container", "30-40 KB", "digitaldatatactics.com 2022"),
    ("gtag.js (GA4)", "45 KB gz", "webanalyzerapp 2026"),
    ("gtag.js (GA4)", "134 KB compressed", "corewebvitals.io 2026"),
    ("tiny first-party trackers", "0.6-2 KB", "medama tracker README"),
]
MAIN_THREAD_REFERENCES = [
    ("Google Tag Manager (incl. gtag.js)", 1066),
    ("TikTok pixel", 578),
    ("Meta pixel", 514),
    ("LinkedIn Insight", 133),
]


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    label: str
    loader: bool
    consent: bool
    libraries: bool


SCENARIOS = [
    Scenario("A", "A   bare page", loader=False, consent=False, libraries=False),
    Scenario("B1", "B1  loader, no consent", loader=True, consent=False, libraries=False),
    Scenario("B2x", "B2x consent, libraries left out", loader=True, consent=True, libraries=False),
    Scenario("B2", "B2  consent, fake vendor libraries", loader=True, consent=True, libraries=True),
]
# (scenario, minus, label): what each "added" line subtracts from what.
ADDED = [
    ("B1", "A", "loader, no consent (B1 - A)"),
    ("B2x", "A", "loader after consent (B2x - A)"),
    ("B2", "A", "loader + fake libraries (B2 - A)"),
    ("B2", "B2x", "fake libraries alone (B2 - B2x)"),
]


# CDP Performance metric, column heading. Script and task are wall-clock time on the main
# thread (a task preempted by another process grows); ThreadTime is its CPU time, which
# means nothing under CPU throttling (a bare page's went from ~15 to ~690 ms at 4x).
Metrics = list[tuple[str, str]]
METRICS: Metrics = [
    ("ScriptDuration", "script ms"),
    ("TaskDuration", "task ms"),
    ("ThreadTime", "cpu ms"),
]


@dataclass(frozen=True, slots=True)
class Load:
    ms: dict[str, float]
    long_tasks: int


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: always a value that was measured."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def paired(b: Sequence[float], a: Sequence[float]) -> list[float]:
    """Per-round differences, so each load is compared with the bare page of its round."""
    return [x - y for x, y in zip(b, a, strict=True)]


def rotated(items: Sequence[Scenario], by: int) -> list[Scenario]:
    """The scenarios in turn, each round starting one later, so none always goes first."""
    by %= len(items)
    return [*items[by:], *items[:by]]


def page_html(scenario: Scenario, nonce: str) -> str:
    head = [f"<script nonce=\"{nonce}\">window.benchPage = 'tagwire loader benchmark';</script>"]
    if scenario.loader:
        head.append(snippet(f"/loader.js?id={CONTAINER}").replace("NONCE", nonce))
    if scenario.consent:
        head.append(f"<script nonce=\"{nonce}\">tagwire('consent', {GRANTED});</script>")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<title>tagwire loader benchmark</title>\n<link rel="icon" href="data:,">\n'
        + "\n".join(head)
        + "\n</head>\n<body>\n<main><h1>Loader benchmark</h1>"
        "<p>A page with almost nothing on it.</p></main>\n</body>\n</html>\n"
    )


def library_pattern(libraries: Sequence[str]) -> re.Pattern[str]:
    """The vendor library URLs, with or without a query (a regex, so Playwright's driver
    matches it without a round trip to Python)."""
    return re.compile("^(?:" + "|".join(map(re.escape, libraries)) + r")(?:\?.*)?$")


@dataclass(frozen=True, slots=True)
class Bench:
    browser: Browser
    base: str
    libraries: re.Pattern[str]
    settle_ms: int
    cpu_slowdown: float

    def load(self, scenario: Scenario) -> Load:
        """One page load in a fresh context: cold HTTP cache, new renderer, no storage."""
        nonce = secrets.token_hex(16)
        seen: list[str] = []
        problems: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                problems.append(f"console {message.type}: {message.text}")

        def library(route: Route) -> None:
            if scenario.libraries:
                route.continue_()
            else:
                route.fulfill(content_type="text/javascript", body=LEFT_OUT)

        def fulfil(route: Route) -> None:
            route.fulfill(
                status=200,
                headers={"content-security-policy": CSP.format(nonce=nonce)},
                content_type="text/html; charset=utf-8",
                body=page_html(scenario, nonce),
            )

        context = self.browser.new_context()
        try:
            context.add_init_script(LONG_TASKS)
            context.set_default_timeout(20_000)
            page = context.new_page()
            page.on("request", lambda request: seen.append(request.url))
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", on_console)
            # Every scenario has the same routes, so request interception costs all alike.
            page.route(f"{self.base}/bench/page", fulfil)
            page.route(self.libraries, library)
            cdp = context.new_cdp_session(page)
            if self.cpu_slowdown != 1:
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": self.cpu_slowdown})
            cdp.send("Performance.enable")
            page.goto(f"{self.base}/bench/page", wait_until="load")
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(self.settle_ms)
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            long_tasks = page.evaluate("window.__twLongTasks")
        finally:
            context.close()
        if problems:
            raise SystemExit(f"{scenario.label}: the page misbehaved: {problems}")
        self.check(scenario, seen)
        return Load(
            {name: metrics[name] * 1000 for name, _ in METRICS},
            sum(1 for duration in long_tasks if duration > LONG_TASK_MS),
        )

    def check(self, scenario: Scenario, seen: list[str]) -> None:
        """Refuse to measure a scenario that did not do what its label says."""
        did = (
            any(u.startswith(f"{self.base}/loader.js?") for u in seen),
            any(u.startswith(f"{self.base}/collect?") for u in seen),
            any(u.startswith(f"{self.base}/loader-consented.js?") for u in seen),
            any(self.libraries.match(u) for u in seen),
        )
        if did != (scenario.loader, scenario.consent, scenario.consent, scenario.consent):
            raise SystemExit(f"{scenario.label}: unexpected requests {seen}")

    def rounds(self, loads: int) -> dict[str, list[Load]]:
        for _ in range(WARMUP_ROUNDS):
            for scenario in SCENARIOS:
                self.load(scenario)
        results: dict[str, list[Load]] = {s.key: [] for s in SCENARIOS}
        for i in range(loads):
            for scenario in rotated(SCENARIOS, i):
                results[scenario.key].append(self.load(scenario))
            print(f"  round {i + 1}/{loads}", file=sys.stderr, flush=True)
        return results


@contextlib.contextmanager
def demo_node() -> Iterator[str]:
    """`tagwire serve --demo` on a free port, with a temporary data folder and the sender
    off (nothing is delivered, so the node takes little CPU from the browser). Its log goes
    to a file, so a chatty node never blocks on a full pipe, and a failed start says why."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tagwire", "serve", "--demo", "--host", "127.0.0.1",
             "--port", str(port)],
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TAGWIRE_DATA_DIR": data_dir,
                 "TAGWIRE_SENDER": "off", "TAGWIRE_LOG_LEVEL": "warning"},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )  # fmt: skip
        try:
            try:
                wait_ready(f"{base}/readyz", process)
            except SystemExit as error:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise SystemExit(f"tagwire serve --demo did not start ({error}):\n{tail}") from None
            yield base
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def served_gzip_size(base: str) -> int:
    request = urllib.request.Request(
        f"{base}/loader.js?id={CONTAINER}", headers={"accept-encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        if response.headers.get("content-encoding") != "gzip":
            raise SystemExit("the demo node did not gzip loader.js")
        return len(response.read())


def verdict(ok: bool) -> str:
    return "target met" if ok else "target NOT met"


def goal(values: Sequence[float]) -> str:
    median, p90 = statistics.median(values), percentile(values, 90)
    if p90 <= MAIN_THREAD_TARGET_MS:
        return f"{verdict(True)} (median and p90)"
    if median <= MAIN_THREAD_TARGET_MS:
        return f"{verdict(True)} at the median, NOT at p90"
    return verdict(False)


def print_sizes(served_gz: int) -> None:
    pixels = build_pixels()
    loader = build_loader(CONTAINER, "strict", loader_scripts(Settings()), pixels)
    print(
        f'sizes: built with default Settings() for container "{CONTAINER}" (strict policy): '
        "the bytes the server sends"
    )
    print(f"{'file':<22} {'raw bytes':>10} {'gzip bytes':>11} {'gzip KB':>8}")
    rows = [("loader.js", loader), ("loader-consented.js", pixels)]
    for name, asset in rows:
        gz = len(asset.gzipped)
        print(f"{name:<22} {len(asset.body):>10,} {gz:>11,} {gz / 1024:>8.2f}")
    raw, gz = sum(len(a.body) for _, a in rows), sum(len(a.gzipped) for _, a in rows)
    print(f"{'both, after consent':<22} {raw:>10,} {gz:>11,} {gz / 1024:>8.2f}")
    gz = len(loader.gzipped)
    print(
        f"loader.js: {gz / 1024:.2f} KB gzipped, target <= 4 KB: "
        f"{verdict(gz <= LOADER_TARGET_GZ)} ({LOADER_TARGET_GZ - gz:,} bytes to spare)"
    )
    print(
        f"the demo node serves loader.js as {served_gz:,} gzip bytes "
        "(its library URLs point at the fake platforms)"
    )
    print("third-party figures, not measured here (published figures, second-hand):")
    for what, size, source in SIZE_REFERENCES:
        print(f"  {what:<26} {size:<18} {source}")


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):>7.2f} {percentile(values, 90):>7.2f}"


def header(metrics: Metrics, title: str, last: str) -> None:
    print(f"{title:<36}" + "".join(f" {heading:>15}" for _, heading in metrics) + " long tasks")
    print(f"{'':<36}" + " median     p90" * len(metrics) + f" {last:>10}")


def added(results: dict[str, list[Load]], key: str, minus: str, metric: str) -> list[float]:
    return paired([r.ms[metric] for r in results[key]], [r.ms[metric] for r in results[minus]])


def long_tasks(runs: list[Load]) -> int:
    return sum(r.long_tasks for r in runs)


def print_main_thread(results: dict[str, list[Load]], loads: int, metrics: Metrics) -> None:
    header(metrics, "per load", "total")
    for scenario in SCENARIOS:
        runs = results[scenario.key]
        columns = " ".join(spread([r.ms[name] for r in runs]) for name, _ in metrics)
        print(f"{scenario.label:<36} {columns} {long_tasks(runs):>10}")
    header(metrics, "added, paired per round", "added")
    for key, minus, label in ADDED:
        columns = " ".join(spread(added(results, key, minus, name)) for name, _ in metrics)
        more = long_tasks(results[key]) - long_tasks(results[minus])
        print(f"{label:<36} {columns} {more:>10}")
    print(f"the loader's own cost against the target <= {MAIN_THREAD_TARGET_MS:g} ms:")
    for key, minus, label in ADDED[:2]:
        verdicts = "; ".join(
            f"{heading.removesuffix(' ms')} {goal(added(results, key, minus, name))}"
            for name, heading in metrics
        )
        print(f"  {label}: {verdicts}; {long_tasks(results[key])} long tasks in {loads} loads")
    print(
        "third-party figures, not measured here: average main-thread ms per page, HTTP Archive "
        "mobile Lighthouse on ~4M sites (third-party-web dataset 2026-03-01). A different "
        "method, other machines and the real vendor code: not a like-for-like ratio"
    )
    for what, ms in MAIN_THREAD_REFERENCES:
        print(f"  {what:<36} {ms:>6,} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=30, help="measured loads per scenario")
    parser.add_argument(
        "--settle", type=int, default=500, help="ms to wait after network idle before measuring"
    )
    parser.add_argument(
        "--cpu-slowdown",
        type=float,
        default=1,
        help="Chromium CPU throttling rate (1 = none; Lighthouse's mobile profile uses 4)",
    )
    args = parser.parse_args()
    if args.loads < 1 or args.settle < 0 or args.cpu_slowdown < 1:
        parser.error("--loads must be >= 1, --settle >= 0 and --cpu-slowdown >= 1")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium is missing at {CHROMIUM}: install Debian's chromium")

    started = time.monotonic()
    with demo_node() as base, sync_playwright() as playwright:
        served_gz = served_gzip_size(base)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            libraries = library_pattern(list(pixel_script_urls(f"{base}/fake").values()))
            bench = Bench(browser, base, libraries, args.settle, args.cpu_slowdown)
            version = browser.version
            results = bench.rounds(args.loads)
        finally:
            browser.close()

    print(machine())
    print_sizes(served_gz)
    print()
    throttle = (
        "no CPU throttling"
        if args.cpu_slowdown == 1
        else f"CPU throttled {args.cpu_slowdown:g}x (no cpu ms column: throttling inflates it)"
    )
    print(
        f"main thread: headless Chromium {version}, {throttle}; {args.loads} loads per scenario "
        f"after {WARMUP_ROUNDS} warm-up rounds, scenarios interleaved; a fresh context per load "
        f"(cold HTTP cache, empty storage); CDP Performance.getMetrics after load, network idle "
        f"and {args.settle} ms; long tasks > {LONG_TASK_MS} ms; run took "
        f"{time.monotonic() - started:.0f} s"
    )
    print_main_thread(results, args.loads, METRICS if args.cpu_slowdown == 1 else METRICS[:2])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark hot reload: what a version costs a node, and what swapping costs `/collect`.

1. In process, on the demo container (six Lua templates, nine triggers): verifying a
   signed version, and compiling it with a fresh template runtime, the two steps a node
   runs before a swap.
2. Two runs of wrk against one node that serves the demo container from the store, side
   by side and alternated: "steady" (nothing published) and "swapping" (versions 2 and 1
   published in turn every --every seconds, the node checking every 0.1 s). It prints
   req/s, p50/p99 and non-2xx answers of each, and the swapping/steady ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from collect import free_port, start, stop, wrk
from timing import machine, measure

from config.publishing import ControlPlane
from config.signing import generate_keypair, load_private_key, load_public_key
from config.sqlite_store import SQLiteStore
from config.versions import open_signed
from container.node_secrets import NodeSecrets
from container.reload import builder
from demo import demo_document, demo_secrets


def versions(doc: dict) -> tuple[dict, dict]:
    """The demo container, and the same with one trigger changed."""
    changed = copy.deepcopy(doc)
    changed["triggers"][0]["events"] = [*changed["triggers"][0]["events"], "scroll"]
    return doc, changed


async def publish_both(path: Path, signer, docs: tuple[dict, dict]) -> None:
    store = SQLiteStore(path)
    await store.open()
    try:
        control = ControlPlane(store, signer=signer)
        for note, doc in zip(("first", "second"), docs, strict=True):
            await control.import_document(doc, "bench")
            await control.create_version("demo", "bench", note)
        await control.publish("demo", 1, "live", "bench")
    finally:
        await store.close()


class Publisher(threading.Thread):
    """Publishes versions 2 and 1 in turn until stopped; counts the publishes."""

    def __init__(self, path: Path, every: float) -> None:
        super().__init__(daemon=True)
        self.path, self.every = path, every
        self.stopped = threading.Event()
        self.count = 0

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        store = SQLiteStore(self.path)
        await store.open()
        try:
            control = ControlPlane(store)
            while not self.stopped.wait(self.every):
                await control.publish("demo", 2 - self.count % 2, "live", "bench")
                self.count += 1
        finally:
            await store.close()


def swaps_done(port: int) -> float:
    """tagwire_config_swaps_total of the node, from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("tagwire_config_swaps_total{"):
                return float(line.rsplit(" ", 1)[1])
    raise SystemExit("the node reports no tagwire_config_swaps_total")


def in_process(signer, public_key, docs: tuple[dict, dict], repeats: int) -> None:
    async def make() -> object:
        with tempfile.TemporaryDirectory() as folder:
            store = SQLiteStore(Path(folder) / "t.db")
            await store.open()
            try:
                control = ControlPlane(store, signer=signer)
                await control.import_document(docs[0], "bench")
                return await control.create_version("demo", "bench", "bench")
            finally:
                await store.close()

    version = asyncio.run(make())
    build = builder(NodeSecrets(None, None, lambda name: "token"), allow_http_loopback=True)

    def verify() -> object:
        return open_signed(version.body, version.signature, version.key_id, public_key,
                           container_id="demo", number=version.number)  # fmt: skip

    record = verify()
    verify_us = measure(verify, repeats, 20)
    compile_us = measure(lambda: build(record, "live"), repeats, 3)
    print(f"demo container version: {len(version.body):,} bytes of canonical JSON")
    print(f"verify (parse, canonical check, Ed25519): {verify_us / 1000:8.2f} ms median")
    print(f"compile (fresh runtime, 6 templates):     {compile_us / 1000:8.2f} ms median")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=6, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between publishes")
    args = parser.parse_args()

    private_pem, public_pem = generate_keypair()
    signer, public_key = load_private_key(private_pem), load_public_key(public_pem)
    docs = versions(demo_document("http://127.0.0.1:9/demo/receiver"))
    print(machine())
    in_process(signer, public_key, docs, args.rounds * 3)

    port = free_port()
    url = f"http://127.0.0.1:{port}/collect?id=demo"
    with tempfile.TemporaryDirectory() as data_dir:
        data = Path(data_dir)
        (data / "signing.pub").write_bytes(public_pem)
        asyncio.run(publish_both(data / "tagwire.db", signer, docs))
        env = {
            **os.environ,
            "TAGWIRE_DATA_DIR": data_dir,
            "TAGWIRE_SIGNING_PUBLIC_KEY_FILE": str(data / "signing.pub"),
            "TAGWIRE_RELOAD_INTERVAL_S": "0.1",
            "TAGWIRE_ALLOW_HTTP_LOOPBACK": "on",  # the demo webhook's local receiver URL
            "TAGWIRE_SENDER": "off",
            "TAGWIRE_LOG_LEVEL": "warning",
            "TAGWIRE_MAX_HITS_PER_IP_MINUTE": "0",
            "TAGWIRE_MAX_HITS_PER_CLIENT_MINUTE": "0",
            **{
                "TAGWIRE_SECRET_" + name.upper().replace("-", "_"): value
                for name, value in demo_secrets().items()
            },
        }
        command = [sys.executable, "-m", "tagwire", "serve", "--host", "127.0.0.1",
                   "--port", str(port)]  # fmt: skip
        node = start(command, env, f"http://127.0.0.1:{port}/readyz")
        runs: dict[str, list[dict]] = {"steady": [], "swapping": []}
        publishes = []
        try:
            wrk(url, args.connections, 2)  # warm-up
            for _ in range(args.rounds):
                runs["steady"].append(wrk(url, args.connections, args.seconds))
                publisher = Publisher(data / "tagwire.db", args.every)
                publisher.start()
                runs["swapping"].append(wrk(url, args.connections, args.seconds))
                publisher.stopped.set()
                publisher.join()
                publishes.append(publisher.count)
                time.sleep(0.3)
            swaps = swaps_done(port)
        finally:
            stop(node)

    print(
        f"/collect with the demo container, {args.connections} connections, {args.rounds} "
        f"alternating rounds of {args.seconds} s, medians; wrk shares the cores:"
    )
    print(f"{'run':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    medians = {}
    for name, results in runs.items():
        rps = statistics.median(r["rps"] for r in results)
        medians[name] = rps
        p50 = statistics.median(r["p50_us"] for r in results) / 1000
        p99 = statistics.median(r["p99_us"] for r in results) / 1000
        errors = sum(r["errors"] for r in results)
        print(f"{name:<9} {rps:8.0f} {p50:8.2f} {p99:8.2f} {errors:8d}")
    print(
        f"swapping/steady throughput: {medians['swapping'] / medians['steady']:.2f}; "
        f"publishes per swapping run: {', '.join(map(str, publishes))}; versions the node "
        f"swapped in: {swaps:.0f} (the first load included)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

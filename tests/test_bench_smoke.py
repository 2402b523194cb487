"""The benchmarks that need no wrk and no browser still run: each once, with tiny counts, so
a change that breaks a benchmark (a moved module, a demo container whose lead no longer
fires, a node that no longer delivers to a loopback webhook) fails the suite instead of the
next benchmark run. Nothing here measures speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

RUNS = {
    "lua": ["--repeats", "1", "--number", "5"],
    "lanes": ["--repeats", "1", "--number", "20", "--inflight", "4"],
    "platforms": ["--repeats", "1", "--number", "50"],
    "bench_triggers": ["--repeats", "1", "--number", "5"],
    "delivery": ["--events", "40", "--unbatched-events", "20", "--paced-rate", "0"],
    "history": ["--rows", "500", "--repeats", "1", "--backend", "sqlite"],
    # real nodes, the sender on, a loopback receiver: one step each way and a half-rate run
    "sustained": ["--seconds", "1", "--warmup", "0.3", "--start-rate", "40", "--max-rate", "40"],
}


@pytest.mark.parametrize("script", sorted(RUNS))
def test_benchmark_runs(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{script}.py"), *RUNS[script]],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "machine:" in done.stdout, done.stdout

"""Shared by the in-process benchmarks: how a figure is measured and labelled."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

__all__ = ["machine", "measure"]


def measure(fn: Callable[[], object], repeats: int, number: int) -> float:
    """Median over `repeats` runs of the mean µs per call of `number` calls."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def machine() -> str:
    """The line that says whose figures these are."""
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; figures are this machine's only")  # fmt: skip

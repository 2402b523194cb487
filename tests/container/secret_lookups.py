"""A node's secret lookup for tests of failed tag runs."""

from __future__ import annotations


class Secrets:
    """Fails like an unreachable vault (a `host` failure, which is retried) or answers;
    counts its calls, so a test can tell whether a template really ran."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def __call__(self, ref: str) -> str | None:
        self.calls += 1
        if self.fail:
            raise RuntimeError("vault unreachable")
        return f"value-of-{ref}"

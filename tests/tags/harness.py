"""Helpers for the template runtime tests: build a package, bind it, run it on a hit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tags.package import TemplatePackage, package_from_metadata
from tags.runtime import BoundTemplate, TagResult, TemplateRuntime

NOW_MS = 1_763_900_000_000
EVENT: dict[str, Any] = {
    "event": "lead",
    "event_id": "evt-00000001",
    "data": {"value": 50, "currency": "EUR", "items": [{"id": "a", "qty": 1}, {"id": "b"}]},
    "user": {"em": "7b17fb0bd173f625b58636fb796407c22b3d16fc78302d79f0fd30c2fc2fc068"},
    "server": {"client_ip": "203.0.113.9", "event_time_ms": NOW_MS},
}
COOKIES = {"_fbp": "fb.1.1763900000000.42", "_ga": "GA1.1.42.1763900000"}
SECRETS = {"meta_token": "s3cret", "other_token": "other"}

# A template that exercises the everyday API; `healthy` checks its exact output.
HEALTHY_SOURCE = """
local value = event.get("data.value")
local parts = string.split("a,b", ",")
log(event.get("event"), value * 2, ("ok"):upper(), #parts, type(x), type(string.upper))
"""


def package(
    source: str,
    *,
    permissions: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    limits: Mapping[str, int] | None = None,
    name: str = "t",
) -> TemplatePackage:
    meta: dict[str, Any] = {"name": name, "permissions": dict(permissions or {})}
    if params is not None:
        meta["params"] = dict(params)
    if limits is not None:
        meta["limits"] = dict(limits)
    built, problems = package_from_metadata(meta, source)
    assert built is not None, problems
    return built


class Harness:
    """One runtime, the way the data plane holds it: many tags, many hits."""

    def __init__(self, runtime: TemplateRuntime) -> None:
        self.runtime = runtime

    def bind(
        self, source: str, *, key: str = "c1/tag", values: Mapping[str, Any] | None = None,
        **meta: Any,
    ) -> BoundTemplate:  # fmt: skip
        return self.runtime.bind(key, package(source, **meta), values or {})

    def execute(
        self,
        bound: BoundTemplate,
        *,
        event: Mapping[str, Any] = EVENT,
        cookies: Mapping[str, str] = COOKIES,
        now_ms: int = NOW_MS,
    ) -> TagResult:
        return self.runtime.execute(bound, self.runtime.hit_context(event, cookies, now_ms))

    def run(
        self,
        source: str,
        *,
        key: str = "c1/tag",
        values: Mapping[str, Any] | None = None,
        event: Mapping[str, Any] = EVENT,
        cookies: Mapping[str, str] = COOKIES,
        now_ms: int = NOW_MS,
        **meta: Any,
    ) -> TagResult:
        bound = self.bind(source, key=key, values=values, **meta)
        return self.execute(bound, event=event, cookies=cookies, now_ms=now_ms)

    def assert_healthy(self) -> None:
        """The runtime still runs a normal template correctly, with nothing left over."""
        result = self.run(
            HEALTHY_SOURCE,
            key="health/tag",
            permissions={"read_event_data": ["event", "data.*"], "logging": True},
        )
        assert result.error is None, result.error
        assert result.logs == ["lead 100 OK 2 nil function"]
        assert (result.requests, result.pixels, result.cookies) == ([], [], [])

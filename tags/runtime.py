"""The template runtime: one sandboxed Lua state per worker, templates compiled once.

`bind` turns a template plus a tag's parameters into a ready-to-run tag (grants and URL
policy resolved once); `hit_context` converts a hit to Lua once per hit, shared by all of
its tags; `execute` runs one tag on one hit inside the limits and returns plain data.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
from lupa.lua54 import LuaError, LuaMemoryError, LuaRuntime

from tags.errors import TemplateError
from tags.limits import DEADLINE_MS, Limits
from tags.manifest import Manifest
from tags.package import TemplatePackage
from tags.params import resolve_params
from tags.urls import NormalizedUrl, UrlError, UrlPattern, normalize_url

__all__ = ["BoundTemplate", "SecretLookup", "TagResult", "TemplateRuntime"]

RUNTIME_MEMORY_BYTES = 64 * 1024 * 1024
GC_THRESHOLD_BYTES = 16 * 1024 * 1024
URL_CACHE_SIZE = 256  # allowed URLs remembered per bound tag (refused ones are not cached)

SecretLookup = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class TagResult:
    """What one execution produced, as plain data; `error` is set when it failed."""

    pixels: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    cookies: list[dict[str, Any]] = field(default_factory=list)
    error: TemplateError | None = None
    # Budget units the execution used (deterministic); on a budget error, what it needed.
    cost: int = 0
    # Stopped by the caller's `cap`, not by the tag's own budget: not a failure of the
    # template; run it again without the cap.
    capped: bool = False


UrlGrants = tuple[tuple[UrlPattern | NormalizedUrl, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class BoundTemplate:
    """A template bound to one tag's parameters, ready to run on many hits."""

    key: str
    package: TemplatePackage
    params: dict[str, Any]
    function: Any
    api: Any


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")  # RFC 9110 token
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")  # what an HTTP client puts on the wire
# Derived from the request itself; letting a template set them would corrupt the request
# or aim it at another virtual host than the URL the manifest allowed.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "trailer"}
)
MAX_HEADERS = 30


def _check_headers(headers: dict[str, Any]) -> None:
    if len(headers) > MAX_HEADERS:
        raise TemplateError("limit", f"headers: more than {MAX_HEADERS} headers on a request")
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise TemplateError("runtime", f"header name {name!r} is not a valid HTTP token")
        if name.lower() in _RESERVED_HEADERS:
            raise TemplateError("permission", f"header {name!r} is set by tagwire itself")
        if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
            raise TemplateError("runtime", f"header {name!r}: value must be printable ASCII")


def _check_url(grants: UrlGrants, allow_http_loopback: bool, url: str, method: str) -> str:
    """The normalised URL a request may go to, or TemplateError("permission")."""
    try:
        target = normalize_url(url)
    except UrlError as exc:
        raise TemplateError("permission", f"send_http url refused: {exc}") from None
    if target.scheme != "https" and not (allow_http_loopback and target.is_loopback):
        raise TemplateError("permission", "send_http needs https (http only to loopback in tests)")
    for grant, methods in grants:
        allowed = grant.matches(target) if isinstance(grant, UrlPattern) else grant == target
        if allowed:
            if method not in methods:
                raise TemplateError(
                    "permission", f"send_http method {method} not allowed for {target.url}"
                )
            return target.url
    raise TemplateError("permission", f"send_http url not allowed by the manifest: {target.url}")


def _host_api(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Python called from Lua answers (value, None, None) or (None, kind, message): a Python
    exception must never travel into Lua as an error value."""

    def call(*args: Any) -> tuple[Any, str | None, str | None]:
        try:
            return fn(*args), None, None
        except TemplateError as exc:
            return None, exc.kind, exc.message
        except Exception as exc:  # tagwire's bug, not the template's: stop, retry later
            return None, "host", f"{type(exc).__name__}: {exc}"

    return call


class TemplateRuntime:
    """Not thread-safe: use one per thread (the data plane uses one per event loop)."""

    def __init__(
        self,
        secrets: SecretLookup | None = None,
        *,
        allow_http_loopback: bool = False,
        wall_clock: bool = True,
        deadline_ms: int = DEADLINE_MS,
    ) -> None:
        """`deadline_ms` is the wall-clock safety net per execution (kind "deadline");
        `wall_clock=False` leaves it unenforced, for template tests whose outcome must not
        depend on how busy the machine is. The cost budget, memory and depth limits, which
        are deterministic, always apply."""
        self._secrets = secrets or (lambda name: None)
        self._allow_http_loopback = allow_http_loopback
        self._deadline_s = deadline_ms / 1000 if wall_clock else math.inf
        self._compiled: dict[str, Any] = {}
        self._memory_limit = 0  # the current execution's, 0 for none
        self._deadline_at = math.inf  # the current execution's (time.monotonic)
        self._lua = LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_handlers=(self._deny, self._deny),
            max_memory=RUNTIME_MEMORY_BYTES,
            # An int beyond 64 bits (event data, params, JSON) becomes a float; without a
            # handler lupa raises OverflowError, inside Lua as a Python exception object.
            overflow_handler=float,
        )
        boot = resources.files("tags").joinpath("sandbox.lua").read_text(encoding="utf-8")
        self._sandbox = self._lua.execute(
            boot,
            time.monotonic,
            self._host_memory,
            _host_api(lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest()),
            _host_api(self._json_decode),
            _host_api(self._secret),
            name="=sandbox",  # errors raised in the sandbox's wrappers name it, not "<python>"
            mode="t",
        )
        self._table = self._lua.table_from
        self._run = self._sandbox.run

    def _host_memory(self, lift: bool) -> int:
        """Lifts the execution's memory limit while host code runs (lift=True) and restores
        it afterwards (lift=False), answering 1 when the call left usage over the limit, 2
        when the execution's deadline has passed (host work runs no VM instruction, so the
        hook would see its time only later), else 0: one crossing into Python, not two.

        A Lua memory error raised while lupa converts a host call's arguments or results
        (table_from, pushing a returned string) unwinds through lupa's Cython frames: the
        worker deadlocks. Host calls allocate at most a few MiB (json.decode of 256 KiB),
        so they run unlimited and the sandbox stops the template when one went over."""
        lua = self._lua
        if lift:
            lua.set_max_memory(0)
            return 0
        if self._memory_limit and (lua.get_memory_used() or 0) > self._memory_limit:
            return 1  # stays lifted: the sandbox stops the run without allocating more
        lua.set_max_memory(self._memory_limit)
        return 2 if time.monotonic() > self._deadline_at else 0

    @staticmethod
    def _deny(obj: object, name: object, *value: object) -> None:
        raise AttributeError("Python objects are not accessible from templates")

    def _json_decode(self, text: str) -> Any:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise TemplateError("runtime", f"json.decode: {exc}") from None
        return self._table(value, recursive=True) if isinstance(value, dict | list) else value

    def _secret(self, ref: str) -> str:
        value = self._secrets(ref)
        if value is None:
            raise TemplateError("runtime", f"secret {ref!r} is not configured on this node")
        return value

    def _url_checker(self, grants: UrlGrants) -> Callable[..., Any]:
        """send_http's URL check for one bound tag: the grants live in the closure, so
        binding another tag (or the same key again) never changes what this one may do."""
        checked: dict[tuple[str, str], str] = {}
        allow_http_loopback = self._allow_http_loopback

        def check(url: str, method: str) -> str:
            target = checked.get((url, method))
            if target is None:
                target = _check_url(grants, allow_http_loopback, url, method)
                if len(checked) >= URL_CACHE_SIZE:
                    checked.clear()
                checked[url, method] = target
            return target

        return _host_api(check)

    def _urls_checked_at_bind(
        self, manifest: Manifest, values: Mapping[str, Any], grants: UrlGrants
    ) -> dict[str, dict[str, str]]:
        """method -> {url as the template passes it -> normalised URL} for the URLs a tag
        is bound to: its URL parameters and the manifest's exact URLs. send_http to one of
        these needs no host call. Checked once per bind, never changed while the tag runs,
        so whether a request takes this path depends only on the tag and the hit, never on
        what ran before (a cache filled by earlier runs would make costs depend on that)."""
        texts = [values[g.param] for g in manifest.send_http
                 if g.param is not None and g.param in values]  # fmt: skip
        texts += [g.pattern.source for g in manifest.send_http
                  if g.pattern is not None and g.pattern.exact_path
                  and not g.pattern.any_subdomain]  # fmt: skip
        checked: dict[str, dict[str, str]] = {}
        for method in sorted({m for g in manifest.send_http for m in g.methods}):
            for text in texts:
                if not isinstance(text, str):
                    continue
                try:
                    target = _check_url(grants, self._allow_http_loopback, text, method)
                except TemplateError:
                    continue  # refused: send_http asks the host, which refuses it again
                checked.setdefault(method, {})[text] = target
        return checked

    def compile(self, package: TemplatePackage) -> Any:
        digest = package.source_hash
        function = self._compiled.get(digest)
        if function is None:
            function, problem = self._sandbox.compile(package.source, package.name)
            if not function:
                raise TemplateError("syntax", str(problem))
            self._compiled[digest] = function
        return function

    def bind(self, key: str, package: TemplatePackage, params: Mapping[str, Any]) -> BoundTemplate:
        """Validate params, resolve grants and URL policy, compile. Raises TemplateError."""
        values, problems = resolve_params(package.params_schema, dict(params))
        if problems:
            raise TemplateError("params", "; ".join(f"{n or 'params'}: {r}" for n, r in problems))
        manifest = package.manifest
        url_grants: list[tuple[UrlPattern | NormalizedUrl, tuple[str, ...]]] = []
        for grant in manifest.send_http:
            if grant.pattern is not None:
                url_grants.append((grant.pattern, grant.methods))
            elif grant.param in values:
                try:
                    url_grants.append((normalize_url(values[grant.param]), grant.methods))
                except UrlError as exc:
                    raise TemplateError("params", f"{grant.param}: {exc}") from None
        set_of = self._sandbox.set_of
        checked = self._urls_checked_at_bind(manifest, values, tuple(url_grants))
        grants = self._table(
            {
                "check_url": self._url_checker(tuple(url_grants)),
                "checked_urls": self._table(
                    {method: self._table(urls) for method, urls in checked.items()}
                ),
                "params": self._table(values, recursive=True),
                "read_any": manifest.read_any,
                "read_keys": set_of(self._table(list(manifest.read_keys))),
                "read_prefixes": self._table(list(manifest.read_prefixes)),
                "get_cookies": set_of(
                    self._table([c for c in manifest.get_cookies if not c.endswith("*")])
                ),
                "get_cookie_prefixes": self._table(
                    [c[:-1] for c in manifest.get_cookies if c.endswith("*")]
                ),
                "set_cookies": set_of(self._table(list(manifest.set_cookies))),
                "vendors": set_of(self._table(list(manifest.pixel_vendors))),
                "secrets": self._table({n: values[n] for n in manifest.secrets if n in values}),
                "logging": manifest.logging,
            }
        )
        limits = package.limits
        limits_table = self._table(
            {
                "max_requests": limits.max_requests,
                "max_pixels": limits.max_pixels,
                "max_logs": limits.max_logs,
                "max_log_bytes": limits.max_log_bytes,
            }
        )
        api = self._sandbox.bind_api(grants, limits_table)
        return BoundTemplate(key, package, values, self.compile(package), api)

    def hit_context(self, event: Mapping[str, Any], cookies: Mapping[str, str], now_ms: int) -> Any:
        """The hit as Lua data, built once and shared (read-only) by all tags of the hit."""
        return self._table(
            {"event": self._table(dict(event), recursive=True),
             "cookies": self._table(dict(cookies)), "now_ms": now_ms}
        )  # fmt: skip

    def execute(self, bound: BoundTemplate, context: Any, cap: int = 0) -> TagResult:
        """Run a bound template on a hit context. `cap` > 0 stops the run after that many
        budget units when the tag's own budget is larger; the result then has `capped`
        set. The data plane runs tags on the event loop under a small cap this way, and
        moves a run that needs more off the loop (container/accept.py)."""
        return self._execute(bound, context, limited=True, cap=cap)

    def execute_unlimited(self, bound: BoundTemplate, context: Any) -> TagResult:
        """The same execution without the budget, deadline, depth and memory limits.
        Only for measuring what the limits cost (bench/lua.py); never for real hits."""
        return self._execute(bound, context, limited=False)

    def _execute(
        self, bound: BoundTemplate, context: Any, *, limited: bool, cap: int = 0
    ) -> TagResult:
        limits: Limits = bound.package.limits
        units = max(1, limits.instructions)
        capped = 0 < cap < units
        if capped:
            units = cap
        lua = self._lua
        before = lua.get_memory_used() or 0
        self._memory_limit = before + limits.memory_bytes if limited else 0
        lua.set_max_memory(self._memory_limit)
        failure = None
        self._deadline_at = time.monotonic() + self._deadline_s if limited else math.inf
        try:
            ok, kind, message, out, cost = self._run(
                bound.function,
                bound.api,
                context,
                units if limited else 0,
                self._deadline_at,
                limits.max_depth + 4,  # the host's own frames sit below the template
                limits.max_output_bytes,
            )
        except LuaMemoryError:
            failure = TemplateError("limit", "memory: allocated more than the memory budget")
        except LuaError as exc:
            failure = TemplateError("host", f"sandbox error: {exc}")
        finally:
            lua.set_max_memory(RUNTIME_MEMORY_BYTES)
        if failure is not None:
            self._sandbox.reset()
        used = lua.get_memory_used() or 0
        # The next budget counts from the usage left here, garbage included: collect after a
        # run that allocated a good share of its budget, so that garbage is not extra budget.
        if used > GC_THRESHOLD_BYTES or used - before > limits.memory_bytes // 4:
            lua.gccollect()
        if failure is not None:
            return TagResult(error=failure)
        cost = int(cost)
        if not ok:
            stopped_by_cap = capped and kind == "budget"
            return TagResult(error=TemplateError(kind, message), cost=cost, capped=stopped_by_cap)
        try:
            return self._result(out, limits, cost)
        except TemplateError as exc:
            return TagResult(error=exc, cost=cost)

    def _result(self, output: str, limits: Limits, cost: int) -> TagResult:
        # The sandbox's encoder charged the budget for these bytes and stopped at
        # max_output_bytes in all, JSON around the strings included. It only lets valid
        # UTF-8 out, so output is text.
        out = orjson.loads(output)
        requests = []
        for item in out["requests"]:
            body = item.get("body")
            if body is not None and not isinstance(body, str):
                # Sorted: Lua's table order differs between runtimes (its hash seed is
                # random), and the same version must send the same bytes on every node.
                body = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
            if body is not None and len(body.encode()) > limits.max_body_bytes:
                raise TemplateError(
                    "limit", f"body: request body over {limits.max_body_bytes} bytes"
                )
            headers = item["headers"]  # string keys only, so always an object, {} when empty
            _check_headers(headers)
            requests.append({"method": item["method"], "url": item["url"], "headers": headers,
                             "body": body})  # fmt: skip
        return TagResult(out["pixels"], requests, out["logs"], out["cookies"], cost=cost)

"""Resolving references for one hit, lazily.

A reference is compiled once into an accessor (`accessor("data.value")`), a function of
the hit's resolver: the string is split and dispatched at compile time, never per hit.
Trigger conditions and variables hold accessors; `Resolver.get(ref)` looks the accessor up
in a small cache and calls it.

A hit's resolver is created when the first trigger condition needs a value; the page URL
is parsed once and a user-defined variable computed once, however many triggers read
them. Fields read straight from the hit (`data.value`, `cookie.ab`) are not memoised: the
hit is read-only, and a dictionary lookup costs less than remembering its result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from variables.consent import gpc_opts_out
from variables.hit import Hit

__all__ = ["Accessor", "Resolver", "VariableFunction", "accessor"]

VariableFunction = Callable[["Resolver"], Any]
Accessor = Callable[["Resolver"], Any]
_MISSING = object()
_SECTIONS = ("data", "custom", "click", "user", "consent")
_PAGE_FIELDS = ("url", "title", "locale", "referrer")


class Resolver:
    __slots__ = ("_cache", "_url", "_variables", "hit")

    def __init__(self, hit: Hit, variables: Mapping[str, VariableFunction]) -> None:
        self.hit = hit
        self._variables = variables
        self._cache: dict[str, Any] = {}
        self._url: Any = None

    def get(self, ref: str) -> Any:
        return accessor(ref)(self)

    def _parts(self) -> Any:
        if self._url is None:
            self._url = urlsplit(self.hit.section("page").get("url") or "")
        return self._url

    def query(self, name: str) -> str | None:
        """The first value of a page URL query parameter (decoded), or None."""
        for part in self._parts().query.split("&"):
            key, _, value = part.partition("=")
            if "%" in key or "+" in key:
                key = unquote_plus(key)
            if key == name:
                return unquote_plus(value) if "%" in value or "+" in value else value
        return None


@lru_cache(maxsize=4096)
def accessor(ref: str) -> Accessor:
    """The function of a hit's resolver that reads `ref`: what `Resolver.get(ref)` returns.

    A reference the resolver cannot read fails when the accessor is called, as `get` did,
    not when it is made (only checked references reach trigger conditions)."""
    root, _, rest = ref.partition(".")
    if root == "var":
        return _variable(ref, rest)
    if root == "page":
        return _page(ref, rest)
    if root in _SECTIONS:
        return _section_field(root, rest.split("."))
    if root == "cookie":
        return lambda r: r.hit.cookies.get(rest)
    if root == "header":
        return _header(rest)
    if root == "client":
        return _client(rest)
    if ref == "trace_id":
        return lambda r: r.hit.trace_id
    return lambda r: r.hit.wire.get(ref)  # event, event_id, ts


def _variable(ref: str, name: str) -> Accessor:
    def variable(r: Resolver) -> Any:
        cache = r._cache
        value = cache.get(ref, _MISSING)
        if value is _MISSING:
            value = cache[ref] = r._variables[name](r)
        return value

    return variable


def _section_field(root: str, parts: list[str]) -> Accessor:
    if len(parts) == 1:
        key = parts[0]

        def field(r: Resolver) -> Any:
            section = r.hit.wire.get(root)
            return section.get(key) if isinstance(section, dict) else None

        return field

    def nested(r: Resolver) -> Any:
        value = r.hit.wire.get(root)
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    return nested


def _header(name: str) -> Accessor:
    try:
        wanted = name.lower().encode("latin-1")
    except UnicodeEncodeError:
        return lambda r: name.lower().encode("latin-1")  # fails when read, as it always did

    def header(r: Resolver) -> Any:
        for key, value in r.hit.headers:
            if key == wanted:
                return value.decode("latin-1")
        return None

    return header


def _client(name: str) -> Accessor:
    if name == "gpc":
        return lambda r: gpc_opts_out(r.hit.section("consent"), r.hit.sec_gpc)
    if name == "ip":
        return lambda r: r.hit.client_ip
    if name == "user_agent":
        return lambda r: r.hit.user_agent
    if name == "id":
        return lambda r: r.hit.client_id

    def unknown(r: Resolver) -> Any:
        raise KeyError(name)

    return unknown


def _page(ref: str, rest: str) -> Accessor:
    if rest in _PAGE_FIELDS:

        def field(r: Resolver) -> Any:
            page = r.hit.wire.get("page")
            return None if page is None else page.get(rest)

        return field
    if rest == "language":
        return _language
    if rest == "referrer_host":
        return _referrer_host
    if rest == "host":
        return _host
    if rest == "path":
        return lambda r: (r._url or r._parts()).path or None
    if rest == "query":
        return lambda r: (r._url or r._parts()).query or None
    if rest == "fragment":
        return lambda r: (r._url or r._parts()).fragment or None
    name = rest.removeprefix("query.")
    return lambda r: r.query(name)


def _language(r: Resolver) -> Any:
    page = r.hit.wire.get("page")
    locale = None if page is None else page.get("locale")
    return locale.replace("_", "-").split("-", 1)[0].lower() if locale else None


def _referrer_host(r: Resolver) -> Any:
    page = r.hit.wire.get("page")
    referrer = None if page is None else page.get("referrer")
    return (urlsplit(referrer).hostname or None) if referrer else None


def _host(r: Resolver) -> Any:
    """The page URL's host, remembered for the hit (`hostname` lower-cases and strips)."""
    cache = r._cache
    value = cache.get("page.host", _MISSING)
    if value is _MISSING:
        value = cache["page.host"] = (r._url or r._parts()).hostname
    return value

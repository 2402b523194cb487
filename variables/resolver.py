"""Resolving references for one hit: lazily, each at most once.

A hit's resolver is created when the first trigger condition needs a value; the page URL
is parsed once, a user-defined variable computed once, however many triggers read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from variables.consent import gpc_opts_out
from variables.hit import Hit

__all__ = ["Resolver", "VariableFunction"]

VariableFunction = Callable[["Resolver"], Any]
_MISSING = object()


class Resolver:
    __slots__ = ("_cache", "_url", "_variables", "hit")

    def __init__(self, hit: Hit, variables: Mapping[str, VariableFunction]) -> None:
        self.hit = hit
        self._variables = variables
        self._cache: dict[str, Any] = {}
        self._url: Any = None

    def get(self, ref: str) -> Any:
        value = self._cache.get(ref, _MISSING)
        if value is _MISSING:
            value = self._resolve(ref)
            self._cache[ref] = value
        return value

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

    def _resolve(self, ref: str) -> Any:
        hit = self.hit
        root, _, rest = ref.partition(".")
        if root == "var":
            return self._variables[rest](self)
        if root == "page":
            return self._page(rest)
        if root in ("data", "custom", "click", "user", "consent"):
            value: Any = hit.section(root)
            for part in rest.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return value
        if root == "cookie":
            return hit.cookies.get(rest)
        if root == "header":
            wanted = rest.lower().encode("latin-1")
            for name, value in hit.headers:
                if name == wanted:
                    return value.decode("latin-1")
            return None
        if root == "client":
            if rest == "gpc":
                return gpc_opts_out(hit.section("consent"), hit.sec_gpc)
            return {"ip": hit.client_ip, "user_agent": hit.user_agent, "id": hit.client_id}[rest]
        if ref == "trace_id":
            return hit.trace_id
        return hit.wire.get(ref)  # event, event_id, ts

    def _page(self, rest: str) -> Any:
        page = self.hit.section("page")
        if rest in ("url", "title", "locale", "referrer"):
            return page.get(rest)
        if rest == "language":
            locale = page.get("locale")
            return locale.replace("_", "-").split("-", 1)[0].lower() if locale else None
        if rest == "referrer_host":
            referrer = page.get("referrer")
            return (urlsplit(referrer).hostname or None) if referrer else None
        parts = self._parts()
        if rest == "host":
            return parts.hostname
        if rest == "path":
            return parts.path or None
        if rest == "query":
            return parts.query or None
        if rest == "fragment":
            return parts.fragment or None
        return self.query(rest.removeprefix("query."))

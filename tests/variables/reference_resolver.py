"""The straightforward evaluation the compiled resolver and variables must agree with.

This is `variables/resolver.py` and `compile_variable` as they were before references
were compiled to accessors (commit 18a0082): every reference string parsed on every read,
every read memoised. The property tests in test_compiled_references.py compare the two.
Test code only: nothing in the product imports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from variables.consent import gpc_opts_out
from variables.hit import Hit
from variables.safe_regex import compile_regex

_MISSING = object()
_GROUP = re.compile(r"\$([1-9])")


class ReferenceResolver:
    __slots__ = ("_cache", "_url", "_variables", "hit")

    def __init__(self, hit: Hit, variables: Mapping[str, Callable[[Any], Any]]) -> None:
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


def reference_variable(kind: str, params: dict[str, Any]) -> Callable[[Any], Any]:
    """A function of the resolver; params must have passed check_variable."""
    default = params.get("default")
    if kind == "constant":
        value = params["value"]
        return lambda r: value
    if kind == "event_field":
        parts = params["path"].split(".")
        return lambda r: _or_default(_walk(r.hit.wire, parts), default)
    if kind == "cookie":
        name = params["name"]
        return lambda r: _or_default(r.hit.cookies.get(name), default)
    if kind == "query_param":
        name = params["name"]
        return lambda r: _or_default(r.query(name), default)
    if kind == "lookup":
        source, mapping = params["input"], params["map"]
        return lambda r: mapping.get(_text(r.get(source)), default)
    return _regex_table(params, default)


def _walk(value: Any, parts: list[str]) -> Any:
    for part in parts:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _or_default(value: Any, default: Any) -> Any:
    return default if value is None or value == "" else value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 50.0 looks up "50", as conditions compare it
    return str(value)


def _expand(output: str, groups: list[str | None]) -> str:
    """`$1`..`$9` in a regex table's output become the match's capture groups."""
    if "$" not in output:
        return output
    return _GROUP.sub(lambda ref: groups[int(ref.group(1))] or "", output)


def _regex_table(params: dict[str, Any], default: Any) -> Callable[[Any], Any]:
    source = params["input"]
    ignore_case = params.get("ignore_case", False)
    rows = [(compile_regex(row["pattern"], ignore_case=ignore_case), row["output"])
            for row in params["rows"]]  # fmt: skip

    def resolve(resolver: Any) -> Any:
        text = _text(resolver.get(source))
        if text is None:
            return default
        for regex, output in rows:
            groups = regex.search(text)
            if groups is not None:
                return _expand(output, groups) if isinstance(output, str) else output
        return default

    return resolve

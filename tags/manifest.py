"""A template's permission manifest: what it may read, set, send and emit.

Nothing is granted by default. Each API call is checked against the manifest when it is
made, with the call's actual arguments (the key, the cookie name, the URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tags.limits import LIMIT_NAMES
from tags.urls import UrlError, UrlPattern

__all__ = ["HttpGrant", "Manifest", "manifest_param_problems", "parse_manifest"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?")
_COOKIE = re.compile(r"[!#$%&'+.^_`|~0-9A-Za-z-]{1,64}")
# get_cookies may also grant a family of names by prefix ("_ga_*": GA4's per-stream cookie)
_COOKIE_READ = re.compile(r"[!#$%&'+.^_`|~0-9A-Za-z-]{1,64}|[!#$%&'+.^_`|~0-9A-Za-z-]{2,63}\*")
_VENDOR = re.compile(r"[a-z][a-z0-9_]{0,31}")
_PARAM = re.compile(r"[a-z][a-z0-9_]{0,39}")
_PERMISSIONS = frozenset(
    {"read_event_data", "get_cookies", "set_cookies", "send_http", "pixel", "secrets", "logging"}
)
_GRANT_KEYS = frozenset({"url", "methods"})
Problems = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class HttpGrant:
    """URLs a template may queue requests to: a fixed pattern, or the value of a parameter."""

    pattern: UrlPattern | None
    param: str | None
    methods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    read_any: bool = False
    read_keys: tuple[str, ...] = ()
    read_prefixes: tuple[str, ...] = ()
    get_cookies: tuple[str, ...] = ()
    set_cookies: tuple[str, ...] = ()
    send_http: tuple[HttpGrant, ...] = ()
    pixel_vendors: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    logging: bool = False
    limits: tuple[tuple[str, int], ...] = ()


def _names(
    value: object, path: str, pattern: re.Pattern[str], what: str, out: Problems
) -> tuple[str, ...]:
    if not isinstance(value, list):
        out.append((path, f"must be a list of {what}"))
        return ()
    names = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not pattern.fullmatch(item):
            out.append((f"{path}[{i}]", f"not a valid {what}"))
        else:
            names.append(item)
    return tuple(names)


def _http(value: object, path: str, out: Problems) -> tuple[HttpGrant, ...]:
    if not isinstance(value, list):
        out.append((path, "must be a list of {url, methods} objects"))
        return ()
    grants = []
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            out.append((where, "must be an object with a 'url' string"))
            continue
        # in document order (a set difference would order them by hash, run to run)
        out += [(f"{where}.{key}", "unknown field") for key in item if key not in _GRANT_KEYS]
        methods = item.get("methods", ["POST"])
        if not isinstance(methods, list) or not methods or any(m not in _METHODS for m in methods):
            out.append((f"{where}.methods", "must be a non-empty list of " + ", ".join(_METHODS)))
            continue
        url = item["url"]
        if url.startswith("param:"):
            name = url.removeprefix("param:")
            if not _PARAM.fullmatch(name):
                out.append((f"{where}.url", f"'param:' must name a parameter, got {name!r}"))
                continue
            grants.append(HttpGrant(None, name, tuple(methods)))
            continue
        try:
            grants.append(HttpGrant(UrlPattern.parse(url), None, tuple(methods)))
        except UrlError as exc:
            out.append((f"{where}.url", str(exc)))
    return tuple(grants)


def parse_manifest(permissions: object, limits: object = None) -> tuple[Manifest, Problems]:
    """A Manifest and every problem as (path, reason), paths relative to the metadata."""
    out: Problems = []
    if permissions is None:
        permissions = {}
    if not isinstance(permissions, dict):
        return Manifest(), [("permissions", "must be an object")]
    out += [
        (f"permissions.{k}", "unknown permission") for k in permissions if k not in _PERMISSIONS
    ]
    read = permissions.get("read_event_data", [])
    read_any = read == "any"
    keys = () if read_any else _names(read, "permissions.read_event_data", _KEY, "event key", out)
    logging = permissions.get("logging", False)
    if type(logging) is not bool:
        out.append(("permissions.logging", "must be true or false"))
    parsed_limits: list[tuple[str, int]] = []
    if limits is not None:
        if not isinstance(limits, dict):
            out.append(("limits", "must be an object"))
        else:
            for name, value in limits.items():
                if name not in LIMIT_NAMES:
                    out.append(
                        (f"limits.{name}", "unknown limit; known: " + ", ".join(LIMIT_NAMES))
                    )
                elif type(value) is not int or value <= 0:
                    out.append((f"limits.{name}", "must be a positive whole number"))
                else:
                    parsed_limits.append((name, value))
    perms = permissions
    manifest = Manifest(
        read_any=read_any,
        read_keys=tuple(k for k in keys if not k.endswith(".*")),
        read_prefixes=tuple(k[:-1] for k in keys if k.endswith(".*")),
        get_cookies=_names(
            perms.get("get_cookies", []), "permissions.get_cookies", _COOKIE_READ,
            "cookie name or name prefix ending in '*'", out,
        ),
        set_cookies=_names(
            perms.get("set_cookies", []), "permissions.set_cookies", _COOKIE, "cookie name", out
        ),
        send_http=_http(perms.get("send_http", []), "permissions.send_http", out),
        pixel_vendors=_names(perms.get("pixel", []), "permissions.pixel", _VENDOR, "vendor", out),
        secrets=_names(
            perms.get("secrets", []), "permissions.secrets", _PARAM, "parameter name", out
        ),
        logging=logging is True,
        limits=tuple(parsed_limits),
    )  # fmt: skip
    return manifest, out


def manifest_param_problems(manifest: Manifest, params_schema: dict[str, Any]) -> Problems:
    """Cross-checks: `param:` URLs and secrets must name parameters of the right type."""
    out: Problems = []
    for grant in manifest.send_http:
        if grant.param is not None:
            field = params_schema.get(grant.param)
            if not isinstance(field, dict) or field.get("format") != "url":
                out.append(
                    (
                        "permissions.send_http",
                        f"param:{grant.param} must be a parameter with format 'url'",
                    )
                )
    for name in manifest.secrets:
        field = params_schema.get(name)
        if not isinstance(field, dict) or field.get("type") != "secret":
            out.append(("permissions.secrets", f"{name!r} must be a parameter of type 'secret'"))
    return out

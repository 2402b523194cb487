"""Where a template may send requests: URL normalisation and allow-list patterns.

A URL is normalised before matching so that userinfo (`https://allowed.com@evil.com`),
case, trailing dots, IDN look-alikes, explicit ports and percent-encoded hosts cannot make
one host pass for another. Patterns are `scheme://host[:port]/path`, where the host may
start with `*.` (any subdomain) and the path may end with `*` (any suffix).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = ["UrlError", "UrlPattern", "normalize_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# A last label like these makes resolvers and URL parsers read the host as an IPv4 number
# (`2130706433`, `0x7f.1`, `0177.0.0.1` are all 127.0.0.1).
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_PORT = re.compile(r"[0-9]{1,5}")
# Encoded forms of '.', '/' and '\' that servers decode before resolving dot segments.
_ENCODED_PATH = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
_DECODED_PATH = {"2e": ".", "2f": "/", "5c": "/"}
MAX_URL_LENGTH = 4096


class UrlError(ValueError):
    """The URL cannot be sent to: the message says why."""


@dataclass(frozen=True, slots=True)
class NormalizedUrl:
    scheme: str
    host: str
    port: int
    path: str
    url: str

    @property
    def is_loopback(self) -> bool:
        host = self.host.strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def _normalize_host(raw: str) -> str:
    if not raw:
        raise UrlError("URL has no host")
    if "%" in raw:
        raise UrlError("percent-encoded characters are not allowed in the host")
    if raw.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError:
            raise UrlError(f"invalid IPv6 host {raw!r}") from None
    host = raw.rstrip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UrlError(f"host {raw!r} is not a valid domain name") from None
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    labels = host.split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise UrlError(f"host {raw!r} is not a valid domain name")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise UrlError(f"host {raw!r} reads as a number; write IPv4 addresses as a.b.c.d")
    return host


def _port(text: str, netloc: str) -> int:
    if not _PORT.fullmatch(text):  # ASCII digits only: int() also reads '٤٤٣' as 443
        raise UrlError(f"invalid port in {netloc!r}")
    return int(text)


def _check_path(path: str) -> None:
    """Refuse dot segments, also encoded or hidden behind ';params', which servers resolve
    and which would walk out of an allowed path prefix."""
    decoded = _ENCODED_PATH.sub(lambda m: _DECODED_PATH[m.group(1).lower()], path)
    segments = {segment.partition(";")[0] for segment in decoded.split("/")}
    if "." in segments or ".." in segments:
        raise UrlError("'.' and '..' path segments are not allowed")


def normalize_url(url: str) -> NormalizedUrl:
    if not isinstance(url, str) or not url:
        raise UrlError("url must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise UrlError(f"url longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in url):
        raise UrlError("url contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unbalanced '[' or a host that changes under NFKC
        raise UrlError(f"url cannot be parsed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UrlError(f"scheme {parts.scheme!r} is not allowed; use https")
    netloc = parts.netloc
    if "@" in netloc:
        raise UrlError("userinfo ('user@') is not allowed in the url")
    if parts.fragment:
        raise UrlError("url must not have a #fragment")
    host_part, port = netloc, _DEFAULT_PORTS[scheme]
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise UrlError("unterminated IPv6 host")
        host_part, rest = netloc[: end + 1], netloc[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise UrlError(f"invalid port in {netloc!r}")
            port = _port(rest[1:], netloc)
    elif ":" in netloc:
        host_part, _, port_text = netloc.rpartition(":")
        port = _port(port_text, netloc)
    if not 0 < port < 65536:
        raise UrlError(f"port {port} is out of range")
    host = _normalize_host(host_part)
    path = parts.path or "/"
    _check_path(path)
    netloc_out = host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    normalized = urlunsplit((scheme, netloc_out, path, parts.query, ""))
    return NormalizedUrl(scheme, host, port, path, normalized)


@dataclass(frozen=True, slots=True)
class UrlPattern:
    """One allowed destination such as `https://*.facebook.com/v*`: the host wildcard is
    only a leading `*.` label, the path wildcard only a trailing `*`."""

    scheme: str
    host: str
    any_subdomain: bool
    port: int
    path_prefix: str
    exact_path: bool
    source: str

    @classmethod
    def parse(cls, pattern: str) -> UrlPattern:
        scheme, sep, rest = pattern.partition("://")
        any_subdomain = rest.startswith("*.")  # only right after the scheme, not in the path
        probe = f"{scheme}{sep}{rest[2:]}" if any_subdomain else pattern
        exact_path = not probe.endswith("*")
        probe = probe if exact_path else probe[:-1]
        if "*" in probe:
            raise UrlError(
                f"pattern {pattern!r}: '*' is allowed only as a leading '*.' host label "
                "or at the very end of the path"
            )
        if "?" in probe:
            raise UrlError(f"pattern {pattern!r} must not have a query")
        parsed = normalize_url(probe)
        return cls(parsed.scheme, parsed.host, any_subdomain, parsed.port, parsed.path,
                   exact_path, pattern)  # fmt: skip

    def matches(self, url: NormalizedUrl) -> bool:
        if url.scheme != self.scheme or url.port != self.port:
            return False
        if url.host != self.host and not (
            self.any_subdomain and url.host.endswith("." + self.host)
        ):
            return False
        if self.exact_path:
            return url.path == self.path_prefix
        return url.path.startswith(self.path_prefix)

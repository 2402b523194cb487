"""URL normalisation and send_http patterns: one host can never pass for another."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tags.urls import UrlError, UrlPattern, normalize_url

NORMALISED = [
    ("https://example.com", "https://example.com/", "example.com", 443),
    ("HTTPS://EXAMPLE.COM/Path?Q=1", "https://example.com/Path?Q=1", "example.com", 443),
    ("https://example.com./x", "https://example.com/x", "example.com", 443),
    ("https://example.com:443/x", "https://example.com/x", "example.com", 443),
    ("https://example.com:0443/x", "https://example.com/x", "example.com", 443),
    ("https://example.com:8443/x", "https://example.com:8443/x", "example.com", 8443),
    ("http://localhost:8080/in", "http://localhost:8080/in", "localhost", 8080),
    ("http://example.com:80/", "http://example.com/", "example.com", 80),
    ("https://bücher.example/x", "https://xn--bcher-kva.example/x", "xn--bcher-kva.example", 443),
    ("https://allowed\u3002example/x", "https://allowed.example/x", "allowed.example", 443),
    ("https://127.0.0.1/x", "https://127.0.0.1/x", "127.0.0.1", 443),
    ("https://[::1]:8443/x", "https://[::1]:8443/x", "[::1]", 8443),
    ("https://[0:0::1]/x", "https://[::1]/x", "[::1]", 443),
    ("https://example.com/a;b/..x/.y", "https://example.com/a;b/..x/.y", "example.com", 443),
    ("https://example.com/%252e%252e/x", "https://example.com/%252e%252e/x", "example.com", 443),
]


@pytest.mark.parametrize(
    ("url", "normalised", "host", "port"), NORMALISED, ids=[n[0] for n in NORMALISED]
)
def test_normalize_url(url: str, normalised: str, host: str, port: int) -> None:
    result = normalize_url(url)
    assert (result.url, result.host, result.port) == (normalised, host, port)


REFUSED = [
    ("", "non-empty string"),
    ("https://" + "a" * 5000 + ".com/", "longer than 4096"),
    ("https://exa mple.com/", "spaces, control characters or backslashes"),
    ("https://example.com/\x7f", "spaces, control characters or backslashes"),
    ("https://example.com\\@evil.com/", "spaces, control characters or backslashes"),
    ("ftp://example.com/", "scheme 'ftp' is not allowed"),
    ("javascript:alert(1)", "scheme 'javascript' is not allowed"),
    ("//example.com/x", "scheme '' is not allowed"),
    ("https://user:pw@example.com/", "userinfo"),
    ("https://example.com@evil.com/", "userinfo"),
    ("https://example.com/#frag", "#fragment"),
    ("https:///x", "no host"),
    ("https://example.com:/x", "invalid port"),
    ("https://example.com:+443/x", "invalid port"),
    ("https://example.com:\uff14\uff14\uff13/x", "invalid port"),
    ("https://example.com:\u00b9/x", "invalid port"),
    ("https://example.com:999999/x", "invalid port"),
    ("https://example.com:0/x", "port 0 is out of range"),
    ("https://example.com:65536/x", "port 65536 is out of range"),
    ("https://[::1]x/", "invalid port"),
    ("https://[::1/", "cannot be parsed"),
    ("https://[zz::1]/", "cannot be parsed"),
    ("https://[fe80::1%25eth0]/", "percent-encoded"),
    ("https://ex%61mple.com/", "percent-encoded"),
    ("https://example.com\uff0f@evil.com/", "cannot be parsed"),
    ("https://-bad.com/", "not a valid domain name"),
    ("https://a..b/", "not a valid domain name"),
    ("https://under_score.com/", "not a valid domain name"),
    ("https://" + "a" * 64 + ".com/", "not a valid domain name"),
    ("https://2130706433/", "reads as a number"),
    ("https://127.1/", "reads as a number"),
    ("https://0x7f.0.0.1/", "reads as a number"),
    ("https://0177.0.0.1/", "reads as a number"),
    ("https://example.0x1f/", "reads as a number"),
    ("https://example.com/a/../b", "path segments"),
    ("https://example.com/a/./b", "path segments"),
    ("https://example.com/a/..", "path segments"),
    ("https://example.com/a/%2e%2E/b", "path segments"),
    ("https://example.com/a/.%2e/b", "path segments"),
    ("https://example.com/a/..;x=1/b", "path segments"),
    ("https://example.com/a/x%2f..%2fb", "path segments"),
    ("https://example.com/a/x%5C..%5Cb", "path segments"),
]


@pytest.mark.parametrize(("url", "fragment"), REFUSED, ids=[r[0][:60] for r in REFUSED])
def test_normalize_url_refuses(url: str, fragment: str) -> None:
    with pytest.raises(UrlError, match=re.escape(fragment)):
        normalize_url(url)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost/", True),
        ("http://LOCALHOST./", True),
        ("http://127.0.0.1/", True),
        ("http://127.9.9.9/", True),
        ("http://[::1]/", True),
        ("http://[::ffff:127.0.0.1]/", False),  # conservative: not treated as loopback
        ("http://localhost.example.com/", False),
        ("http://10.0.0.1/", False),
        ("https://example.com/", False),
    ],
)
def test_is_loopback(url: str, loopback: bool) -> None:
    assert normalize_url(url).is_loopback is loopback


MATCHES = [
    ("https://api.example/v1/*", "https://api.example/v1/events", True),
    ("https://api.example/v1/*", "https://api.example/v1/", True),
    ("https://api.example/v1/*", "https://api.example/v1", False),
    ("https://api.example/v1/*", "https://api.example/v2/events", False),
    ("https://api.example/v1/*", "https://api.example:8443/v1/x", False),
    ("https://api.example/v1/*", "http://api.example/v1/x", False),
    ("https://api.example/v1/*", "https://evil.api.example/v1/x", False),
    ("https://api.example/v1/*", "https://api.example.evil/v1/x", False),
    ("https://api.example/v1", "https://api.example/v1", True),
    ("https://api.example/v1", "https://api.example/v1?x=1", True),
    ("https://api.example/v1", "https://api.example/v1/x", False),
    ("https://api.example/v*", "https://api.example/v17/x", True),
    ("https://*.example.com/*", "https://a.b.example.com/x", True),
    ("https://*.example.com/*", "https://example.com/x", True),  # like browser match patterns
    ("https://*.example.com/*", "https://evilexample.com/x", False),
    ("https://*.example.com/*", "https://example.com.evil/x", False),
    ("https://API.Example.:443/x*", "https://api.example/x1", True),
    ("https://[::1]:8443/*", "https://[0::1]:8443/x", True),
]


@pytest.mark.parametrize(("pattern", "url", "matches"), MATCHES)
def test_pattern_matches(pattern: str, url: str, matches: bool) -> None:
    assert UrlPattern.parse(pattern).matches(normalize_url(url)) is matches


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("https://a.*.com/", "'*' is allowed only"),
        ("https://*/", "'*' is allowed only"),
        ("https://example.com/*/x", "'*' is allowed only"),
        ("https://example.com/x://*.y", "'*' is allowed only"),  # not a host wildcard
        ("*.example.com", "'*' is allowed only"),
        ("https://example.com/x?y=*", "must not have a query"),
        ("https://example.com/x?y=1", "must not have a query"),
        ("https://user@example.com/", "userinfo"),
        ("ftp://example.com/", "scheme 'ftp'"),
        ("https://example.com/../x*", "path segments"),
    ],
)
def test_pattern_parse_refuses(pattern: str, fragment: str) -> None:
    with pytest.raises(UrlError, match=re.escape(fragment)):
        UrlPattern.parse(pattern)


# --- Properties -----------------------------------------------------------------------

# URL-ish text: delimiters, look-alikes and encodings that parsers disagree about
URL_TOKENS = [*"aZ09.-_~:/?#[]@!$&'()*+,;=%\\ \t\x00é", "\u3002", "\uff0f", "\u00b9", "xn--", "%2e"]
URLISH = st.lists(st.sampled_from(URL_TOKENS), max_size=30).map("".join)
ANY_URL = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, rest: scheme + rest,
        st.sampled_from(["https://", "http://", "HTTPS://", ""]),
        URLISH,
    ),
)


@settings(max_examples=400, deadline=None)
@given(ANY_URL)
@example("https://[::1/")
@example("https://a.com:\u00b9/")
@example("https://a.com\uff0f@b.com/")
def test_normalize_url_raises_only_url_error(url: str) -> None:
    try:
        result = normalize_url(url)
    except UrlError:
        return
    # a normalised URL is stable and its host is plain ASCII
    assert normalize_url(result.url) == result
    assert re.fullmatch(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]", result.host), result.host
    assert "@" not in result.url.split("/")[2]


@settings(max_examples=300, deadline=None)
@given(ANY_URL)
def test_pattern_parse_raises_only_url_error(pattern: str) -> None:
    with contextlib.suppress(UrlError):
        UrlPattern.parse(pattern)

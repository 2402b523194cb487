"""A container's site: which origins it takes hits from, which Domain its cookies get."""

import pytest

from container.site_domain import cookie_domain, host_of, origin_refusal, within


@pytest.mark.parametrize(
    ("authority", "host"),
    [
        ("t.Client.com", "t.client.com"),
        ("t.client.com:8443", "t.client.com"),
        ("t.client.com.", "t.client.com"),
        ("127.0.0.1:9000", "127.0.0.1"),
        ("[::1]:9000", "::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("", ""),
    ],
)
def test_host_of_drops_port_brackets_and_case(authority: str, host: str) -> None:
    assert host_of(authority) == host


@pytest.mark.parametrize(
    ("host", "domain", "inside"),
    [
        ("client.com", "client.com", True),
        ("t.client.com", "client.com", True),
        ("a.b.client.com", "client.com", True),
        ("evilclient.com", "client.com", False),
        ("client.com.evil.net", "client.com", False),
        ("client.com", "t.client.com", False),
        ("127.0.0.1", "127.0.0.1", True),
        ("x.127.0.0.1", "127.0.0.1", False),
    ],
)
def test_within(host: str, domain: str, inside: bool) -> None:
    assert within(host, domain) is inside


@pytest.mark.parametrize(
    ("wanted", "host", "domain"),
    [
        ("client.com", "t.client.com", "client.com"),
        ("client.com", "client.com", "client.com"),
        ("client.com", "t.other.com", None),  # a browser would drop it: host-only
        ("", "t.client.com", None),
        (None, "t.client.com", None),
        ("127.0.0.1", "127.0.0.1", None),  # an IP address is never a cookie domain
    ],
)
def test_cookie_domain_only_when_the_host_is_under_it(
    wanted: str | None, host: str, domain: str | None
) -> None:
    assert cookie_domain(wanted, host) == domain


def refusal(origin: str, own: str = "https://t.client.com", domain: str | None = "client.com"):
    return origin_refusal(origin, own, "shop", domain, frozenset({"https://partner.example"}))


@pytest.mark.parametrize(
    "origin",
    [
        "https://client.com",
        "https://www.client.com",
        "http://shop.client.com:8080",
        "https://t.client.com",
        "https://partner.example",  # listed
    ],
)
def test_origins_of_the_site_and_listed_ones_pass(origin: str) -> None:
    assert refusal(origin) is None


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "https://client.com.evil.example",
        "https://evilclient.com",
        "null",
        "ftp://www.client.com",
        "https://user@www.client.com",
        "https://www.client.com/path",
        "",
    ],
)
def test_other_origins_are_refused_naming_the_domain(origin: str) -> None:
    reason = refusal(origin)
    assert reason is not None
    assert "'client.com'" in reason
    assert repr(origin) in reason


def test_the_nodes_own_origin_passes_only_on_the_site_or_a_loopback_host() -> None:
    own = "https://t.client-b.com"
    assert refusal(own, own=own) is not None  # another client's collector host
    for local in ("http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"):
        assert refusal(local, own=local) is None
        assert refusal(local, own="http://t.client.com") is not None


def test_without_a_domain_the_rule_is_the_own_origin_and_the_list() -> None:
    assert refusal("https://t.node.example", own="https://t.node.example", domain=None) is None
    assert refusal("https://partner.example", domain=None) is None
    reason = refusal("https://www.client.com", domain=None)
    assert reason == "origin 'https://www.client.com' is not in container 'shop' allowed_origins"

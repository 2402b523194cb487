import ipaddress

import pytest

from container.client_ip import client_ip, is_trusted

TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("203.0.113.5", "198.51.100.7", "203.0.113.5"),  # untrusted peer: header ignored
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.7, 10.0.0.9", "198.51.100.7"),  # spoofed left part
        ("10.0.0.2", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # all trusted: leftmost
        ("10.0.0.2", "junk, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, junk", "10.0.0.2"),  # garbage right after the proxy
        ("10.0.0.2", "[2001:db8::7]:443", "2001:db8::7"),
        ("10.0.0.2", "198.51.100.7:5123", "198.51.100.7"),
        ("::1", "2001:db8::9", "2001:db8::9"),
    ],
)
def test_client_ip(peer, xff, expected):
    assert client_ip(peer, xff, TRUSTED) == expected


def test_no_trusted_proxies_means_socket_address():
    assert client_ip("10.0.0.2", "198.51.100.7", ()) == "10.0.0.2"


def test_is_trusted():
    assert is_trusted("10.9.9.9", TRUSTED)
    assert not is_trusted("11.0.0.1", TRUSTED)
    assert not is_trusted("not-an-ip", TRUSTED)

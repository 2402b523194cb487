"""The egress policy (config/egress.py): every refused range, the odd ways to write an
address, the allow-list, and the reasons; with property tests over all addresses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from config.egress import (
    METADATA_NAMES,
    EgressPolicy,
    classify,
    embedded_ipv4,
    parse_literal,
)

ip = ipaddress.ip_address
DEFAULT = EgressPolicy()

# Every refused range, by a representative address (first, inside, last where it matters).
CLASSIFIED = [
    ("169.254.169.254", "a cloud metadata address"),
    ("169.254.170.2", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"),
    ("168.63.129.16", "a cloud metadata address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("::ffff:169.254.169.254", "a cloud metadata address"),
    ("0.0.0.0", "an unspecified address"),
    ("0.255.255.255", "an unspecified address"),
    ("::", "an unspecified address"),
    ("127.0.0.1", "a loopback address"),
    ("127.255.255.254", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.0.0.0", "a private address"),
    ("10.0.0.5", "a private address"),
    ("10.255.255.255", "a private address"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.255", "a private address"),
    ("192.168.0.1", "a private address"),
    ("192.168.255.255", "a private address"),
    ("100.64.0.1", "a shared (CGNAT) address"),
    ("100.127.255.255", "a shared (CGNAT) address"),
    ("169.254.0.1", "a link-local address"),
    ("169.254.255.255", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("febf::1", "a link-local address"),
    ("fec0::1", "a reserved address"),
    ("fc00::1", "a unique-local address"),
    ("fd00::", "a unique-local address"),
    ("fdff:ffff::1", "a unique-local address"),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("ff0e::1", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("192.0.0.8", "a reserved address"),
    ("192.0.2.1", "a reserved address"),
    ("198.51.100.7", "a reserved address"),
    ("203.0.113.9", "a reserved address"),
    ("198.18.0.1", "a reserved address"),
    ("198.19.255.255", "a reserved address"),
    ("192.88.99.1", "a reserved address"),
    ("2001:db8::1", "a reserved address"),
    ("3fff::1", "a reserved address"),
    ("2001:2::1", "a reserved address"),
    ("2001::1", "a reserved address"),  # Teredo
    ("100::1", "a reserved address"),
    ("5f00::1", "a reserved address"),
    ("64:ff9b:1::a00:5", "a reserved address"),  # local-use NAT64
    ("4000::1", "a reserved address"),  # outside global unicast
    ("1::", "a reserved address"),
    # IPv6 forms of IPv4 addresses are what their IPv4 address is
    ("::ffff:127.0.0.1", "a loopback address"),
    ("::ffff:10.0.0.5", "a private address"),
    ("::ffff:0.0.0.0", "an unspecified address"),
    ("::127.0.0.1", "a loopback address"),  # IPv4-compatible
    ("::10.0.0.5", "a private address"),
    ("::ffff:0:10.0.0.5", "a private address"),  # IPv4-translated
    ("64:ff9b::127.0.0.1", "a loopback address"),  # NAT64
    ("64:ff9b::10.0.0.5", "a private address"),
    ("64:ff9b::169.254.169.254", "a cloud metadata address"),
    ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
    ("2002:c0a8:101::1", "a private address"),  # 6to4 of 192.168.1.1
    # public
    ("8.8.8.8", None),
    ("1.1.1.1", None),
    ("93.184.216.34", None),
    ("100.63.255.255", None),
    ("100.128.0.0", None),
    ("172.15.255.255", None),
    ("172.32.0.0", None),
    ("169.253.255.255", None),
    ("223.255.255.255", None),
    ("11.0.0.1", None),
    ("2606:4700:4700::1111", None),
    ("2a03:2880:f12f:83:face:b00c::25de", None),
    ("::ffff:8.8.8.8", None),
    ("64:ff9b::8.8.8.8", None),
    ("2002:808:808::1", None),  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "kind"), CLASSIFIED)
def test_every_range_is_classified(address: str, kind: str | None) -> None:
    assert classify(ip(address)) == kind


LITERALS = [
    ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),  # decimal
    ("0x7f000001", "127.0.0.1"),  # hex
    ("0X7F000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),  # octal
    ("0177.0.0.1", "127.0.0.1"),
    ("0177.0.0.01", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),  # short forms: the last part fills the rest
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("10.1", "10.0.0.1"),
    ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"),
    ("167772165", "10.0.0.5"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("2852039166", "169.254.169.254"),
    ("127.0.0.1.", "127.0.0.1"),  # final dot
    ("::1", "::1"),
    ("[::1]", "::1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
    ("[0:0:0:0:0:0:0:1]", "::1"),
    ("fe80::1%eth0", "fe80::1%eth0"),
    # host names, and numbers no resolver reads
    ("example.com", None),
    ("localhost", None),
    ("1.2.3.4.5", None),
    ("256.0.0.1", None),
    ("127.0.0.256", None),
    ("127.16777216", None),
    ("4294967296", None),
    ("08", None),
    ("0x7g", None),
    ("1..1", None),
    ("", None),
    ("[::zz]", None),
]


@pytest.mark.parametrize(("host", "address"), LITERALS)
def test_literal_forms_read_as_the_resolver_reads_them(host: str, address: str | None) -> None:
    parsed = parse_literal(host)
    assert (None if parsed is None else str(parsed)) == address


SETTING_HINT = " (allow it with TAGWIRE_EGRESS_ALLOW)"

REASONS = [
    ("10.0.0.5", ["10.0.0.5"], "10.0.0.5 is a private address"),
    ("127.0.0.1", ["127.0.0.1"], "127.0.0.1 is a loopback address"),
    ("2130706433", ["127.0.0.1"], "2130706433 is 127.0.0.1, a loopback address"),
    ("0x7f000001", ["127.0.0.1"], "0x7f000001 is 127.0.0.1, a loopback address"),
    ("0177.0.0.1", ["127.0.0.1"], "0177.0.0.1 is 127.0.0.1, a loopback address"),
    ("127.1", ["127.0.0.1"], "127.1 is 127.0.0.1, a loopback address"),
    ("0.0.0.0", ["0.0.0.0"], "0.0.0.0 is an unspecified address"),
    ("::1", ["::1"], "::1 is a loopback address"),
    (
        "::ffff:127.0.0.1",
        ["::ffff:127.0.0.1"],
        "::ffff:127.0.0.1 is ::ffff:7f00:1, an IPv4-mapped form of 127.0.0.1, a loopback address",
    ),
    ("fd00::1", ["fd00::1"], "fd00::1 is a unique-local address"),
    ("169.254.169.254", ["169.254.169.254"], "169.254.169.254 is a cloud metadata address"),
    ("metadata.google.internal", [], "metadata.google.internal is a cloud metadata host name"),
    ("METADATA.google.internal.", [], "metadata.google.internal is a cloud metadata host name"),
    ("localhost", ["127.0.0.1", "::1"], "localhost resolves to 127.0.0.1, a loopback address"),
    ("intranet.example", ["192.168.1.10"],
     "intranet.example resolves to 192.168.1.10, a private address"),
    (
        "rebind.example",
        ["93.184.216.34", "10.0.0.5"],
        "rebind.example resolves to 10.0.0.5, a private address",
    ),
    (
        "nat64.example",
        ["64:ff9b::a00:5"],
        "nat64.example resolves to 64:ff9b::a00:5, a NAT64 form of 10.0.0.5, a private address",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("host", "addresses", "reason"), REASONS)
def test_refusals_say_what_the_address_is(host: str, addresses: list[str], reason: str) -> None:
    assert DEFAULT.check(host, [ip(a) for a in addresses]) == "egress refused: " + reason + (
        SETTING_HINT
    )


def test_a_number_that_is_no_address_is_refused_without_a_hint() -> None:
    for host in ("1.2.3.4.5", "256.1", "08", "example.0x10"):
        reason = DEFAULT.check(host, [ip("8.8.8.8")])
        assert reason == f"egress refused: {host} reads as a number but is no IP address"


def test_public_answers_pass() -> None:
    assert DEFAULT.check("graph.facebook.com", [ip("157.240.1.35"), ip("2a03:2880::1")]) is None
    assert DEFAULT.check("8.8.8.8", [ip("8.8.8.8")]) is None


def test_every_metadata_name_is_refused_unless_allowed_by_name() -> None:
    for name in METADATA_NAMES:
        assert DEFAULT.check_name(name) is not None
        assert EgressPolicy.parse(name).check_name(name) is None
    # an address range does not open a metadata name
    assert EgressPolicy.parse("0.0.0.0/0").check("metadata", [ip("169.254.169.254")])


ALLOWED = [
    ("127.0.0.1", "127.0.0.1", ["127.0.0.1"]),
    ("127.0.0.1", "::ffff:127.0.0.1", ["::ffff:127.0.0.1"]),  # the IPv4 address it carries
    ("127.0.0.0/8", "localhost", ["127.0.0.1"]),
    ("localhost", "localhost", ["127.0.0.1", "::1"]),
    ("LocalHost.", "localhost", ["::1"]),
    ("10.0.0.0/8", "db.internal", ["10.1.2.3"]),
    ("10.0.0.5/8", "10.200.0.1", ["10.200.0.1"]),  # host bits are dropped
    ("db.internal", "db.internal", ["10.1.2.3"]),
    ("*.corp.example", "hooks.corp.example", ["10.1.2.3"]),
    ("*.corp.example", "a.b.corp.example", ["10.1.2.3"]),
    ("[::1]", "::1", ["::1"]),
    ("fd00::/8", "fd12::1", ["fd12::1"]),
    ("169.254.169.254", "169.254.169.254", ["169.254.169.254"]),
    ("metadata.google.internal", "metadata.google.internal", ["169.254.169.254"]),
]


@pytest.mark.parametrize(("setting", "host", "addresses"), ALLOWED)
def test_the_allow_list_opens_exactly_what_it_names(
    setting: str, host: str, addresses: list[str]
) -> None:
    assert EgressPolicy.parse(setting).check(host, [ip(a) for a in addresses]) is None
    assert DEFAULT.check(host, [ip(a) for a in addresses]) is not None


NOT_ALLOWED = [
    ("127.0.0.1", "127.0.0.2", ["127.0.0.2"]),
    ("localhost", "localhost.evil.example", ["127.0.0.1"]),
    ("*.corp.example", "corp.example", ["10.1.2.3"]),  # `*.` means subdomains only
    ("*.corp.example", "evilcorp.example", ["10.1.2.3"]),
    ("10.0.0.0/8", "mixed.example", ["10.1.2.3", "192.168.0.1"]),
    ("db.internal", "other.internal", ["10.1.2.3"]),
    ("169.254.169.254", "metadata.google.internal", ["169.254.169.254"]),
]


@pytest.mark.parametrize(("setting", "host", "addresses"), NOT_ALLOWED)
def test_the_allow_list_opens_nothing_else(setting: str, host: str, addresses: list[str]) -> None:
    assert EgressPolicy.parse(setting).check(host, [ip(a) for a in addresses]) is not None


@pytest.mark.parametrize(
    "entry",
    ["local host", "10.0.0.0/33", "http://127.0.0.1", "127.0.0.1:8000", "*", "*.", "a..b",
     "2130706433", "example.0x10", "-bad.example", "exa$mple.com", "10.0.0.0/8/8"],
)  # fmt: skip
def test_a_bad_entry_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host name, IP address or CIDR range") as info:
        EgressPolicy.parse(f"localhost, {entry} ,10.0.0.0/8")
    assert repr(entry.strip()) in str(info.value)


def test_parse_reads_a_comma_list() -> None:
    policy = EgressPolicy.parse(" localhost, *.Corp.Example ,,10.0.0.0/8, [::1],127.0.0.1 ")
    assert policy.hosts == frozenset({"localhost"})
    assert policy.suffixes == (".corp.example",)
    assert [str(n) for n in policy.networks] == ["10.0.0.0/8", "::1/128", "127.0.0.1/32"]
    assert policy.describe() == "localhost,*.corp.example,10.0.0.0/8,::1/128,127.0.0.1/32"
    assert not EgressPolicy.parse("")
    assert EgressPolicy.parse("") == EgressPolicy()
    assert policy.allowing("db.internal,127.0.0.1").hosts == {"localhost", "db.internal"}
    assert len(policy.allowing("127.0.0.1").networks) == 3


# ---- properties -------------------------------------------------------------------------

ipv4s = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
ipv6s = st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)
addresses = st.one_of(ipv4s, ipv6s)


@given(ipv4s)
def test_every_ipv6_form_of_an_ipv4_address_is_judged_as_it(address: ipaddress.IPv4Address) -> None:
    value = int(address)
    kind = classify(address)
    for prefix in ("::ffff:0:0", "::ffff:0:0:0", "64:ff9b::"):
        form = ipaddress.IPv6Address(int(ipaddress.IPv6Address(prefix)) | value)
        assert embedded_ipv4(form) is not None
        assert classify(form) == kind, form
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | 1)
    assert classify(six_to_four) == kind
    if value > 1:  # ::0.0.0.0 and ::0.0.0.1 are IPv6's own :: and ::1
        assert classify(ipaddress.IPv6Address(value)) == kind


@given(ipv4s)
def test_every_spelling_of_an_ipv4_address_reads_as_it(address: ipaddress.IPv4Address) -> None:
    value = int(address)
    a, b, c, d = address.packed
    spellings = [
        str(value),
        hex(value),
        "0" + oct(value)[2:],
        ".".join(hex(x) for x in (a, b, c, d)),
        ".".join("0" + oct(x)[2:] for x in (a, b, c, d)),
        f"{a}.{value & 0xFFFFFF}",
        f"{a}.{b}.{value & 0xFFFF}",
        f"{address}.",
    ]
    for spelling in spellings:
        assert parse_literal(spelling) == address, spelling
        reason = DEFAULT.check(spelling, [address])
        assert (reason is None) == (classify(address) is None), spelling


@given(addresses)
def test_an_address_called_public_is_global_for_python_too(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    kind = classify(address)
    if kind is None:
        assert address.is_global
        assert not address.is_multicast
        carried = embedded_ipv4(address) if address.version == 6 else None
        assert carried is None or carried[0].is_global
    if not address.is_global and embedded_ipv4_or_none(address) is None:
        assert kind is not None
    if address.is_loopback or address.is_link_local or address.is_multicast:
        assert kind is not None


def embedded_ipv4_or_none(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        return None if carried is None else carried[0]
    return None


@given(addresses)
def test_a_literal_host_passes_the_default_exactly_when_it_is_public(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    reason = DEFAULT.check(str(address), [address])
    assert (reason is None) == (classify(address) is None)
    if reason is not None:
        assert reason.startswith(f"egress refused: {address} is ")
        assert reason.endswith(SETTING_HINT)


@given(addresses, st.integers(0, 128))
def test_an_allowed_range_opens_every_address_in_it(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, length: int
) -> None:
    length = min(length, address.max_prefixlen)
    network = ipaddress.ip_network(f"{address}/{length}", strict=False)
    policy = EgressPolicy.parse(str(network))
    assert policy.check("some.example", [address]) is None
    assert policy.check(str(address), [address]) is None


@given(st.lists(addresses, min_size=1, max_size=6), st.data())
def test_one_refused_address_refuses_the_whole_answer(
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address], data: st.DataObject
) -> None:
    refused = [a for a in found if classify(a) is not None]
    reason = DEFAULT.check("host.example", found)
    assert (reason is None) == (not refused)
    if refused:
        assert reason == DEFAULT.check("host.example", [refused[0]])
    # order does not decide whether it passes
    shuffled = data.draw(st.permutations(found))
    assert (DEFAULT.check("host.example", shuffled) is None) == (reason is None)


names = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)


@given(st.lists(st.one_of(names, names.map("*.".__add__), addresses.map(str)), max_size=6))
def test_a_policy_reads_back_from_its_own_description(entries: list[str]) -> None:
    assume(all(not e.endswith("-") and "-." not in e for e in entries))
    policy = EgressPolicy.parse(",".join(entries))
    assert EgressPolicy.parse(policy.describe()) == policy


def test_the_setting_is_read_and_a_bad_entry_stops_start_up() -> None:
    from config.settings import SettingsError, load_settings

    assert load_settings({}).egress_allow == EgressPolicy()
    allowed = load_settings({"TAGWIRE_EGRESS_ALLOW": "127.0.0.1, crm.internal"}).egress_allow
    assert allowed == EgressPolicy.parse("127.0.0.1,crm.internal")
    with pytest.raises(SettingsError) as info:
        load_settings({"TAGWIRE_EGRESS_ALLOW": "127.0.0.1,10.0.0.0/33"})
    assert str(info.value).startswith(
        "TAGWIRE_EGRESS_ALLOW: '10.0.0.0/33' is not a host name, IP address or CIDR range"
    )

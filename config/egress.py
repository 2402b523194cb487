"""The egress policy: which addresses the sender may connect to.

Pure code, no I/O. A template or webhook URL names a host; the sender resolves it once and
asks this module about every address it got before it connects
(`container/delivery/egress.py`). Refused, unless the operator allows them with
`TAGWIRE_EGRESS_ALLOW`:

- loopback, unspecified (`0.0.0.0/8`, `::`), private (RFC 1918), shared/CGNAT
  (`100.64.0.0/10`), link-local, unique-local (`fc00::/7`), site-local, multicast, and the
  reserved, documentation and benchmark ranges, and every IPv6 address outside global
  unicast (`2000::/3`);
- the IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
  `::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`)
  are judged by the IPv4 address they carry; local-use NAT64 (`64:ff9b:1::/48`) and
  Teredo (inside `2001::/23`) are refused;
- cloud metadata addresses (`169.254.169.254`, `fd00:ec2::254`, Alibaba's
  `100.100.100.200`, Azure's `168.63.129.16`) and metadata host names
  (`metadata.google.internal`, …), named as such in the reason.

A host written as a number in any form the C resolver reads (`2130706433`, `0x7f000001`,
`0177.0.0.1`, `127.1`) is read here the same way and judged as the address it is; a host
that looks like a number but is none is refused.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "METADATA_NAMES",
    "SETTING",
    "EgressPolicy",
    "IPAddress",
    "classify",
    "embedded_ipv4",
    "normalize_host",
    "parse_literal",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "TAGWIRE_EGRESS_ALLOW"

METADATA = "a cloud metadata address"
UNSPECIFIED = "an unspecified address"
LOOPBACK = "a loopback address"
PRIVATE = "a private address"
SHARED = "a shared (CGNAT) address"
LINK_LOCAL = "a link-local address"
UNIQUE_LOCAL = "a unique-local address"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"

# First match wins: the metadata addresses come before the ranges that hold them.
_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(cidr), kind)
    for cidr, kind in (
        ("169.254.169.254/32", METADATA),  # AWS, GCP, Azure, Oracle, DigitalOcean, …
        ("169.254.170.2/32", METADATA),  # AWS ECS task credentials
        ("100.100.100.200/32", METADATA),  # Alibaba Cloud
        ("168.63.129.16/32", METADATA),  # Azure WireServer (a public address)
        ("0.0.0.0/8", UNSPECIFIED),  # "this network"; 0.0.0.0 reaches the host itself
        ("127.0.0.0/8", LOOPBACK),
        ("10.0.0.0/8", PRIVATE),
        ("172.16.0.0/12", PRIVATE),
        ("192.168.0.0/16", PRIVATE),
        ("100.64.0.0/10", SHARED),
        ("169.254.0.0/16", LINK_LOCAL),
        ("192.0.0.0/24", RESERVED),  # IETF protocol assignments
        ("192.0.2.0/24", RESERVED),  # documentation
        ("198.51.100.0/24", RESERVED),  # documentation
        ("203.0.113.0/24", RESERVED),  # documentation
        ("198.18.0.0/15", RESERVED),  # benchmarking
        ("192.88.99.0/24", RESERVED),  # 6to4 relay anycast (deprecated)
        ("224.0.0.0/4", MULTICAST),
        ("240.0.0.0/4", RESERVED),  # future use, and 255.255.255.255
    )
)
_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(cidr), kind)
    for cidr, kind in (
        ("fd00:ec2::254/128", METADATA),  # AWS over IPv6
        ("::/128", UNSPECIFIED),
        ("::1/128", LOOPBACK),
        ("fe80::/10", LINK_LOCAL),
        ("fec0::/10", RESERVED),  # site-local (deprecated)
        ("fc00::/7", UNIQUE_LOCAL),
        ("ff00::/8", MULTICAST),
        ("64:ff9b:1::/48", RESERVED),  # local-use NAT64
        ("100::/64", RESERVED),  # discard-only
        ("2001::/23", RESERVED),  # IETF protocol assignments: Teredo, benchmarking, ORCHID
        ("2001:db8::/32", RESERVED),  # documentation
        ("3fff::/20", RESERVED),  # documentation
        ("5f00::/16", RESERVED),  # SRv6 SIDs
    )
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# IPv6 forms that carry an IPv4 address in their last 32 bits.
_LOW_32: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (ipaddress.IPv6Network("::ffff:0:0/96"), "an IPv4-mapped form"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "an IPv4-translated form"),
    (ipaddress.IPv6Network("64:ff9b::/96"), "a NAT64 form"),
    (ipaddress.IPv6Network("::/96"), "an IPv4-compatible form"),
)
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

# Host names that reach a cloud instance's metadata service.
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)

_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
# What the C resolver reads as a number: decimal, octal (leading 0) or hex (0x) parts.
_DECIMAL = re.compile(r"[1-9][0-9]*")
_OCTAL = re.compile(r"0[0-7]*")
_HEX = re.compile(r"0x[0-9a-f]*")
_NUMBERISH = re.compile(r"[0-9]+|0x[0-9a-f]*")


def normalize_host(host: str) -> str:
    """A host as URLs and the allow-list compare it: lower case, no brackets, no final dot."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        return text[1:-1]
    return text.rstrip(".")


def _part(text: str) -> int | None:
    if _HEX.fullmatch(text):
        return int(text[2:] or "0", 16)
    if _OCTAL.fullmatch(text):
        return int(text, 8)
    if _DECIMAL.fullmatch(text):
        return int(text)
    return None


def parse_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal names, or None for a host name.

    IPv4 is read as `inet_aton` reads it, so every form the resolver would turn into an
    address gets its address here: one to four parts, each decimal, octal or hex, the last
    filling the bytes left (`127.1` is 127.0.0.1, `2130706433` and `0x7f000001` too)."""
    text = normalize_host(host)
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [_part(part) for part in parts]
    if None in values:
        return None
    numbers = [v for v in values if v is not None]
    *head, last = numbers
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, byte in enumerate(head):
        value += byte << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _numberish(host: str) -> bool:
    """True when the resolver could take the host for a number: its last label is one."""
    return bool(_NUMBERISH.fullmatch(normalize_host(host).rsplit(".", 1)[-1]))


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 form carries, with the form's name; None if it carries none.
    `::` and `::1` are IPv6's own unspecified and loopback addresses, not forms."""
    if address in _V6[1][0] or address in _V6[2][0]:
        return None
    for network, form in _LOW_32:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), form
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF), "a 6to4 form"
    return None


def classify(address: IPAddress) -> str | None:
    """What kind of address the sender must not reach `address` is ("a private address"),
    or None for a public address. An IPv6 form of an IPv4 address is the kind its IPv4
    address is."""
    if isinstance(address, ipaddress.IPv4Address):
        for network4, kind in _V4:
            if address in network4:
                return kind
        return None
    carried = embedded_ipv4(address)
    if carried is not None:
        return classify(carried[0])
    for network6, kind in _V6:
        if address in network6:
            return kind
    return None if address in _GLOBAL_UNICAST else RESERVED


def _what(address: IPAddress) -> str | None:
    """`a private address`, `an IPv4-mapped form of 10.0.0.5, a private address`; None for a
    public address."""
    kind = classify(address)
    if kind is None:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None:
            return f"{carried[1]} of {carried[0]}, {kind}"
    return kind


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """The operator's exceptions to the refused ranges: host names (exact, or `*.` for any
    subdomain) and IP ranges. Empty (the default): every refused range stays refused."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # from `*.example.internal`: ".example.internal"
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> EgressPolicy:
        """The policy of a `TAGWIRE_EGRESS_ALLOW` value: a comma list of host names,
        `*.`-names, IP addresses and CIDR ranges. A bad entry raises ValueError naming it."""
        hosts: set[str] = set()
        suffixes: list[str] = []
        networks: list[Network] = []
        for raw in text.split(","):
            entry = raw.strip()
            if not entry:
                continue
            bare = entry.replace("[", "").replace("]", "")  # [::1] as ::1
            try:
                networks.append(ipaddress.ip_network(bare, strict=False))
                continue
            except ValueError:
                pass
            name = normalize_host(entry)
            wildcard = name.startswith("*.")
            labels = name.removeprefix("*.").split(".")
            if not all(_LABEL.fullmatch(label) for label in labels) or (
                _NUMBERISH.fullmatch(labels[-1])
            ):
                raise ValueError(
                    f"{entry!r} is not a host name, IP address or CIDR range "
                    "(write addresses as 10.0.0.5, 10.0.0.0/8 or ::1)"
                )
            if wildcard:
                suffixes.append(name[1:])
            else:
                hosts.add(name)
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    def allowing(self, text: str) -> EgressPolicy:
        """This policy with the entries of `text` (as in `parse`) allowed too."""
        more = EgressPolicy.parse(text)
        suffixes = self.suffixes + tuple(s for s in more.suffixes if s not in self.suffixes)
        networks = self.networks + tuple(n for n in more.networks if n not in self.networks)
        return EgressPolicy(self.hosts | more.hosts, suffixes, networks)

    def __bool__(self) -> bool:
        return bool(self.hosts or self.suffixes or self.networks)

    def describe(self) -> str:
        """The allow-list as a comma list that `parse` reads back to this policy."""
        names = sorted(self.hosts) + ["*" + s for s in self.suffixes]
        return ",".join(names + [str(n) for n in self.networks])

    def allows_host(self, host: str) -> bool:
        name = normalize_host(host)
        return name in self.hosts or any(name.endswith(s) for s in self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        """In an allowed range, itself or (for an IPv6 form of one) its IPv4 address."""
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            carried = embedded_ipv4(address)
            if carried is not None:
                candidates.append(carried[0])
        return any(a in n for a in candidates for n in self.networks if a.version == n.version)

    def check_name(self, host: str) -> str | None:
        """Why a host is refused before it is even resolved (a metadata name, a number the
        resolver would read differently), or None."""
        name = normalize_host(host)
        if self.allows_host(name) or parse_literal(name) is not None:
            return None
        if name in METADATA_NAMES:
            return _refused(f"{name} is a cloud metadata host name")
        if _numberish(name):
            return _refused(f"{name} reads as a number but is no IP address", allow=False)
        return None

    def check(self, host: str, addresses: Sequence[IPAddress]) -> str | None:
        """Why a request to `host`, which resolved to `addresses`, is refused, or None when
        every address may be connected to. One refused address refuses the host: the
        sender never picks the good ones out of a mixed answer."""
        early = self.check_name(host)
        if early is not None:
            return early
        name = normalize_host(host)
        if self.allows_host(name):
            return None
        literal = parse_literal(name)
        for address in addresses:
            if self.allows_address(address):
                continue
            what = _what(address)
            if what is None:
                continue
            if literal is None:
                return _refused(f"{name} resolves to {address}, {what}")
            if name != str(address):  # 2130706433 is 127.0.0.1, a loopback address
                return _refused(f"{name} is {address}, {what}")
            return _refused(f"{address} is {what}")
        return None


def _refused(text: str, *, allow: bool = True) -> str:
    hint = f" (allow it with {SETTING})" if allow else ""
    return f"egress refused: {text}{hint}"

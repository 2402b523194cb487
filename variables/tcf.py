"""IAB TCF v2 (v2.2/v2.3) TC strings: decode, encode, and the purpose/vendor check.

A TC string is one or more segments joined by `.`, each base64url without padding, read
as a big-endian bit string (the last character zero-padded). The first segment is the
core segment (no segment-type field); every later segment starts with a 3-bit type:
1 disclosed vendors, 2 allowed vendors (obsolete OOB segment), 3 publisher TC. Field widths
follow "IAB Tech Lab - Consent string and vendor list formats v2".

`decode_tc_string` raises `TCStringError` (a `ValueError`) with a reason for every bad
input and never any other exception. The work is bounded: strings longer than
`MAX_TC_STRING_LENGTH` are refused before decoding, vendor ids are 16-bit (at most 65535)
and range sections may expand to at most `MAX_EXPANDED_VENDOR_IDS` ids in total.

Decoding is faithful (bits are reported as encoded); judgement lives in `TCData.allows`:

- A purpose counts only with **consent** by default. The server has no Global Vendor List,
  so it cannot know whether a vendor declared a purpose under legitimate interest (LI);
  `allow_legitimate_interest=True` opts in to LI for purposes 2, 7, 8, 9, 10 and 11 (the
  only ones where TCF policy v4+ allows it).
- `PurposeOneTreatment` does not waive purpose 1: its consent bit is still required.
- Publisher restriction type 0 (not allowed) denies the vendor that purpose; type 2
  (require LI) makes consent unusable for it; type 1 (require consent) makes LI unusable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

__all__ = [
    "LI_PURPOSES",
    "MAX_EXPANDED_VENDOR_IDS",
    "MAX_TC_STRING_LENGTH",
    "MAX_VENDOR_ID",
    "PublisherRestriction",
    "PublisherTC",
    "TCData",
    "TCStringError",
    "decode_tc_string",
    "encode_tc_string",
]

MAX_TC_STRING_LENGTH = 64 * 1024
MAX_VENDOR_ID = 65535
MAX_EXPANDED_VENDOR_IDS = 1 << 17  # two full 1-65535 ranges
MAX_RANGE_ENTRIES = 4095  # NumEntries is 12 bits
LI_PURPOSES = frozenset({2, 7, 8, 9, 10, 11})

SEGMENT_CORE = 0
SEGMENT_DISCLOSED_VENDORS = 1
SEGMENT_ALLOWED_VENDORS = 2
SEGMENT_PUBLISHER_TC = 3
_SEGMENT_NAMES = {
    SEGMENT_CORE: "core",
    SEGMENT_DISCLOSED_VENDORS: "disclosed vendors",
    SEGMENT_ALLOWED_VENDORS: "allowed vendors",
    SEGMENT_PUBLISHER_TC: "publisher TC",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SIXBITS = {c: format(i, "06b") for i, c in enumerate(_ALPHABET)}
_NOT_BASE64URL = re.compile(r"[^A-Za-z0-9_-]")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class TCStringError(ValueError):
    """A TC string that cannot be decoded (or TCData that cannot be encoded)."""


class PublisherRestriction(NamedTuple):
    """Restriction type 0 = not allowed, 1 = require consent, 2 = require LI, 3 = undefined."""

    purpose_id: int
    restriction_type: int
    vendor_ids: frozenset[int]


@dataclass(frozen=True, slots=True, kw_only=True)
class PublisherTC:
    """The publisher TC segment: the publisher's own purposes and custom purposes."""

    purpose_consents: frozenset[int] = frozenset()
    purpose_legitimate_interests: frozenset[int] = frozenset()
    num_custom_purposes: int = 0
    custom_purpose_consents: frozenset[int] = frozenset()
    custom_purpose_legitimate_interests: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class TCData:
    """A decoded TC string. Id sets hold the ids whose bit is 1 (purpose 1 = first bit)."""

    created: datetime
    last_updated: datetime
    version: int = 2
    cmp_id: int = 0
    cmp_version: int = 0
    consent_screen: int = 0
    consent_language: str = "EN"
    vendor_list_version: int = 0
    tcf_policy_version: int = 5
    is_service_specific: bool = True
    use_non_standard_texts: bool = False
    special_feature_optins: frozenset[int] = frozenset()
    purpose_consents: frozenset[int] = frozenset()
    purpose_legitimate_interests: frozenset[int] = frozenset()
    purpose_one_treatment: bool = False
    publisher_cc: str = "AA"
    vendor_consents: frozenset[int] = frozenset()
    vendor_legitimate_interests: frozenset[int] = frozenset()
    publisher_restrictions: tuple[PublisherRestriction, ...] = ()
    disclosed_vendors: frozenset[int] | None = None
    allowed_vendors: frozenset[int] | None = None
    publisher_tc: PublisherTC | None = None

    def restriction_types(self, purpose_id: int, vendor_id: int) -> frozenset[int]:
        """Every publisher restriction type set for this purpose and vendor."""
        return frozenset(
            r.restriction_type
            for r in self.publisher_restrictions
            if r.purpose_id == purpose_id and vendor_id in r.vendor_ids
        )

    def allows(
        self,
        purposes: Iterable[int],
        vendor_id: int | None = None,
        *,
        allow_legitimate_interest: bool = False,
    ) -> tuple[bool, str]:
        """Whether every purpose (and the vendor, when given) is granted; reason if not.

        Purposes are checked in the order given, then the vendor. The reason names the
        first thing missing, e.g. "TCF purpose 4 not consented", "vendor 755 has no consent".
        """
        if vendor_id is not None and (type(vendor_id) is not int or not 0 < vendor_id <= 65535):
            return False, f"vendor id {vendor_id!r} is not a valid TCF vendor id"
        used_consent = used_li = False
        for purpose in purposes:
            if type(purpose) is not int or not 1 <= purpose <= 24:
                return False, f"{purpose!r} is not a TCF purpose id"
            types = frozenset() if vendor_id is None else self.restriction_types(purpose, vendor_id)
            if 0 in types:
                return (
                    False,
                    f"publisher does not allow TCF purpose {purpose} for vendor {vendor_id}",
                )
            if 2 not in types and purpose in self.purpose_consents:
                used_consent = True
            elif (
                allow_legitimate_interest
                and 1 not in types
                and purpose in LI_PURPOSES
                and purpose in self.purpose_legitimate_interests
            ):
                used_li = True
            elif 2 in types and purpose in self.purpose_consents:
                return False, (
                    f"publisher requires legitimate interest for TCF purpose {purpose} "
                    f"and vendor {vendor_id}"
                )
            else:
                return False, f"TCF purpose {purpose} not consented"
        if vendor_id is not None:
            if (used_consent or not used_li) and vendor_id not in self.vendor_consents:
                return False, f"vendor {vendor_id} has no consent"
            if used_li and vendor_id not in self.vendor_legitimate_interests:
                return False, f"vendor {vendor_id} has no legitimate interest"
        return True, "granted"


# --- decoding -------------------------------------------------------------------------


class _Bits:
    __slots__ = ("bits", "budget", "name", "pos")

    def __init__(self, bits: str, name: str, budget: list[int]) -> None:
        self.bits = bits
        self.name = name
        self.pos = 0
        self.budget = budget  # shared, one-element list: vendor ids still allowed

    def read(self, n: int, field: str) -> int:
        end = self.pos + n
        if end > len(self.bits):
            raise TCStringError(f"truncated {self.name} segment at bit {self.pos} ({field})")
        value = int(self.bits[self.pos : end], 2) if n else 0
        self.pos = end
        return value

    def flag(self, field: str) -> bool:
        return self.read(1, field) == 1

    def id_set(self, n: int, field: str) -> frozenset[int]:
        end = self.pos + n
        if end > len(self.bits):
            raise TCStringError(f"truncated {self.name} segment at bit {self.pos} ({field})")
        chunk = self.bits[self.pos : end]
        self.pos = end
        ids = []
        i = chunk.find("1")
        while i != -1:
            ids.append(i + 1)
            i = chunk.find("1", i + 1)
        return frozenset(ids)

    def letters(self, field: str) -> str:
        first, second = self.read(6, field), self.read(6, field)
        if first > 25 or second > 25:
            raise TCStringError(f"{field} is not two letters ({first}, {second})")
        return _LETTERS[first] + _LETTERS[second]

    def ranges(self, count: int, max_id: int, section: str) -> frozenset[int]:
        ids: set[int] = set()
        for _ in range(count):
            is_range = self.flag(f"{section} range entry")
            start = self.read(16, f"{section} range start")
            end = self.read(16, f"{section} range end") if is_range else start
            if start == 0 or end == 0:
                raise TCStringError(f"vendor id 0 in {section} range entry")
            if end < start:
                raise TCStringError(f"range entry end < start ({end} < {start}) in {section}")
            if end > max_id:
                raise TCStringError(f"range entry end {end} > max vendor id {max_id} in {section}")
            self.budget[0] -= end - start + 1
            if self.budget[0] < 0:
                raise TCStringError(
                    f"too many vendor ids (> {MAX_EXPANDED_VENDOR_IDS}) in range sections"
                )
            ids.update(range(start, end + 1))
        return frozenset(ids)

    def vendor_section(self, section: str) -> frozenset[int]:
        max_id = self.read(16, f"{section} max vendor id")
        if self.flag(f"{section} encoding"):
            count = self.read(12, f"{section} range count")
            return self.ranges(count, max_id, section)
        return self.id_set(max_id, f"{section} bitfield of {max_id} bits")


def _segment_bits(segment: str, index: int) -> str:
    if not segment:
        raise TCStringError(f"empty segment {index}")
    bad = _NOT_BASE64URL.search(segment)
    if bad is not None:
        raise TCStringError(
            f"not base64url: character {bad.group()!r} at offset {bad.start()} of segment {index}"
        )
    return "".join(map(_SIXBITS.__getitem__, segment))


def _deciseconds(value: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=value * 100)


def _decode_core(bits: _Bits) -> dict[str, Any]:
    version = bits.read(6, "Version")
    if version != 2:
        raise TCStringError(f"unsupported version {version}")
    fields: dict[str, Any] = {"version": version}
    fields["created"] = _deciseconds(bits.read(36, "Created"))
    fields["last_updated"] = _deciseconds(bits.read(36, "LastUpdated"))
    fields["cmp_id"] = bits.read(12, "CmpId")
    fields["cmp_version"] = bits.read(12, "CmpVersion")
    fields["consent_screen"] = bits.read(6, "ConsentScreen")
    fields["consent_language"] = bits.letters("ConsentLanguage")
    fields["vendor_list_version"] = bits.read(12, "VendorListVersion")
    fields["tcf_policy_version"] = bits.read(6, "TcfPolicyVersion")
    fields["is_service_specific"] = bits.flag("IsServiceSpecific")
    fields["use_non_standard_texts"] = bits.flag("UseNonStandardTexts")
    fields["special_feature_optins"] = bits.id_set(12, "SpecialFeatureOptIns")
    fields["purpose_consents"] = bits.id_set(24, "PurposesConsent")
    fields["purpose_legitimate_interests"] = bits.id_set(24, "PurposesLITransparency")
    fields["purpose_one_treatment"] = bits.flag("PurposeOneTreatment")
    fields["publisher_cc"] = bits.letters("PublisherCC")
    fields["vendor_consents"] = bits.vendor_section("vendor consent")
    fields["vendor_legitimate_interests"] = bits.vendor_section("vendor legitimate interest")
    restrictions = []
    for _ in range(bits.read(12, "NumPubRestrictions")):
        purpose = bits.read(6, "publisher restriction purpose id")
        if purpose == 0:
            raise TCStringError("publisher restriction purpose id 0")
        kind = bits.read(2, "publisher restriction type")
        count = bits.read(12, "publisher restriction range count")
        vendors = bits.ranges(count, MAX_VENDOR_ID, "publisher restriction")
        restrictions.append(PublisherRestriction(purpose, kind, vendors))
    fields["publisher_restrictions"] = tuple(restrictions)
    return fields


def _decode_publisher_tc(bits: _Bits) -> PublisherTC:
    consents = bits.id_set(24, "PubPurposesConsent")
    interests = bits.id_set(24, "PubPurposesLITransparency")
    count = bits.read(6, "NumCustomPurposes")
    return PublisherTC(
        purpose_consents=consents,
        purpose_legitimate_interests=interests,
        num_custom_purposes=count,
        custom_purpose_consents=bits.id_set(count, "CustomPurposesConsent"),
        custom_purpose_legitimate_interests=bits.id_set(count, "CustomPurposesLITransparency"),
    )


def _decode(text: str) -> TCData:
    budget = [MAX_EXPANDED_VENDOR_IDS]
    segments = text.split(".")
    fields = _decode_core(_Bits(_segment_bits(segments[0], 0), "core", budget))
    seen: set[int] = set()
    for index, segment in enumerate(segments[1:], start=1):
        raw = _segment_bits(segment, index)
        kind = int(raw[:3].ljust(3, "0"), 2)
        if kind == SEGMENT_CORE or kind not in _SEGMENT_NAMES:
            raise TCStringError(f"unexpected segment type {kind} in segment {index}")
        if kind in seen:
            raise TCStringError(f"duplicate segment type {kind}")
        seen.add(kind)
        bits = _Bits(raw, _SEGMENT_NAMES[kind], budget)
        bits.read(3, "SegmentType")
        if kind == SEGMENT_DISCLOSED_VENDORS:
            fields["disclosed_vendors"] = bits.vendor_section("disclosed vendors")
        elif kind == SEGMENT_ALLOWED_VENDORS:
            fields["allowed_vendors"] = bits.vendor_section("allowed vendors")
        else:
            fields["publisher_tc"] = _decode_publisher_tc(bits)
    return TCData(**fields)


def decode_tc_string(s: str) -> TCData:
    """Decode a TC string. Every malformed input raises `TCStringError` with a reason."""
    if not isinstance(s, str):
        raise TCStringError(f"TC string must be a str, not {type(s).__name__}")
    if not s:
        raise TCStringError("empty TC string")
    if len(s) > MAX_TC_STRING_LENGTH:
        raise TCStringError(f"TC string too long ({len(s)} > {MAX_TC_STRING_LENGTH} characters)")
    try:
        return _decode(s)
    except TCStringError:
        raise
    except Exception as exc:  # the contract: no other exception escapes, whatever the input
        raise TCStringError(f"undecodable TC string ({type(exc).__name__})") from exc


# --- encoding -------------------------------------------------------------------------


def _uint(value: object, width: int, field: str) -> str:
    if type(value) is bool:
        value = int(value)
    if type(value) is not int or not 0 <= value < 1 << width:
        raise TCStringError(f"{field} must be an integer from 0 to {(1 << width) - 1}")
    return format(value, f"0{width}b") if width else ""


def _id_bits(ids: Iterable[int], width: int, field: str) -> str:
    bits = ["0"] * width
    for i in ids:
        if type(i) is not int or not 1 <= i <= width:
            raise TCStringError(f"{field} ids must be integers from 1 to {width}")
        bits[i - 1] = "1"
    return "".join(bits)


def _letters(value: object, field: str) -> str:
    if not isinstance(value, str) or len(value) != 2 or not value.isascii() or not value.isalpha():
        raise TCStringError(f"{field} must be two letters")
    return "".join(_uint(_LETTERS.index(c), 6, field) for c in value.upper())


def _to_deciseconds(value: object, field: str) -> int:
    if not isinstance(value, datetime):
        raise TCStringError(f"{field} must be a datetime")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    deciseconds = (delta.days * 86400 + delta.seconds) * 10 + delta.microseconds // 100_000
    if not 0 <= deciseconds < 1 << 36:
        raise TCStringError(f"{field} is outside the 36-bit decisecond range")
    return deciseconds


def _runs(ids: Iterable[int], field: str) -> list[tuple[int, int]]:
    ordered = sorted(ids)
    for i in ordered[:1] + ordered[-1:]:
        if type(i) is not int or i < 1:
            raise TCStringError(f"vendor id 0 or negative in {field}")
        if i > MAX_VENDOR_ID:
            raise TCStringError(f"max vendor id too large (> {MAX_VENDOR_ID}) in {field}")
    runs: list[tuple[int, int]] = []
    for i in ordered:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _range_bits(runs: list[tuple[int, int]], field: str) -> str:
    if len(runs) > MAX_RANGE_ENTRIES:
        raise TCStringError(f"too many range entries (> {MAX_RANGE_ENTRIES}) in {field}")
    out = [_uint(len(runs), 12, field)]
    for start, end in runs:
        if start == end:
            out.append("0" + format(start, "016b"))
        else:
            out.append("1" + format(start, "016b") + format(end, "016b"))
    return "".join(out)


def _vendor_section_bits(ids: Iterable[int], field: str, encoding: str) -> str:
    if not isinstance(ids, frozenset | set):
        raise TCStringError(f"{field} must be a frozenset of vendor ids")
    runs = _runs(ids, field)
    max_id = runs[-1][1] if runs else 0
    head = format(max_id, "016b")
    bitfield = "0" + _id_bits(ids, max_id, field)
    if encoding == "bitfield":
        return head + bitfield
    if encoding == "range" or len(runs) <= MAX_RANGE_ENTRIES:
        ranged = "1" + _range_bits(runs, field)
        if encoding == "range" or len(ranged) < len(bitfield):
            return head + ranged
    return head + bitfield


def _to_base64url(bits: str) -> str:
    bits += "0" * (-len(bits) % 6)
    return "".join(_ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def encode_tc_string(data: TCData, *, vendor_encoding: str = "auto") -> str:
    """Encode `data` as a TC string: core segment, then the optional segments it holds.

    `vendor_encoding` picks the vendor sections' encoding: "bitfield", "range", or "auto"
    (the shorter one, as the spec recommends). Publisher restrictions always use ranges.
    Data that cannot be encoded raises `TCStringError`.
    """
    if not isinstance(data, TCData):
        raise TCStringError(f"expected TCData, not {type(data).__name__}")
    if vendor_encoding not in ("auto", "bitfield", "range"):
        raise TCStringError(f"unknown vendor encoding {vendor_encoding!r}")
    if data.version != 2:
        raise TCStringError(f"unsupported version {data.version}")
    core = [
        _uint(2, 6, "version"),
        _uint(_to_deciseconds(data.created, "created"), 36, "created"),
        _uint(_to_deciseconds(data.last_updated, "last_updated"), 36, "last_updated"),
        _uint(data.cmp_id, 12, "cmp_id"),
        _uint(data.cmp_version, 12, "cmp_version"),
        _uint(data.consent_screen, 6, "consent_screen"),
        _letters(data.consent_language, "consent_language"),
        _uint(data.vendor_list_version, 12, "vendor_list_version"),
        _uint(data.tcf_policy_version, 6, "tcf_policy_version"),
        _uint(data.is_service_specific, 1, "is_service_specific"),
        _uint(data.use_non_standard_texts, 1, "use_non_standard_texts"),
        _id_bits(data.special_feature_optins, 12, "special_feature_optins"),
        _id_bits(data.purpose_consents, 24, "purpose_consents"),
        _id_bits(data.purpose_legitimate_interests, 24, "purpose_legitimate_interests"),
        _uint(data.purpose_one_treatment, 1, "purpose_one_treatment"),
        _letters(data.publisher_cc, "publisher_cc"),
        _vendor_section_bits(data.vendor_consents, "vendor_consents", vendor_encoding),
        _vendor_section_bits(
            data.vendor_legitimate_interests, "vendor_legitimate_interests", vendor_encoding
        ),
        _uint(len(data.publisher_restrictions), 12, "number of publisher restrictions"),
    ]
    for entry in data.publisher_restrictions:
        if not isinstance(entry, tuple) or len(entry) != 3:
            raise TCStringError("publisher restrictions are (purpose_id, type, vendor ids)")
        purpose, kind, vendors = entry
        if type(purpose) is not int or not 1 <= purpose <= 63:
            raise TCStringError("publisher restriction purpose id must be from 1 to 63")
        if not isinstance(vendors, frozenset | set):
            raise TCStringError("publisher restriction vendor ids must be a frozenset")
        core.append(_uint(purpose, 6, "publisher restriction purpose id"))
        core.append(_uint(kind, 2, "publisher restriction type"))
        core.append(_range_bits(_runs(vendors, "publisher restriction"), "publisher restriction"))
    segments = [_to_base64url("".join(core))]
    if data.disclosed_vendors is not None:
        bits = _vendor_section_bits(data.disclosed_vendors, "disclosed_vendors", vendor_encoding)
        segments.append(_to_base64url("001" + bits))
    if data.allowed_vendors is not None:
        bits = _vendor_section_bits(data.allowed_vendors, "allowed_vendors", vendor_encoding)
        segments.append(_to_base64url("010" + bits))
    if data.publisher_tc is not None:
        segments.append(_to_base64url("011" + _publisher_tc_bits(data.publisher_tc)))
    return ".".join(segments)


def _publisher_tc_bits(pub: PublisherTC) -> str:
    if not isinstance(pub, PublisherTC):
        raise TCStringError("publisher_tc must be PublisherTC")
    count = pub.num_custom_purposes
    return "".join(
        (
            _id_bits(pub.purpose_consents, 24, "publisher purpose_consents"),
            _id_bits(pub.purpose_legitimate_interests, 24, "publisher purpose LI"),
            _uint(count, 6, "num_custom_purposes"),
            _id_bits(pub.custom_purpose_consents, count, "custom_purpose_consents"),
            _id_bits(pub.custom_purpose_legitimate_interests, count, "custom purpose LI"),
        )
    )

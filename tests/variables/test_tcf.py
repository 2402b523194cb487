"""TC string decoding, encoding and the purpose/vendor check.

Literal TC strings come from public sources, with the field values those sources document:

- IAB spec "Consent string and vendor list formats v2" (InteractiveAdvertisingBureau/
  GDPR-Transparency-and-Consent-Framework, TCFv2/...formats v2.md): the service-specific
  example `CLcVDx...` with a publisher TC segment, the OOB examples `COvFyGB...` and
  `COw4XqL...`; field values for `CLcVDx...` from peczenyj/GDPR-IAB-TCFv2 `t/01-parse.t`.
- peczenyj/GDPR-IAB-TCFv2 `t/01-parse.t` (range encoding, publisher restrictions, custom
  purposes) and `t/05-tcf-v23.t` (disclosed vendors, policy version 5).
- travelaudience/go-iabtcf `parse_test.go` (`COzcJx...`, range-encoded vendor 423).
- @iabtcf/cli README on npm (`COrVd1p...`).
"""

from __future__ import annotations

import dataclasses
import doctest
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from variables.tcf import (
    MAX_TC_STRING_LENGTH,
    PublisherRestriction,
    PublisherTC,
    TCData,
    TCStringError,
    decode_tc_string,
    encode_tc_string,
)

# --- literal strings from public sources ----------------------------------------------

SPEC_CORE = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA"
SPEC_SERVICE_SPECIFIC = SPEC_CORE + ".argAC0gAAAAAAAAAAAA"
PERL_CUSTOM_PURPOSES = SPEC_CORE + ".YAAAAAAAAXA"
PERL_RANGE = (
    "COyfVVoOyfVVoADACHENAwCAAAAAAAAAAAAAE5QBgALgAqgD8AQACSwEygJyAnSAMABgAFkAgQCDASeAmYBOgAA"
)
PERL_RESTRICTION_1 = "COwAdDhOwAdDhN4ABAENAPCgAAQAAv___wAAAFP_AAp_4AI6ACACAA"
PERL_RESTRICTION_2 = (
    "COxPe2TOxPe2TALABAENAPCgAAAAAAAAAAAAAFAAAAoAAA4IACACAIABgACAFA4ADACAAIygAGADwAQBIAIAIB0"
    "AEAEBSACACAA"
)
PERL_V23 = (
    PERL_RESTRICTION_1
    + ".ILrtR_G__bXlv-bb36ftkeYxf9_hr7sQxBgbJs24FzLvW7JwX32E7NEzatqYKmRIAu3TBIQNtHJjURVChKIgVrz"
    "DsaEyUoTtKJ-BkiHMRY2NYCFxvm4tjWQCZ5vr_91d9mT-N7dr-2dzyy7hnv3a9_-S1WJidKYetHfv8bBKT-_IU9_x"
    "-_4v4_N7pE2-eS1v_tGvt639-4vP_dpvxt-7yffz____73_e7X__d_______Xf_7____________4AAA"
)
PERL_POLICY_5 = (
    "CP188cAQKFpAAAHABBENBSFsAP_gAEPgAAiQKqNX_H__bW9r8X73aft0eY1P9_j77uQxBhfJE-4FzLvW_JwXx2Ex"
    "NA36tqIKmRIEu3bBIQNlHJHUTVigaogVryHMak2cpTNKJ6BkiFMRM2dYCF5vm4tj-QKY5_r993dx2D-t_dv83dzyz"
    "81Hn3f5_2e0eLCdQ5-tDfv9bROb-9IPd_78v4v8_l_rk2_eT1n_tevr7D_-ft8__XW_9_fff_9Pn_-uB_-_3_vf_"
    "EFUwCTDQqIA-wJCQg0DCKBACoKwgIoFAQAAJA0QEAJgwKdgYALrCRACAFAAMEAIAAQZAAgAAAgAQiACQAoEAAEAgU"
    "AAYAEAwEABAwAAgAsBAIAAQHQMUwIIFAsIEjMioUwIQoEggJbKhBICgQVwhCLPAIgERMFAAgAAAVgACAsFgcSSAlQ"
    "kECXUG0AABAAgFEIFQgk9MAAwJmy1B4MG0ZWmAYPmCRDTAMgCIIyEAAAA.f_wACHwAAAAA"
)
GO_IABTCF = (
    "COzcJxTOzcJxTBcAAAENAiCMAP_AAAAAAAAADTwAQDTgAAAA.IF5EX2S5OI2tho2YdF7BEYYwfJxyigMgShgQIsS8"
    "NwIeFbBoGPmAAHBG4JAQAGBAkkACBAQIsHGBcCQABgIgRiRCMQEGMjzNKBJBAggkbI0FACCVmnkHS3ZCY70-6u__bA"
)
IABTCF_CLI = "COrVd1pOrVd1pACABCENAHCAAAAAAAAAAAiQAAAAAAAA"
SPEC_OOB_DISCLOSED = (
    "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAA"
    "CEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw"
)
_SPEC_OOB_VENDORS = (
    "IFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAgEQACEABAAAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAAQiRA"
    "EQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA"
)
SPEC_FOUR_SEGMENTS = ".".join(
    (
        "COw4XqLOw4XqLAAAAAENAXCAAAAAAAAAAAAAAAAAAAAA",
        _SPEC_OOB_VENDORS,
        "Q" + _SPEC_OOB_VENDORS[1:],
        "YAAAAAAAAAAAAAAAAAAA",
    )
)
V1_STRING = "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASAAAAAAAAAA"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ds(deciseconds: int) -> datetime:
    return EPOCH + timedelta(milliseconds=deciseconds * 100)


def test_spec_service_specific_example_matches_documented_fields():
    tc = decode_tc_string(SPEC_SERVICE_SPECIFIC)
    assert tc.version == 2
    assert tc.created == datetime(2008, 12, 7, 10, 4, 17, 700000, tzinfo=UTC)
    assert tc.created.timestamp() == pytest.approx(1228644257.7)
    assert tc.last_updated.timestamp() == pytest.approx(1326215413.4)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen) == (21, 7, 2)
    assert tc.consent_language == "EN"
    assert (tc.vendor_list_version, tc.tcf_policy_version) == (23, 2)
    assert tc.is_service_specific is True
    assert tc.use_non_standard_texts is False
    assert tc.purpose_one_treatment is False
    assert tc.publisher_cc == "KM"
    assert tc.purpose_consents == {1, 3, 9, 10}
    assert tc.purpose_legitimate_interests == {3, 4, 5, 8, 9, 10}
    assert tc.special_feature_optins == {2}
    assert tc.vendor_consents == {
        2, 3, 6, 7, 8, 10, 12, 13, 14, 15, 16, 21, 25, 27, 30, 31, 34, 35, 37, 38, 39, 42, 43,
        49, 52, 54, 55, 56, 57, 59, 60, 63, 64, 65, 66, 67, 68, 69, 73, 74, 76, 78, 83, 86, 87,
        89, 90, 92, 96, 99, 100, 106, 109, 110, 114, 115,
    }  # fmt: skip
    assert tc.vendor_legitimate_interests == {1, 9, 26, 27, 30, 36, 37, 43, 86, 97, 110, 113}
    assert tc.publisher_restrictions == ()
    assert tc.disclosed_vendors is None
    assert tc.publisher_tc == PublisherTC(
        purpose_consents=frozenset({2, 4, 6, 8, 9, 10}),
        purpose_legitimate_interests=frozenset({2, 4, 5, 7, 10}),
    )
    assert decode_tc_string(SPEC_CORE).publisher_tc is None


def test_publisher_tc_custom_purposes():
    pub = decode_tc_string(PERL_CUSTOM_PURPOSES).publisher_tc
    assert pub is not None
    assert pub.num_custom_purposes == 2
    assert pub.purpose_consents == pub.purpose_legitimate_interests == frozenset()
    assert pub.custom_purpose_consents == {1, 2}
    assert pub.custom_purpose_legitimate_interests == {1}


def test_range_encoded_vendor_sections():
    tc = decode_tc_string(PERL_RANGE)
    assert tc.created == tc.last_updated == datetime.fromtimestamp(1587946020, UTC)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen) == (3, 2, 7)
    assert (tc.consent_language, tc.vendor_list_version, tc.tcf_policy_version) == ("EN", 48, 2)
    assert tc.is_service_specific is False
    assert tc.publisher_cc == "AA"
    assert tc.purpose_consents == tc.purpose_legitimate_interests == frozenset()
    assert tc.vendor_consents == {23, 42, 126, 127, 128, 587, 613, 626}
    assert tc.vendor_legitimate_interests == {24, 44, 129, 130, 131, 591, 614, 628}


def test_go_iabtcf_vector_with_disclosed_vendors_segment():
    tc = decode_tc_string(GO_IABTCF)
    assert (tc.cmp_id, tc.consent_language, tc.vendor_list_version) == (92, "EN", 34)
    assert tc.tcf_policy_version == 2
    assert tc.purpose_consents == set(range(1, 11))
    assert tc.special_feature_optins == {1, 2}
    assert tc.publisher_cc == "AA"
    assert tc.vendor_consents == {423}
    assert tc.disclosed_vendors is not None
    assert 423 in tc.disclosed_vendors
    core_only = decode_tc_string(GO_IABTCF.split(".")[0])
    assert core_only == dataclasses.replace(tc, disclosed_vendors=None)


def test_iabtcf_cli_readme_vector():
    tc = decode_tc_string(IABTCF_CLI)
    assert (tc.cmp_id, tc.cmp_version, tc.consent_screen) == (2, 1, 2)
    assert (tc.consent_language, tc.publisher_cc) == ("EN", "ES")
    assert (tc.vendor_list_version, tc.tcf_policy_version) == (7, 2)
    assert tc.is_service_specific is False
    # "Mon Dec 09 2019 18:01:46 GMT-0800"
    assert tc.created == datetime(2019, 12, 10, 2, 1, 46, 500000, tzinfo=UTC)
    assert tc.vendor_consents == frozenset()


def test_publisher_restrictions_from_public_vectors():
    one = decode_tc_string(PERL_RESTRICTION_1)
    assert one.publisher_restrictions == (PublisherRestriction(7, 1, frozenset({32})),)
    assert one.restriction_types(7, 32) == {1}
    assert one.restriction_types(7, 7) == frozenset()
    assert one.restriction_types(5, 32) == frozenset()
    assert one.restriction_types(1, 284) == frozenset()

    two = decode_tc_string(PERL_RESTRICTION_2)
    assert two.restriction_types(1, 32) == {0}
    assert all(0 in two.restriction_types(2, v) for v in (32, 5, 11))
    assert two.restriction_types(2, 32) == {0, 1}
    assert two.restriction_types(2, 44) == frozenset()
    assert two.restriction_types(2, 500) == frozenset()
    assert two.allows([2], 32) == (False, "publisher does not allow TCF purpose 2 for vendor 32")
    assert any(r == (2, 1, frozenset({32})) for r in two.publisher_restrictions)
    assert (1, 1) not in {(r.purpose_id, r.restriction_type) for r in two.publisher_restrictions}


def test_v23_disclosed_vendors_and_policy_5():
    tc = decode_tc_string(PERL_V23)
    assert tc.disclosed_vendors is not None
    assert 284 in tc.disclosed_vendors
    assert 9999 not in tc.disclosed_vendors
    assert tc.allowed_vendors is None
    assert decode_tc_string(PERL_POLICY_5).tcf_policy_version == 5


def test_spec_oob_examples_decode():
    tc = decode_tc_string(SPEC_OOB_DISCLOSED)
    assert tc.disclosed_vendors
    assert tc.allowed_vendors is None
    four = decode_tc_string(SPEC_FOUR_SEGMENTS)
    assert four.disclosed_vendors == four.allowed_vendors != frozenset()
    assert four.publisher_tc == PublisherTC()


# --- strings built with the encoder ---------------------------------------------------

GOOGLE, LINKEDIN, TIKTOK, MICROSOFT = 755, 804, 986, 1126


def accept_all(**overrides) -> TCData:
    day = datetime(2025, 11, 20, tzinfo=UTC)
    fields = dict(
        created=day,
        last_updated=day,
        cmp_id=300,
        cmp_version=4,
        consent_screen=1,
        consent_language="DE",
        vendor_list_version=98,
        tcf_policy_version=5,
        special_feature_optins=frozenset({1, 2}),
        purpose_consents=frozenset(range(1, 12)),
        purpose_legitimate_interests=frozenset({2, 7, 8, 9, 10, 11}),
        publisher_cc="DE",
        vendor_consents=frozenset(range(1, 1400)) - {3, 4, 5},
        vendor_legitimate_interests=frozenset({GOOGLE, LINKEDIN, TIKTOK}),
        disclosed_vendors=frozenset(range(1, 1400)),
    )
    fields.update(overrides)
    return TCData(**fields)


def reject_all(**overrides) -> TCData:
    rejected = dict(
        special_feature_optins=frozenset(),
        purpose_consents=frozenset(),
        vendor_consents=frozenset(),
    )
    return accept_all(**(rejected | overrides))


@pytest.mark.parametrize("encoding", ["auto", "bitfield", "range"])
@pytest.mark.parametrize("make", [accept_all, reject_all])
def test_encoder_round_trip_realistic(make, encoding):
    data = make()
    text = encode_tc_string(data, vendor_encoding=encoding)
    assert re.fullmatch(r"C[A-Za-z0-9_-]+\.I[A-Za-z0-9_-]+", text)
    assert decode_tc_string(text) == data


def _is_range_bit(text: str) -> str:
    bits = "".join(
        format("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(c), "06b")
        for c in text.split(".")[0]
    )
    return bits[213 + 16]  # vendor consent section starts at bit 213, after MaxVendorId


def test_bitfield_and_range_encodings_are_both_used_and_equivalent():
    data = accept_all(vendor_consents=frozenset({GOOGLE, 1, 2, 3, 900}))
    as_bits = encode_tc_string(data, vendor_encoding="bitfield")
    as_ranges = encode_tc_string(data, vendor_encoding="range")
    assert _is_range_bit(as_bits) == "0"
    assert _is_range_bit(as_ranges) == "1"
    assert len(as_ranges) < len(as_bits)
    assert encode_tc_string(data) == as_ranges  # auto picks the shorter one
    assert decode_tc_string(as_bits) == decode_tc_string(as_ranges) == data
    dense = accept_all(vendor_consents=frozenset(range(1, 200, 2)))
    assert _is_range_bit(encode_tc_string(dense)) == "0"


def test_encoder_publisher_restrictions_and_segments():
    data = accept_all(
        publisher_restrictions=(
            PublisherRestriction(3, 0, frozenset({GOOGLE})),
            PublisherRestriction(7, 1, frozenset(range(700, 800)) | {TIKTOK}),
            PublisherRestriction(2, 2, frozenset()),
        ),
        allowed_vendors=frozenset({8}),
        publisher_tc=PublisherTC(
            purpose_consents=frozenset({1}),
            num_custom_purposes=3,
            custom_purpose_consents=frozenset({3}),
        ),
    )
    text = encode_tc_string(data)
    types = [ALPHABET.index(s[0]) >> 3 for s in text.split(".")[1:]]
    assert types == [1, 2, 3]
    assert decode_tc_string(text) == data


def test_encoder_rejects_what_cannot_be_encoded():
    with pytest.raises(TCStringError, match=r"max vendor id too large \(> 65535\)"):
        encode_tc_string(accept_all(vendor_consents=frozenset({70000})))
    with pytest.raises(TCStringError, match="vendor id 0"):
        encode_tc_string(accept_all(disclosed_vendors=frozenset({0, 5})))
    with pytest.raises(TCStringError, match="consent_language must be two letters"):
        encode_tc_string(accept_all(consent_language="en-GB"))
    with pytest.raises(TCStringError, match="purpose_consents ids must be integers from 1 to 24"):
        encode_tc_string(accept_all(purpose_consents=frozenset({25})))
    with pytest.raises(TCStringError, match="cmp_id must be an integer from 0 to 4095"):
        encode_tc_string(accept_all(cmp_id=4096))
    with pytest.raises(TCStringError, match="unsupported version 1"):
        encode_tc_string(accept_all(version=1))
    with pytest.raises(TCStringError, match="unknown vendor encoding"):
        encode_tc_string(accept_all(), vendor_encoding="ranges")
    with pytest.raises(TCStringError, match="expected TCData"):
        encode_tc_string("CO...")  # type: ignore[arg-type]
    with pytest.raises(TCStringError, match="created is outside"):
        encode_tc_string(accept_all(created=datetime(1960, 1, 1, tzinfo=UTC)))
    sparse = frozenset(range(1, 20000, 2))  # 10000 runs: more than NumEntries can count
    with pytest.raises(TCStringError, match=r"too many range entries \(> 4095\)"):
        encode_tc_string(accept_all(vendor_consents=sparse), vendor_encoding="range")
    assert decode_tc_string(encode_tc_string(accept_all(vendor_consents=sparse))).vendor_consents
    bad = accept_all(publisher_restrictions=(PublisherRestriction(0, 0, frozenset({1})),))
    with pytest.raises(TCStringError, match="publisher restriction purpose id"):
        encode_tc_string(bad)


def test_naive_datetimes_are_taken_as_utc():
    naive = accept_all(created=datetime(2025, 1, 2), last_updated=datetime(2025, 1, 2))
    tc = decode_tc_string(encode_tc_string(naive))
    assert tc.created == datetime(2025, 1, 2, tzinfo=UTC)


# --- allows() ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "purposes", "vendor", "expected"),
    [
        (accept_all(), [1, 3, 4], GOOGLE, (True, "granted")),
        (accept_all(), [], None, (True, "granted")),
        (accept_all(), [1, 7], MICROSOFT, (True, "granted")),
        (accept_all(purpose_consents=frozenset({1, 3})), [1, 3, 4], GOOGLE,
         (False, "TCF purpose 4 not consented")),
        (accept_all(), [1], 4, (False, "vendor 4 has no consent")),
        (accept_all(), [], 4, (False, "vendor 4 has no consent")),
        (accept_all(vendor_consents=frozenset()), [1, 3, 4], GOOGLE,
         (False, "vendor 755 has no consent")),
        (reject_all(), [1, 7], GOOGLE, (False, "TCF purpose 1 not consented")),
        (reject_all(), [7], None, (False, "TCF purpose 7 not consented")),
        (accept_all(publisher_restrictions=(PublisherRestriction(4, 0, frozenset({GOOGLE})),)),
         [1, 4], GOOGLE, (False, "publisher does not allow TCF purpose 4 for vendor 755")),
        (accept_all(publisher_restrictions=(PublisherRestriction(4, 0, frozenset({GOOGLE})),)),
         [1, 4], LINKEDIN, (True, "granted")),
        (accept_all(publisher_restrictions=(PublisherRestriction(4, 0, frozenset({GOOGLE})),)),
         [1, 4], None, (True, "granted")),
        (accept_all(publisher_restrictions=(PublisherRestriction(7, 2, frozenset({GOOGLE})),)),
         [7], GOOGLE,
         (False, "publisher requires legitimate interest for TCF purpose 7 and vendor 755")),
        (accept_all(), [0], None, (False, "0 is not a TCF purpose id")),
        (accept_all(), [1], 0, (False, "vendor id 0 is not a valid TCF vendor id")),
    ],
)  # fmt: skip
def test_allows(data, purposes, vendor, expected):
    assert data.allows(purposes, vendor) == expected


def test_allows_legitimate_interest_only_when_asked_and_only_for_li_purposes():
    # the user rejected consent but did not object to legitimate interest
    tc = reject_all(purpose_consents=frozenset({1}), vendor_consents=frozenset({GOOGLE}))
    assert tc.allows([1, 7], GOOGLE) == (False, "TCF purpose 7 not consented")
    assert tc.allows([1, 7], GOOGLE, allow_legitimate_interest=True) == (True, "granted")
    # LI never counts for purposes 1, 3-6, even with the (invalid since v2.2) bit set
    li_everywhere = reject_all(purpose_legitimate_interests=frozenset(range(1, 12)))
    assert li_everywhere.allows([3], None, allow_legitimate_interest=True) == (
        False,
        "TCF purpose 3 not consented",
    )
    # LI needs the vendor's LI bit; purposes met by consent still need vendor consent
    only_li = reject_all(vendor_legitimate_interests=frozenset({LINKEDIN}))
    assert only_li.allows([7], LINKEDIN, allow_legitimate_interest=True) == (True, "granted")
    assert only_li.allows([7], GOOGLE, allow_legitimate_interest=True) == (
        False,
        "vendor 755 has no legitimate interest",
    )
    # restriction type 1 (require consent) makes LI unusable
    required = dataclasses.replace(
        only_li, publisher_restrictions=(PublisherRestriction(7, 1, frozenset({LINKEDIN})),)
    )
    assert required.allows([7], LINKEDIN, allow_legitimate_interest=True) == (
        False,
        "TCF purpose 7 not consented",
    )


def test_not_allowed_restriction_wins_whatever_the_order():
    restrictions = (
        PublisherRestriction(7, 1, frozenset({GOOGLE})),
        PublisherRestriction(7, 0, frozenset({GOOGLE, TIKTOK})),
    )
    tc = accept_all(publisher_restrictions=restrictions)
    assert tc.restriction_types(7, GOOGLE) == {0, 1}
    assert tc.allows([1, 7], GOOGLE) == (
        False,
        "publisher does not allow TCF purpose 7 for vendor 755",
    )
    both = accept_all(
        publisher_restrictions=(
            PublisherRestriction(7, 1, frozenset({GOOGLE})),
            PublisherRestriction(7, 2, frozenset({GOOGLE})),
        )
    )
    assert both.allows([7], GOOGLE, allow_legitimate_interest=True) == (
        False,
        "publisher requires legitimate interest for TCF purpose 7 and vendor 755",
    )


def test_allows_on_decoded_public_strings():
    tc = decode_tc_string(SPEC_CORE)
    assert tc.allows([1, 3, 9, 10], 284) == (False, "vendor 284 has no consent")
    assert tc.allows([1, 3], 115) == (True, "granted")
    assert tc.allows([1, 2], 115) == (False, "TCF purpose 2 not consented")
    assert tc.allows(iter([1]), None) == (True, "granted")


# --- malformed input ----------------------------------------------------------------

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(bits: str) -> str:
    bits += "0" * (-len(bits) % 6)
    return "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def u(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def core_head(*, version: int = 2, language: tuple[int, int] = (4, 13)) -> str:
    """Core fields up to PublisherCC, written from the spec table (independent of tcf.py)."""
    return "".join(
        (
            u(version, 6), u(16_000_000_000, 36), u(16_000_000_000, 36), u(7, 12), u(1, 12),
            u(1, 6), u(language[0], 6) + u(language[1], 6), u(90, 12), u(5, 6), "1", "0",
            u(0, 12), u(1 << 23, 24), u(0, 24), "0", u(3, 6) + u(4, 6),
        )
    )  # fmt: skip


EMPTY_VENDORS = u(0, 16) + "0"
NO_RESTRICTIONS = u(0, 12)


def ranges(*entries: tuple[int, int]) -> str:
    out = u(len(entries), 12)
    for start, end in entries:
        out += ("1" + u(start, 16) + u(end, 16)) if start != end else ("0" + u(start, 16))
    return out


def core(vendors: str = EMPTY_VENDORS, restrictions: str = NO_RESTRICTIONS, **head) -> str:
    return b64(core_head(**head) + vendors + EMPTY_VENDORS + restrictions)


def test_hand_built_core_decodes():
    assert len(core_head()) == 213
    tc = decode_tc_string(core(u(10, 16) + "1" + ranges((2, 4), (9, 9))))
    assert tc.vendor_consents == {2, 3, 4, 9}
    assert (tc.consent_language, tc.publisher_cc, tc.purpose_consents) == ("EN", "DE", {1})
    assert tc.created == ds(16_000_000_000)


GOOD = core()
TOO_MANY_IDS = ranges((1, 65535))[12:]  # one range entry covering every vendor id
PERL_CRAFTED_BITFIELD = "COvcSpYOvcSpYC9AAAENAPCAAAAAAAAAAAAAAFAAAAA"
PERL_CRAFTED_RANGE = "COvcSpYOvcSpYC9AAAENAPCAAAAAAAAAAAAAAFQBgAAgABAACAAEAAQAAgAA"


def restriction_bits(purpose: int, entries: str, count: int = 1) -> str:
    return u(count, 12) + (u(purpose, 6) + "00" + entries) * count


MALFORMED = [
    (None, "TC string must be a str, not NoneType"),
    (42, "TC string must be a str, not int"),
    (SPEC_CORE.encode(), "TC string must be a str, not bytes"),
    ("", "empty TC string"),
    ("C" * (MAX_TC_STRING_LENGTH + 1), "TC string too long (65537 > 65536 characters)"),
    ("CO!", "not base64url: character '!' at offset 2 of segment 0"),
    (SPEC_CORE + "=", "not base64url: character '=' at offset 82 of segment 0"),
    (" " + SPEC_CORE, "not base64url: character ' ' at offset 0 of segment 0"),
    (SPEC_CORE + ".a+gAC0g", "not base64url: character '+' at offset 1 of segment 1"),
    (V1_STRING, "unsupported version 1"),
    ("DOEFEAyOEFEAyAHABDENAI4AAAB9vABAASAAAAAAAAAA", "unsupported version 3"),
    ("A" * 47, "unsupported version 0"),
    ("C", "truncated core segment at bit 6 (Created)"),
    ("Clc", "truncated core segment at bit 6 (Created)"),
    (SPEC_CORE[:40], "truncated core segment at bit 230 (vendor consent bitfield of 115 bits)"),
    (SPEC_CORE[:-4], "truncated core segment at bit 362 (vendor legitimate interest bitfield"),
    (PERL_CRAFTED_BITFIELD, "truncated core segment at bit 257 (NumPubRestrictions)"),
    (PERL_CRAFTED_RANGE, "truncated core segment at bit 360 (vendor legitimate interest"),
    (GOOD + ".", "empty segment 1"),
    (GOOD + "..Y", "empty segment 1"),
    (GOOD + "." + b64("101" + u(0, 40)), "unexpected segment type 5 in segment 1"),
    (GOOD + "." + b64("000" + u(0, 40)), "unexpected segment type 0 in segment 1"),
    (GOOD + ".I.I", "truncated disclosed vendors segment at bit 3"),
    (GOOD + ".IAAA.IAAA", "duplicate segment type 1"),
    (GOOD + ".YAAA", "truncated publisher TC segment at bit 3 (PubPurposesConsent)"),
    (
        GOOD + "." + b64("011" + u(0, 48) + u(5, 6) + "11"),
        "truncated publisher TC segment at bit 57 (CustomPurposesConsent)",
    ),
    (core(u(10, 16) + "1" + ranges((5, 3))), "range entry end < start (3 < 5) in vendor consent"),
    (core(u(10, 16) + "1" + ranges((0, 3))), "vendor id 0 in vendor consent range entry"),
    (core(u(10, 16) + "1" + ranges((0, 0))), "vendor id 0 in vendor consent range entry"),
    (core(u(10, 16) + "1" + ranges((11, 11))), "range entry end 11 > max vendor id 10 in vendor"),
    (core(u(0, 16) + "1" + ranges((1, 1))), "range entry end 1 > max vendor id 0 in vendor"),
    (
        core(restrictions=restriction_bits(0, ranges((1, 1)))),
        "publisher restriction purpose id 0",
    ),
    (
        core(restrictions=restriction_bits(2, ranges((9, 2)))),
        "range entry end < start (2 < 9) in publisher restriction",
    ),
    (
        core(restrictions=restriction_bits(2, u(3, 12))),
        "truncated core segment at bit 280 (publisher restriction range start)",
    ),
    (
        core(restrictions=restriction_bits(2, u(1, 12) + TOO_MANY_IDS, count=40)),
        "too many vendor ids (> 131072) in range sections",
    ),
    (core(language=(4, 26)), "ConsentLanguage is not two letters (4, 26)"),
    (core(language=(63, 0)), "ConsentLanguage is not two letters (63, 0)"),
]


@pytest.mark.parametrize(("text", "reason"), MALFORMED)
def test_malformed_input_raises_tcstringerror_with_reason(text, reason):
    with pytest.raises(TCStringError) as info:
        decode_tc_string(text)
    assert str(info.value).startswith(reason)
    assert isinstance(info.value, ValueError)


def test_restriction_with_huge_but_allowed_range_decodes():
    restrictions = u(1, 12) + u(1, 6) + "00" + ranges((1, 65535))
    tc = decode_tc_string(core(restrictions=restrictions))
    assert tc.publisher_restrictions[0].vendor_ids == frozenset(range(1, 65536))


def test_trailing_padding_bits_and_ignored_extra_bits():
    assert decode_tc_string(GOOD + "A") == decode_tc_string(GOOD)


# --- property tests -----------------------------------------------------------------

vendor_ids = st.frozensets(
    st.one_of(st.integers(1, 1500), st.integers(1, 65535)), max_size=40
) | st.builds(lambda a, n: frozenset(range(a, a + n)), st.integers(1, 3000), st.integers(0, 400))
purpose_ids = st.frozensets(st.integers(1, 24))
letters = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
timestamps = st.integers(0, (1 << 36) - 1).map(ds)


@st.composite
def publisher_tcs(draw) -> PublisherTC:
    n = draw(st.integers(0, 63))
    custom = st.frozensets(st.integers(1, n)) if n else st.just(frozenset())
    return PublisherTC(
        purpose_consents=draw(purpose_ids),
        purpose_legitimate_interests=draw(purpose_ids),
        num_custom_purposes=n,
        custom_purpose_consents=draw(custom),
        custom_purpose_legitimate_interests=draw(custom),
    )


tc_data = st.builds(
    TCData,
    created=timestamps,
    last_updated=timestamps,
    cmp_id=st.integers(0, 4095),
    cmp_version=st.integers(0, 4095),
    consent_screen=st.integers(0, 63),
    consent_language=letters,
    vendor_list_version=st.integers(0, 4095),
    tcf_policy_version=st.integers(0, 63),
    is_service_specific=st.booleans(),
    use_non_standard_texts=st.booleans(),
    special_feature_optins=st.frozensets(st.integers(1, 12)),
    purpose_consents=purpose_ids,
    purpose_legitimate_interests=purpose_ids,
    purpose_one_treatment=st.booleans(),
    publisher_cc=letters,
    vendor_consents=vendor_ids,
    vendor_legitimate_interests=vendor_ids,
    publisher_restrictions=st.lists(
        st.builds(PublisherRestriction, st.integers(1, 63), st.integers(0, 3), vendor_ids),
        max_size=4,
    ).map(tuple),
    disclosed_vendors=st.none() | vendor_ids,
    allowed_vendors=st.none() | vendor_ids,
    publisher_tc=st.none() | publisher_tcs(),
)


@settings(max_examples=150, deadline=None)
@given(data=tc_data, encoding=st.sampled_from(["auto", "bitfield", "range"]))
def test_round_trip(data, encoding):
    assert decode_tc_string(encode_tc_string(data, vendor_encoding=encoding)) == data


def _decodes_or_reasons(value) -> None:
    try:
        result = decode_tc_string(value)
    except TCStringError as exc:
        reason = str(exc)
    else:
        assert isinstance(result, TCData)
        return
    assert not reason.startswith("undecodable"), f"unexpected internal error: {reason}"


@settings(max_examples=300, deadline=None)
@given(st.text() | st.binary() | st.integers() | st.none())
def test_any_value_gives_tcdata_or_tcstringerror(value):
    _decodes_or_reasons(value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET + ".", min_size=1, max_size=400))
def test_any_base64url_text_gives_tcdata_or_tcstringerror(value):
    _decodes_or_reasons("C" + value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([SPEC_SERVICE_SPECIFIC, PERL_RANGE, PERL_RESTRICTION_2, GO_IABTCF]),
    cut=st.integers(0, 400),
    pos=st.integers(0, 400),
    char=st.sampled_from(ALPHABET + "."),
)
def test_mutated_real_strings_give_tcdata_or_tcstringerror(base, cut, pos, char):
    mutated = base[:pos] + char + base[pos + 1 :]
    _decodes_or_reasons(mutated[: max(1, len(mutated) - cut)])


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=600))
def test_random_bits_after_a_valid_header_give_tcdata_or_tcstringerror(raw):
    bits = "".join(format(b, "08b") for b in raw)
    _decodes_or_reasons(b64(u(2, 6) + bits))


def test_worst_case_input_is_bounded():
    # a 64 KiB string of range entries: one restriction, 4095 full ranges, stops on the budget
    restrictions = u(1, 12) + u(1, 6) + "00" + u(4095, 12) + TOO_MANY_IDS * 4095
    text = core(restrictions=restrictions)
    assert len(text) <= MAX_TC_STRING_LENGTH
    with pytest.raises(TCStringError, match="too many vendor ids"):
        decode_tc_string(text)


# --- the examples in docs/consent.md ------------------------------------------------


def test_docs_consent_examples_run():
    doc = Path(__file__).parents[2] / "docs" / "consent.md"
    parser = doctest.DocTestParser()
    test = parser.get_doctest(doc.read_text(), {}, "consent.md", str(doc), 0)
    assert test.examples, "docs/consent.md has no >>> examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0

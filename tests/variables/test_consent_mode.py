"""Consent Mode v2 `gcs`/`gcd` parsing and the `Sec-GPC` header.

Real-world values: `13l3l3l3l1` / `13l3l3l3l1l1` (no consent mode, seen on countless Google
hits) and `11p1p1p1p5` (all denied by default, from giancampo.com "Understanding the gcd
parameter in GA4 network requests", summarising Markus Baersch's decode on simoahava.com).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from variables.consent_mode import (
    GCD_LETTERS,
    SIGNALS,
    ConsentModeError,
    GcdSignal,
    gpc_from_header,
    hit_consent,
    parse_gcd,
    parse_gcd_signals,
    parse_gcs,
    parse_google_consent,
)

ALL_GRANTED = dict.fromkeys(SIGNALS, "granted")
ALL_DENIED = dict.fromkeys(SIGNALS, "denied")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("G100", {"ad_storage": "denied", "analytics_storage": "denied"}),
        ("G101", {"ad_storage": "denied", "analytics_storage": "granted"}),
        ("G110", {"ad_storage": "granted", "analytics_storage": "denied"}),
        ("G111", {"ad_storage": "granted", "analytics_storage": "granted"}),
        ("G1--", {}),
        ("G1-1", {"analytics_storage": "granted"}),
        ("G10-", {"ad_storage": "denied"}),
    ],
)
def test_parse_gcs(value, expected):
    assert parse_gcs(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "malformed gcs ''"),
        ("G1", "malformed gcs 'G1'"),
        ("G112", "malformed gcs 'G112'"),
        ("G0 11", "malformed gcs 'G0 11'"),
        ("G000", "malformed gcs 'G000'"),
        ("g111", "malformed gcs 'g111'"),
        ("G1110", "malformed gcs 'G1110'"),
        (" G111", "malformed gcs ' G111'"),
        ("G1\u0661\u0661", "malformed gcs"),  # Arabic-Indic digits are not 0/1
        ("G" * 65, "gcs too long (65 > 64 characters)"),
        (None, "gcs must be a str, not NoneType"),
        (111, "gcs must be a str, not int"),
        (b"G111", "gcs must be a str, not bytes"),
    ],
)
def test_parse_gcs_malformed(value, reason):
    with pytest.raises(ConsentModeError) as info:
        parse_gcs(value)
    assert str(info.value).startswith(reason)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("letter", "default", "update", "effective", "status"),
    [
        ("l", None, None, None, "not-set"),
        ("m", None, "denied", "denied", "denied"),
        ("n", None, "granted", "granted", "granted"),
        ("p", "denied", None, "denied", "default-denied"),
        ("q", "denied", "denied", "denied", "denied"),
        ("r", "denied", "granted", "granted", "granted"),
        ("t", "granted", None, "granted", "default-granted"),
        ("u", "granted", "denied", "denied", "denied"),
        ("v", "granted", "granted", "granted", "granted"),
    ],
)
def test_gcd_letter_matrix(letter, default, update, effective, status):
    signal = parse_gcd_signals(f"11{letter}1{letter}1{letter}1{letter}5")["ad_personalization"]
    assert signal == GcdSignal(letter, default, update)
    assert (signal.effective, signal.status) == (effective, status)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13l3l3l3l1", {}),
        ("13l3l3l3l1l1", {}),
        ("11p1p1p1p5", ALL_DENIED),
        ("11r1r1r1r5", ALL_GRANTED),
        ("11t1t1t1t5", ALL_GRANTED),
        ("11q1q1q1q5", ALL_DENIED),
        (
            "11r1p1n1l5",
            {"ad_storage": "granted", "analytics_storage": "denied", "ad_user_data": "granted"},
        ),
        ("11v1u1m1t5l1", {**ALL_GRANTED, "analytics_storage": "denied", "ad_user_data": "denied"}),
        ("11l1l1l1v5Z9", {"ad_personalization": "granted"}),  # trailing pairs are ignored
    ],
)
def test_parse_gcd(value, expected):
    assert parse_gcd(value) == expected


def test_parse_gcd_signals_order_and_status():
    states = parse_gcd_signals("11r1p1n1l5")
    assert list(states) == list(SIGNALS)
    assert [s.status for s in states.values()] == [
        "granted",
        "default-denied",
        "granted",
        "not-set",
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "malformed gcd ''"),
        ("13l3l3l3", "malformed gcd '13l3l3l3'"),
        ("13l3l3l3l", "malformed gcd '13l3l3l3l'"),
        ("23l3l3l3l1", "malformed gcd '23l3l3l3l1'"),
        ("1al3l3l3l1", "malformed gcd '1al3l3l3l1'"),
        ("13ll3l3l31", "malformed gcd '13ll3l3l31'"),
        ("13l3l3l3l1 ", "malformed gcd '13l3l3l3l1 '"),
        ("13l3l3\u00e93l1", "malformed gcd"),
        ("13l3l3R3l5l1", "unknown gcd letter 'R' for ad_user_data"),  # seen on real hits
        ("11a1p1p1p5", "unknown gcd letter 'a' for ad_storage"),
        ("11p1x1p1p5", "unknown gcd letter 'x' for analytics_storage"),
        ("11p1p1p1P5", "unknown gcd letter 'P' for ad_personalization"),
        ("11" + "l1" * 40, "gcd too long (82 > 64 characters)"),
        (None, "gcd must be a str, not NoneType"),
        (["11p1p1p1p5"], "gcd must be a str, not list"),
    ],
)
def test_parse_gcd_malformed(value, reason):
    with pytest.raises(ConsentModeError) as info:
        parse_gcd(value)
    assert str(info.value).startswith(reason)


@pytest.mark.parametrize(
    ("gcs", "gcd", "expected"),
    [
        (None, None, {}),
        ("G111", None, {"ad_storage": "granted", "analytics_storage": "granted"}),
        (None, "11r1r1r1r5", ALL_GRANTED),
        ("G111", "11r1r1r1r5", ALL_GRANTED),
        ("G1--", "11p1p1r1r5", {**ALL_DENIED, "ad_user_data": "granted",
                                "ad_personalization": "granted"}),
        # disagreement: denied wins whichever parameter says it
        ("G101", "11r1r1r1r5", {**ALL_GRANTED, "ad_storage": "denied"}),
        ("G111", "11p1r1r1r5", {**ALL_GRANTED, "ad_storage": "denied"}),
        ("G110", "13l3l3l3l1", {"ad_storage": "granted", "analytics_storage": "denied"}),
    ],
)  # fmt: skip
def test_parse_google_consent(gcs, gcd, expected):
    assert parse_google_consent(gcs=gcs, gcd=gcd) == expected


def test_parse_google_consent_malformed_part_raises():
    with pytest.raises(ConsentModeError, match="malformed gcs"):
        parse_google_consent(gcs="G2", gcd="11r1r1r1r5")
    with pytest.raises(ConsentModeError, match="unknown gcd letter"):
        parse_google_consent(gcs="G111", gcd="11R1r1r1r5")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        (" 1\t", True),
        (b"1", True),
        (None, False),
        ("", False),
        ("0", False),
        ("true", False),
        ("1, 1", False),
        ("11", False),
        ("\u0661", False),  # Arabic-Indic one
        (b"\xff", False),
        (1, False),
    ],
)
def test_gpc_from_header(value, expected):
    assert gpc_from_header(value) is expected


# --- property tests -----------------------------------------------------------------

letters = st.sampled_from(sorted(GCD_LETTERS))
digits = st.sampled_from("0123456789")


@settings(max_examples=200, deadline=None)
@given(
    first=digits,
    pairs=st.lists(st.tuples(letters, digits), min_size=4, max_size=6),
    tail=st.lists(st.tuples(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCZ"), digits), max_size=4),
)
def test_well_formed_gcd_always_parses(first, pairs, tail):
    value = "1" + first + "".join(a + b for a, b in pairs + tail)
    states = parse_gcd_signals(value)
    for (letter, _), signal in zip(pairs, SIGNALS, strict=False):
        assert states[signal].letter == letter
        assert states[signal].effective == parse_gcd(value).get(signal)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.binary(max_size=20) | st.integers() | st.none())
def test_any_value_parses_or_raises_consent_mode_error(value):
    for parse in (parse_gcs, parse_gcd, parse_gcd_signals):
        try:
            result = parse(value)
        except ConsentModeError:
            continue
        assert set(result) <= set(SIGNALS)
    assert gpc_from_header(value) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789lmnpqrtuvRG-x ", max_size=16))
def test_near_miss_values_parse_or_raise_consent_mode_error(value):
    for candidate in (value, "G1" + value, "11" + value):
        for parse in (parse_gcs, parse_gcd):
            try:
                result = parse(candidate)
            except ConsentModeError:
                continue
            assert set(result.values()) <= {"granted", "denied"}


# hit_consent: the hit's consent section from gcs, gcd and npa


@pytest.mark.parametrize(
    ("gcs", "gcd", "npa", "expected"),
    [
        ("G111", None, None,
         {"ad_storage": "granted", "analytics_storage": "granted", "source": "gcm"}),
        ("G100", "13v3v3v3v5", None,
         {"ad_storage": "denied", "analytics_storage": "denied", "ad_user_data": "granted",
          "ad_personalization": "granted", "source": "gcm"}),
        (None, "13r3r3r3r5l1", "1",
         {"ad_storage": "granted", "analytics_storage": "granted", "ad_user_data": "granted",
          "ad_personalization": "denied", "source": "gcm"}),
        (None, "13l3l3l3l1", None, {}),
        ("G1--", None, "0", {}),
        (None, None, None, {}),
    ],
)  # fmt: skip
def test_hit_consent_maps_the_four_signals_and_npa(gcs, gcd, npa, expected):
    assert hit_consent(gcs, gcd, npa) == expected


@pytest.mark.parametrize(
    ("gcs", "gcd", "npa", "param"),
    [("G1x1", None, None, "gcs"), (None, "13x3v3v3v5", None, "gcd"),
     (None, "13v3", None, "gcd"), ("G111", None, "yes", "npa"), ("G" * 100, None, None, "gcs")],
)  # fmt: skip
def test_hit_consent_errors_name_the_parameter(gcs, gcd, npa, param):
    with pytest.raises(ConsentModeError) as info:
        hit_consent(gcs, gcd, npa)
    assert info.value.param == param
    assert param in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=20)), st.one_of(st.none(), st.text(max_size=20)),
       st.one_of(st.none(), st.text(max_size=4)))  # fmt: skip
def test_hit_consent_is_a_hit_consent_section_or_a_named_error(gcs, gcd, npa):
    try:
        consent = hit_consent(gcs, gcd, npa)
    except ConsentModeError as exc:
        param = exc.param
    else:
        assert set(consent) <= {*SIGNALS, "source"}
        assert not consent or consent["source"] == "gcm"
        return
    assert param in ("gcs", "gcd", "npa")

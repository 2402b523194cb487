"""variables.pii: per-platform normalisation and hashing of user identifiers."""

import doctest
import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import json_values as json_values_strategy
from variables.pii import (
    KEYS,
    MAX_INPUT_CHARS,
    PLATFORMS,
    hash_identifier,
    hash_identifier_with_reason,
    normalize,
    normalize_with_reason,
)

DOC = Path(__file__).parents[2] / "docs" / "pii.md"
HEX64 = re.compile(r"[0-9a-f]{64}")
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- platforms.md section 9: every vector, value and hash ------------------------------

EMAIL = " Jane.Doe@Example.COM "
EMAIL_SHA = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
VECTORS = [
    ("meta", "email", EMAIL, "jane.doe@example.com", EMAIL_SHA),
    ("tiktok", "email", EMAIL, "jane.doe@example.com", EMAIL_SHA),
    ("linkedin", "email", EMAIL, "jane.doe@example.com", EMAIL_SHA),
    ("google", "email", EMAIL, "jane.doe@example.com", EMAIL_SHA),
    ("google", "email", "Jane.Doe+ads@gmail.com", "janedoe@gmail.com",
     "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"),
    ("google", "email", "user.name+NYC@Example.com", "user.name+nyc@example.com",
     "f109a2a632fbcea5fc82049f50beed3d8621bf9034399f437fb622222acccdac"),
    ("meta", "phone", "+1 (650) 555-1234", "16505551234",
     "6069d14bf122fdfd931dc7beb58e5dfbba395b1faf05bdcd42d12358d63d8599"),
    ("tiktok", "phone", "+1 (650) 555-1234", "+16505551234",
     "a2996076d3ad4af5dc818b908b3d8e354f26ededf7df0e0aa6ac354143805ee0"),
    ("google", "phone", "+1 (650) 555-1234", "+16505551234",
     "a2996076d3ad4af5dc818b908b3d8e354f26ededf7df0e0aa6ac354143805ee0"),
    ("meta", "first_name", "Jane", "jane",
     "81f8f6dde88365f3928796ec7aa53f72820b06db8664f5fe76a7eb13e24546a2"),
    ("meta", "last_name", "Doe", "doe",
     "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f"),
    ("meta", "city", "Menlo Park", "menlopark",
     "0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685"),
    ("meta", "state", "California", "ca",
     "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"),
    ("meta", "zip", "94025-1234", "94025",
     "b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7"),
    ("meta", "country", "US", "us",
     "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ("meta", "gender", "Female", "f",
     "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"),
    ("meta", "date_of_birth", "01/31/1990", "19900131",
     "267b39628557f31a6766b3d7f8823978c276759be4a5c9c52bf868d802ba5a0d"),
]  # fmt: skip


@pytest.mark.parametrize(("platform", "key", "raw", "normalized", "digest"), VECTORS)
def test_platforms_doc_vectors(platform, key, raw, normalized, digest):
    assert normalize(platform, key, raw) == normalized
    assert normalize_with_reason(platform, key, raw) == (normalized, None)
    assert hash_identifier(platform, key, raw) == digest
    assert hash_identifier_with_reason(platform, key, raw) == (digest, None)
    assert sha(normalized) == digest


# Behaviour differences platforms.md section 9 lists after the table (Meta phone rules).
@pytest.mark.parametrize(
    ("raw", "default_country", "expected"),
    [
        ("+1 (616) 954-78 88", None, "16169547888"),
        ("0044 20 7946 0958", None, "442079460958"),
        ("0612345678", None, "612345678"),  # no country to place it: Meta's own rule
        ("0612345678", "FR", "33612345678"),
        ("555.123.4567", "US", None),  # 555 is no US area code: invalid
    ],
)
def test_meta_phone_differences_from_the_sdk(raw, default_country, expected):
    assert normalize("meta", "phone", raw, default_country) == expected


# Meta's reference normaliser (facebook/capi-param-builder, PhoneUtil tests): a number
# without a country code keeps its digits with the leading zeros removed. Input and output
# are its vectors; tagwire applies the rule only where no default country places the number.
META_PARAM_BUILDER_PHONES = [
    ("(555) 123-4567", "5551234567"),
    ("555-123-4567", "5551234567"),
    ("555 123 4567", "5551234567"),
    ("555.123.4567", "5551234567"),
    ("05551234567", "5551234567"),
    ("5551234567", "5551234567"),
    ("  4792813113", "4792813113"),
    ("  3227352263", "3227352263"),
    ("1(650)123-4567", "16501234567"),
    ("01(650)123-4567", "16501234567"),
    (5551234567, "5551234567"),
    ("  \t 555 \n 123 \r 4567  \t ", "5551234567"),
]


@pytest.mark.parametrize(("raw", "expected"), META_PARAM_BUILDER_PHONES)
def test_meta_national_phone_follows_the_param_builder(raw, expected):
    assert normalize_with_reason("meta", "phone", raw) == (expected, None)
    assert hash_identifier("meta", "phone", raw) == sha(expected)


@pytest.mark.parametrize("platform", ["tiktok", "google"])
@pytest.mark.parametrize(("raw", "expected"), META_PARAM_BUILDER_PHONES)
def test_other_platforms_still_need_a_country_code_or_default_country(platform, raw, expected):
    assert normalize_with_reason(platform, "phone", raw)[1] == (
        "phone has no country code (+ or 00) and no default country is set"
    )


@pytest.mark.parametrize(
    ("raw", "default_country", "expected"),
    [
        ("030 9018 2077", None, "3090182077"),
        ("030 9018 2077", "DE", "493090182077"),  # a default country still gives E.164
        ("0612345678", "fr", "33612345678"),
        ("(650) 555-1234", "US", "16505551234"),
        ("(555) 123-4567", "US", None),  # placed in the US, it is invalid: refused as before
        ("650 555 1234 ext. 12", None, "6505551234"),  # the extension is dropped, as for E.164
        ("\uff10\uff16\uff11\uff12 345678", None, "612345678"),  # full-width digits: ASCII
    ],
)
def test_meta_national_phone_with_and_without_default_country(raw, default_country, expected):
    assert normalize("meta", "phone", raw, default_country) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0123", "7 to 15 digits"),  # the param-builder sends 123; no phone has 3 digits
        ("05", "7 to 15 digits"),
        ("000123", "not a phone number"),  # 00 is an international prefix here: +0123
        ("1234567890123456", "7 to 15 digits"),
        ("1-800-FLOWERS", "letters"),  # the param-builder sends 1800
        ("Call 555-HELP (4357) now!", "letters"),
        ("\u2706 555-123-4567", "letters"),
        ("()- .", "7 to 15 digits"),
    ],
)
def test_meta_national_phone_refusals(raw, reason):
    value, why = normalize_with_reason("meta", "phone", raw)
    assert value is None
    assert reason in why


# --- per-platform differences ----------------------------------------------------------

DIFFERENCES = [
    # key, raw, (meta, tiktok, linkedin, google)
    ("email", "Jane.Doe+ads@GMail.com",
     ("jane.doe+ads@gmail.com", "jane.doe+ads@gmail.com", "jane.doe+ads@gmail.com",
      "janedoe@gmail.com")),
    ("email", "j.doe+x@googlemail.com",
     ("j.doe+x@googlemail.com", "j.doe+x@googlemail.com", "j.doe+x@googlemail.com",
      "jdoe@googlemail.com")),
    ("email", "jane doe@example.com", (None, None, None, "janedoe@example.com")),
    ("phone", "+44 20 7946 0958", ("442079460958", "+442079460958", None, "+442079460958")),
    ("first_name", "Mary-Jane", ("maryjane", "maryjane", "mary-jane", "maryjane")),
    ("first_name", "  Jos\u00e9  Mar\u00eda ",
     ("jos\u00e9mar\u00eda", "jos\u00e9mar\u00eda", "jos\u00e9 mar\u00eda",
      "jos\u00e9 mar\u00eda")),
    ("first_name", "Mrs. Jane", ("mrsjane", "mrsjane", "mrs. jane", "jane")),
    ("last_name", "O'Brien Jr.", ("obrienjr", "obrienjr", "o'brien jr.", "obrien")),
    ("city", "St. Louis", ("stlouis", "stlouis", "stlouis", "st louis")),
    ("city", "Menlo Park", ("menlopark", "menlopark", "menlopark", "menlo park")),
    ("state", "California", ("ca", "ca", "ca", "ca")),
    ("zip", "94025-1234", ("94025", "94025", "94025", "94025")),
    ("country", "United Kingdom", ("gb", "gb", "gb", "gb")),
    ("external_id", " CRM-42 x ", ("crm-42x", "CRM-42 x", "CRM-42 x", "CRM-42 x")),
]  # fmt: skip


@pytest.mark.parametrize(("key", "raw", "expected"), DIFFERENCES)
@pytest.mark.parametrize("index", range(4), ids=PLATFORMS)
def test_per_platform_differences(key, raw, expected, index):
    assert normalize(PLATFORMS[index], key, raw) == expected[index]


def test_linkedin_has_no_phone_field():
    for value in ("+16505551234", "a" * 64, None):
        assert normalize_with_reason("linkedin", "phone", value) == (
            None,
            "linkedin does not accept phone",
        )
        assert hash_identifier_with_reason("linkedin", "phone", value)[0] is None


# --- the shared rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("state", "new york", "ny"),
        ("state", "N.Y.", "ny"),
        ("state", "CA", "ca"),
        ("state", "Qu\u00e9bec", "qc"),
        ("state", "Bavaria", "bavaria"),
        ("state", "\u00cele-de-France", "\u00eeledefrance"),
        ("zip", "SW1A 1AA", "sw1a1aa"),
        ("zip", "94025 1234", "94025"),
        ("zip", "940251234", "94025"),
        ("zip", "02134", "02134"),
        ("zip", "1000-001", "1000-001"),
        ("zip", 94025, "94025"),
        ("country", "us", "us"),
        ("country", " gb ", "gb"),
        ("country", "U.S.", "us"),
        ("country", "UK", "gb"),
        ("country", "USA", "us"),
        ("country", "United States", "us"),
        ("country", "Germany", "de"),
        ("country", "C\u00f4te d'Ivoire", "ci"),
        ("date_of_birth", "1990-01-31", "19900131"),
        ("date_of_birth", "19900131", "19900131"),
        ("date_of_birth", "1990/1/31", "19900131"),
        ("date_of_birth", "1990-01-31T08:15:00Z", "19900131"),
        ("date_of_birth", "31/01/1990", "19900131"),  # day > 12: day first
        ("date_of_birth", "31.01.1990", "19900131"),
        ("date_of_birth", "05-03-1995", "19950503"),  # ambiguous: month first (US)
        ("date_of_birth", 19900131, "19900131"),
        ("gender", "F", "f"),
        ("gender", " female ", "f"),
        ("gender", "MALE", "m"),
        ("gender", "m", "m"),
        ("city", "S\u00e3o Paulo", "s\u00e3opaulo"),
        ("city", "Winston-Salem 2", "winstonsalem"),
        ("first_name", "JANE", "jane"),
        ("first_name", "Jane2", "jane2"),
        ("external_id", 42, "42"),
        ("email", "\tJANE@EXAMPLE.CO.UK\n", "jane@example.co.uk"),
    ],
)
def test_shared_rules_on_meta(key, raw, expected):
    assert normalize("meta", key, raw) == expected


def test_phone_default_country():
    assert normalize("tiktok", "phone", "(650) 555-1234") is None
    assert normalize("tiktok", "phone", "(650) 555-1234", "US") == "+16505551234"
    assert normalize("tiktok", "phone", "(650) 555-1234", "us") == "+16505551234"
    assert normalize("google", "phone", "(800)555-0100", "US") == "+18005550100"
    # An explicit country code wins over the default.
    assert normalize("meta", "phone", "+44 20 7946 0958", "US") == "442079460958"
    assert normalize("meta", "phone", "00 44 20 7946 0958", "DE") == "442079460958"
    assert normalize("meta", "phone", 6505551234, "US") == "16505551234"
    assert normalize("meta", "phone", "650 555 1234 ext. 12", "US") == "16505551234"
    # A region phonenumbers has no metadata for: only international numbers parse.
    assert normalize("meta", "phone", "650 555 1234", "AQ") is None
    assert normalize("meta", "phone", "+1 650 555 1234", "AQ") == "16505551234"


# --- invalid values: None with a reason, never an exception ----------------------------

INVALID = [
    ("meta", "email", None, "missing value"),
    ("meta", "email", "", "empty value"),
    ("meta", "email", "   ", "empty value"),
    ("meta", "email", True, "boolean"),
    ("meta", "email", 3.5, "float"),
    ("meta", "email", ["jane@example.com"], "list"),
    ("meta", "email", {"email": "jane@example.com"}, "dict"),
    ("meta", "email", b"jane@example.com", "bytes"),
    ("meta", "email", "x" * (MAX_INPUT_CHARS + 1), "longer than"),
    ("meta", "email", "jane@ex\ud800ample.com", "surrogate"),
    ("meta", "email", "jane.example.com", "exactly one @"),
    ("meta", "email", "jane@doe@example.com", "exactly one @"),
    ("meta", "email", "@example.com", "nothing before the @"),
    ("meta", "email", "jane@localhost", "domain"),
    ("meta", "email", "jane@example..com", "domain"),
    ("meta", "email", "jane@example.com.", "domain"),
    ("meta", "email", "jane doe@example.com", "whitespace"),
    ("meta", "email", "jane\x00@example.com", "control"),
    ("tiktok", "email", "jane\u200b@example.com", "control"),
    ("meta", "email", "a" * 250 + "@example.com", "254"),
    ("google", "email", "+ads@gmail.com", "gmail"),
    ("meta", "phone", "+1 (555) 123-4567", "not a valid phone number"),
    ("tiktok", "phone", "6505551234", "no country code"),
    ("meta", "phone", "+", "not a phone number"),
    ("meta", "phone", "+999 1234", "not a phone number"),
    ("meta", "phone", "call me", "letters"),
    ("meta", "phone", "1-800-FLOWERS", "letters"),
    ("meta", "phone", 10**40, "too large"),
    ("meta", "first_name", "123", "no letters"),
    ("meta", "first_name", "-- ..", "no letters"),
    ("google", "first_name", "42", "no letters"),
    ("linkedin", "first_name", "Jane\x07", "control"),
    ("meta", "city", "10115", "no letters"),
    ("meta", "state", "12", "no letters"),
    ("meta", "zip", "1", "postal code"),
    ("meta", "zip", "ab_cd", "postal code"),
    ("meta", "zip", "12345678901", "postal code"),
    ("meta", "country", "XX", "alpha-2"),
    ("meta", "country", "Atlantis", "unknown country"),
    ("meta", "date_of_birth", "1990-02-30", "real calendar date"),
    ("meta", "date_of_birth", "13/13/1990", "real calendar date"),
    ("meta", "date_of_birth", "1899-12-31", "outside"),
    ("meta", "date_of_birth", "2999-01-01", "outside"),
    ("meta", "date_of_birth", "01/31/90", "4-digit year"),
    ("meta", "date_of_birth", "January 31, 1990", "not a date"),
    ("meta", "gender", "woman", "gender must be"),
    ("meta", "gender", "x", "gender must be"),
    ("tiktok", "external_id", "crm\x00-42", "control"),
]


@pytest.mark.parametrize(("platform", "key", "value", "reason"), INVALID)
def test_invalid_values_give_none_and_a_reason(platform, key, value, reason):
    normalized, why = normalize_with_reason(platform, key, value)
    assert normalized is None
    assert reason in why
    assert normalize(platform, key, value) is None
    assert hash_identifier_with_reason(platform, key, value) == (None, why)
    assert hash_identifier(platform, key, value) is None


def test_reasons_do_not_repeat_the_value():
    for key in KEYS:
        _, why = normalize_with_reason("meta", key, "secret-jane@nowhere")
        if why is not None:
            assert "secret" not in why
            assert "jane" not in why


@pytest.mark.parametrize(
    ("platform", "key", "default_country", "message"),
    [
        ("facebook", "email", None, "unknown platform"),
        ("Meta", "email", None, "unknown platform"),
        ("meta", "em", None, "unknown key"),
        ("meta", "zip_code", None, "unknown key"),
        ("meta", "phone", "USA", "default_country"),
        ("meta", "phone", "XX", "default_country"),
        ("meta", "email", 1, "default_country"),
    ],
)
def test_programming_errors_raise_value_error(platform, key, default_country, message):
    for function in (normalize, normalize_with_reason, hash_identifier):
        with pytest.raises(ValueError, match=message):
            function(platform, key, "jane@example.com", default_country)


# --- already hashed values pass through ------------------------------------------------

UPPER_HASH = EMAIL_SHA.upper()


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("key", [k for k in KEYS if k != "phone"])
def test_existing_sha256_passes_through_lowercased(platform, key):
    for value in (EMAIL_SHA, UPPER_HASH, f"  {UPPER_HASH}\n"):
        assert normalize(platform, key, value) == EMAIL_SHA
        assert hash_identifier(platform, key, value) == EMAIL_SHA


@pytest.mark.parametrize("platform", ["meta", "tiktok", "google"])
def test_existing_phone_hash_passes_through(platform):
    assert hash_identifier(platform, "phone", UPPER_HASH) == EMAIL_SHA


@pytest.mark.parametrize("platform", PLATFORMS)
def test_63_or_65_hex_characters_are_not_hashes(platform):
    for value in (EMAIL_SHA[:63], EMAIL_SHA + "a", UPPER_HASH[:63], UPPER_HASH + "A"):
        assert normalize(platform, "email", value) is None
        digest = hash_identifier(platform, "external_id", value)
        assert digest is not None
        assert digest not in (value, value.lower())
        if platform != "meta":  # Meta lowercases external ids first
            assert digest == sha(value)


def test_md5_is_not_passed_through():
    md5 = hashlib.md5(b"jane@example.com").hexdigest()
    assert normalize("meta", "email", md5) is None
    assert hash_identifier("meta", "external_id", md5) == sha(md5)


def test_meta_accepts_a_param_builder_appendix_and_emits_the_bare_hash():
    suffixed = f"{UPPER_HASH}.AQQAAQEA"
    assert normalize("meta", "email", suffixed) == EMAIL_SHA
    assert hash_identifier("meta", "email", suffixed) == EMAIL_SHA
    assert normalize("tiktok", "email", suffixed) is None
    assert normalize("meta", "email", f"{UPPER_HASH}.") is None


def test_hash_of_a_normalized_value_equals_sha256_of_normalize():
    assert hash_identifier("google", "email", "Jane.Doe+ads@gmail.com") == sha("janedoe@gmail.com")
    assert hash_identifier("meta", "first_name", "Jos\u00e9") == sha("jos\u00e9")


# --- properties ------------------------------------------------------------------------

platforms = st.sampled_from(PLATFORMS)
keys = st.sampled_from(KEYS)
countries = st.sampled_from([None, "US", "de", "GB", "FR", "AQ"])
odd_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),
    st.text(alphabet=st.sampled_from("+0123456789 ()-.x@aA\u0130\u00df\u0301 \t\u200b/")),
    st.emails(),
    st.from_regex(r"[0-9a-fA-F]{62,66}", fullmatch=True),
    st.dates().map(lambda d: d.strftime("%m/%d/%Y")),
)
json_values = json_values_strategy(text=None, width=3, leaves=6, keys=st.text(max_size=5))


def check_contract(platform, key, value, default_country):
    normalized, reason = normalize_with_reason(platform, key, value, default_country)
    assert (normalized is None) != (reason is None)
    assert normalized is None or (isinstance(normalized, str) and normalized)
    assert reason is None or isinstance(reason, str)
    assert normalize(platform, key, value, default_country) == normalized
    digest, hash_reason = hash_identifier_with_reason(platform, key, value, default_country)
    assert hash_reason == reason
    assert (digest is None) == (normalized is None)
    if digest is not None:
        assert HEX64.fullmatch(digest)
        assert digest in (normalized, sha(normalized))
    assert hash_identifier(platform, key, value, default_country) == digest


@PROPERTY
@given(platform=platforms, key=keys, value=odd_text, default_country=countries)
def test_any_text_gives_str_or_none_and_never_raises(platform, key, value, default_country):
    check_contract(platform, key, value, default_country)


@PROPERTY
@given(platform=platforms, key=keys, value=json_values)
def test_any_json_value_gives_str_or_none_and_never_raises(platform, key, value):
    check_contract(platform, key, value, None)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("key", KEYS)
def test_huge_and_odd_inputs(platform, key):
    for value in (
        "x" * 10**6,
        " " * 10**6,
        "\ud800",
        "\x00",
        "\u202e\u0301",
        "\U0001f600@\U0001f600.\U0001f600",
        "\uff0b\uff11 \uff16\uff15\uff10",
        10**5000,
        -1,
        float("nan"),
        object(),
    ):
        check_contract(platform, key, value, "US")


IDEMPOTENT = [(p, k) for p in PLATFORMS for k in KEYS if (p, k) != ("meta", "phone")]


@PROPERTY
@given(pair=st.sampled_from(IDEMPOTENT), value=odd_text)
def test_normalize_is_idempotent(pair, value):
    platform, key = pair
    once = normalize(platform, key, value, "US")
    if once is not None:
        assert normalize(platform, key, once, "US") == once


@PROPERTY
@given(platform=platforms, value=st.emails())
def test_generated_emails_are_accepted_and_idempotent(platform, value):
    once = normalize(platform, "email", value)
    assert once is not None
    assert once == once.strip().lower()
    assert normalize(platform, "email", once) == once


# --- the user documentation's examples run as written ----------------------------------


def test_docs_examples():
    failures, tried = doctest.testfile(str(DOC), module_relative=False, verbose=False)
    assert tried > 10
    assert failures == 0

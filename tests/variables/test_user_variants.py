"""Plaintext user details -> the hit's hashed variants, exactly as variables.pii hashes them."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import json_values
from variables.hit import USER_FIELDS
from variables.pii import hash_identifier
from variables.user_variants import PLAIN_USER_FIELDS, user_variants

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_every_plain_field_maps_to_its_platform_hashes() -> None:
    fields = {
        "email": " Jane.Doe+ads@GMail.com ", "phone": "030 901820", "first_name": "Mary-Jane",
        "last_name": "O'Neill", "city": "Menlo Park", "state": "California", "zip": "94025-1234",
        "country": "Germany", "external_id": "CRM 42",
    }  # fmt: skip
    values, errors = user_variants(fields, "DE")
    assert errors == []
    meta = {key: hash_identifier("meta", name, fields[name], "DE") for key, name in (
        ("em", "email"), ("ph_d", "phone"), ("fn", "first_name"), ("ln", "last_name"),
        ("ct", "city"), ("st", "state"), ("zp", "zip"), ("country", "country"),
        ("external_id", "external_id"))}  # fmt: skip
    assert values == {
        **meta,
        "em_g": hash_identifier("google", "email", fields["email"]),
        "ph": hash_identifier("tiktok", "phone", fields["phone"], "DE"),
    }
    assert set(values) == USER_FIELDS


def test_google_email_variant_only_when_it_differs() -> None:
    values, _ = user_variants({"email": "jane@example.com"})
    assert set(values) == {"em"}
    values, _ = user_variants({"email": "jane.doe@gmail.com"})
    assert values["em_g"] == hash_identifier("google", "email", "janedoe@gmail.com")
    assert values["em_g"] != values["em"]


def test_phone_variants_differ_in_the_plus() -> None:
    values, _ = user_variants({"phone": "+1 (650) 253-0000"})
    assert values["ph_d"] == hashlib.sha256(b"16502530000").hexdigest()
    assert values["ph"] == hashlib.sha256(b"+16502530000").hexdigest()


def test_hashed_values_pass_through_lowercased_to_every_variant() -> None:
    digest = "AB" * 32
    values, errors = user_variants({"email": digest, "phone": digest, "city": digest})
    assert errors == []
    assert values == {"em": digest.lower(), "ph_d": digest.lower(), "ph": digest.lower(),
                      "ct": digest.lower()}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "country", "key"),
    [
        ({"email": "jane.example.com"}, None, "email"),
        ({"phone": "1-800-FLOWERS"}, "US", "phone"),
        ({"first_name": "!!!"}, None, "first_name"),
        ({"country": "Atlantis"}, None, "country"),
        ({"zip": True}, None, "zip"),
        ({"city": ["Berlin"]}, None, "city"),
        ({"state": "123"}, None, "state"),
    ],
)
def test_unusable_values_are_errors_that_do_not_repeat_them(fields, country, key) -> None:
    values, errors = user_variants(fields, country)
    assert values == {}
    [(name, reason)] = errors
    assert name == key
    assert reason
    assert str(fields[key]) not in reason


def test_a_national_number_without_default_country_goes_to_meta_only() -> None:
    values, errors = user_variants({"phone": "030 901820"})
    assert errors == []
    assert values == {"ph_d": hashlib.sha256(b"30901820").hexdigest()}
    values, _ = user_variants({"phone": "030 901820"}, "DE")
    assert values == {"ph_d": hashlib.sha256(b"4930901820").hexdigest(),
                      "ph": hashlib.sha256(b"+4930901820").hexdigest()}  # fmt: skip


def test_unknown_keys_are_left_to_the_caller() -> None:
    assert user_variants({"em": "a" * 64, "gender": "f"}) == ({}, [])


def test_a_bad_default_country_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="default_country"):
        user_variants({"phone": "030 901820"}, "Germany")


@given(
    fields=st.dictionaries(
        st.sampled_from(sorted(PLAIN_USER_FIELDS)) | st.text(max_size=6), json_values(), max_size=6
    ),
    country=st.sampled_from([None, "DE", "us", "GB"]),
)
def test_any_input_gives_hashes_or_named_errors_and_never_plaintext(fields, country) -> None:
    values, errors = user_variants(fields, country)
    assert set(values) <= USER_FIELDS
    assert all(HEX64.fullmatch(v) for v in values.values())
    assert {name for name, _ in errors} <= set(fields) & PLAIN_USER_FIELDS

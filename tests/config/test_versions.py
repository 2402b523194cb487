"""Signed version records: round trips, and every way a stored version is refused."""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.canonical import canonical
from config.signing import generate_keypair, key_id, load_private_key, load_public_key, sign
from config.versions import (
    KIND,
    SignedVersion,
    VersionRecord,
    VersionRefused,
    open_signed,
    seal,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "container.json"


@functools.cache
def _keys() -> tuple[bytes, bytes]:
    return generate_keypair()


PRIVATE = load_private_key(_keys()[0])
PUBLIC = load_public_key(_keys()[1])


def _record(**changes: Any) -> VersionRecord:
    fields: dict[str, Any] = {
        "container_id": "shop",
        "number": 3,
        "parent": 2,
        "author": "ana@example.com",
        "note": "Meta pixel on the thank-you page",
        "created_at_ms": 1_763_900_000_000,
        "document": orjson.loads(EXAMPLE.read_bytes()),
    }
    fields.update(changes)
    return VersionRecord(**fields)


def _open(signed: SignedVersion, **changes: Any) -> VersionRecord:
    args: dict[str, Any] = {
        "body": signed.body,
        "signature": signed.signature,
        "key_id": signed.key_id,
        "public_key": PUBLIC,
        "container_id": "shop",
        "number": 3,
    }
    args.update(changes)
    return open_signed(**args)


def _refused(signed: SignedVersion, **changes: Any) -> VersionRefused:
    with pytest.raises(VersionRefused) as info:
        _open(signed, **changes)
    return info.value


def _resigned(doc: Any) -> SignedVersion:
    """`doc` signed as it is, to reach the checks that come after the signature."""
    return SignedVersion(canonical(doc), sign(doc, PRIVATE), key_id(PUBLIC))


def test_seal_then_open_gives_the_record_back():
    record = _record()
    signed = seal(record, PRIVATE)
    assert signed.key_id == key_id(PUBLIC)
    assert signed.body == canonical(record.to_json())
    assert orjson.loads(signed.body)["kind"] == KIND
    assert _open(signed) == record


def test_a_first_version_has_no_parent():
    record = _record(number=1, parent=None)
    assert _open(seal(record, PRIVATE), number=1) == record


def test_flipping_a_byte_of_the_body_is_refused():
    signed = seal(_record(), PRIVATE)
    body = signed.body
    positions = sorted({0, len(body) - 1, *range(0, len(body), 7)})
    assert len(positions) > 100
    for position in positions:
        for bit in (0x01, 0x20, 0x80):
            flipped = bytearray(body)
            flipped[position] ^= bit
            refused = _refused(signed, body=bytes(flipped))
            assert refused.reason in ("bad_signature", "malformed"), position


def test_changing_a_character_of_the_signature_is_refused():
    signed = seal(_record(), PRIVATE)
    alphabet = string.ascii_letters + string.digits + "-_"
    for index in (0, 1, 42, 84, 85):
        char = signed.signature[index]
        other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        signature = signed.signature[:index] + other + signed.signature[index + 1 :]
        assert _refused(signed, signature=signature).reason == "bad_signature"


def test_another_key_is_unknown_when_the_row_names_its_key():
    other = load_public_key(generate_keypair()[1])
    signed = seal(_record(), PRIVATE)
    refused = _refused(signed, public_key=other)
    assert refused.reason == "unknown_key"
    assert signed.key_id in str(refused)
    assert key_id(other) in str(refused)


def test_another_key_fails_the_signature_when_the_row_names_no_key():
    other = load_public_key(generate_keypair()[1])
    refused = _refused(seal(_record(), PRIVATE), public_key=other, key_id=None)
    assert refused.reason == "bad_signature"


def test_a_version_signed_by_another_private_key_is_refused():
    intruder = load_private_key(generate_keypair()[0])
    forged = seal(_record(), intruder)
    assert _refused(forged, key_id=key_id(PUBLIC)).reason == "bad_signature"


@pytest.mark.parametrize("signature", [None, ""])
def test_an_unsigned_version_is_refused_before_anything_else(signature):
    refused = _refused(seal(_record(), PRIVATE), signature=signature, body=b"not json")
    assert refused.reason == "unsigned"
    assert "no signature" in str(refused)


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"container_id": "blog"}, "version 3 of container 'shop'"),
        ({"number": 4}, "version 3 of container 'shop'"),
    ],
)
def test_a_body_replayed_as_another_version_or_container_is_a_mismatch(changes, said):
    refused = _refused(seal(_record(), PRIVATE), **changes)
    assert refused.reason == "mismatch"
    assert said in str(refused)


def test_a_padded_or_reordered_body_is_malformed_though_the_values_match():
    signed = seal(_record(), PRIVATE)
    doc = orjson.loads(signed.body)
    for body in (
        signed.body + b" ",
        b" " + signed.body,
        signed.body.replace(b",", b", ", 1),
        orjson.dumps(dict(reversed(doc.items()))),
        orjson.dumps(doc, option=orjson.OPT_INDENT_2),
    ):
        assert body != signed.body
        assert _refused(signed, body=body).reason == "malformed"


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"\xff", b"[]", b'"text"', b"null", b"1", b'{"a":1.0}', b'{"a":1,"a":2}'],
)
def test_a_body_that_is_not_a_canonical_json_object_is_malformed(body):
    assert _refused(seal(_record(), PRIVATE), body=body).reason == "malformed"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "tagwire-container-version/2"),
        ("container", 7),
        ("number", "3"),
        ("number", True),
        ("parent", 2.5),
        ("author", None),
        ("note", ["x"]),
        ("created_at_ms", "now"),
        ("document", []),
    ],
)
def test_a_signed_record_with_a_wrong_field_is_malformed(field, value):
    doc = _record().to_json()
    doc[field] = value
    refused = _refused(_resigned(doc))
    assert refused.reason == "malformed"
    assert field in str(refused)


def test_a_signed_record_with_a_missing_or_extra_field_is_malformed():
    missing = _record().to_json()
    del missing["note"]
    extra = {**_record().to_json(), "signature": "x"}
    for doc in (missing, extra):
        assert _refused(_resigned(doc)).reason == "malformed"


def test_messages_say_what_to_do():
    refused = _refused(seal(_record(), PRIVATE), body=b"{")
    assert "version 3 of container 'shop'" in str(refused)
    assert "publish it again" in str(refused)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    author=st.text(),
    note=st.text(),
    number=st.integers(1, 2**31),
    document=st.dictionaries(st.text(max_size=8), _JSON, max_size=5),
)
def test_any_text_and_small_document_round_trips(author, note, number, document):
    record = _record(author=author, note=note, number=number, parent=None, document=document)
    signed = seal(record, PRIVATE)
    assert _open(signed, number=number) == record

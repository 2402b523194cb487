"""Ed25519 signing: round trips, tampering with any field or signature character, wrong
keys, key files that cannot be used, and key ids."""

from __future__ import annotations

import copy
import functools
import json
import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from config.canonical import CanonicalError, canonical
from config.signing import (
    SignatureError,
    SigningKeyError,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    sign,
    verify,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "container.json"
MISMATCH = "the signature does not match"


@functools.cache
def _keys() -> tuple[bytes, bytes]:
    return generate_keypair()


@pytest.fixture
def private():
    return load_private_key(_keys()[0])


@pytest.fixture
def public():
    return load_public_key(_keys()[1])


@pytest.fixture
def doc() -> dict[str, Any]:
    return orjson.loads(EXAMPLE.read_bytes())


def _leaves(value: Any, keys: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*keys, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*keys, index))
    else:
        yield keys


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + chr(ord(value[-1]) ^ 1) if value else "x"
    return 0  # None


def test_round_trip(doc, private, public):
    signature = sign(doc, private)
    assert len(signature) == 86
    assert set(signature) <= set(string.ascii_letters + string.digits + "-_")
    verify(doc, signature, public)


def test_a_reordered_reformatted_copy_verifies(doc, private, public):
    signature = sign(doc, private)
    items = list(doc.items())
    random.Random(1).shuffle(items)
    copy_text = json.dumps(dict(items), indent=3, sort_keys=False, ensure_ascii=True)
    verify(json.loads(copy_text), signature, public)


def test_changing_any_field_anywhere_is_refused(doc, private, public):
    signature = sign(doc, private)
    leaves = list(_leaves(doc))
    assert len(leaves) > 20
    for keys in leaves:
        tampered = copy.deepcopy(doc)
        target = tampered
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = _changed(target[keys[-1]])
        with pytest.raises(SignatureError, match=MISMATCH):
            verify(tampered, signature, public)


def test_adding_or_removing_a_member_is_refused(doc, private, public):
    signature = sign(doc, private)
    added = copy.deepcopy(doc)
    added["tags"][0]["note"] = ""
    removed = copy.deepcopy(doc)
    removed["triggers"].pop()
    for tampered in (added, removed):
        with pytest.raises(SignatureError, match=MISMATCH):
            verify(tampered, signature, public)


@given(st.data())
def test_flipping_a_byte_of_the_signed_bytes_is_refused_unless_the_value_is_the_same(data):
    doc = orjson.loads(EXAMPLE.read_bytes())
    private, public = load_private_key(_keys()[0]), load_public_key(_keys()[1])
    signed = canonical(doc)
    signature = sign(doc, private)
    position = data.draw(st.integers(0, len(signed) - 1))
    bit = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128]))
    flipped = bytearray(signed)
    flipped[position] ^= bit
    try:
        tampered = json.loads(bytes(flipped))
        canonical(tampered)
    except (ValueError, CanonicalError):
        return  # no longer a document at all
    if canonical(tampered) == signed:  # e.g. 1e+21 -> 1E+21: the same value
        verify(tampered, signature, public)
    else:
        with pytest.raises(SignatureError, match=MISMATCH):
            verify(tampered, signature, public)


def test_changing_any_character_of_the_signature_is_refused(doc, private, public):
    signature = sign(doc, private)
    alphabet = string.ascii_letters + string.digits + "-_"
    for index, char in enumerate(signature):
        other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        with pytest.raises(SignatureError):
            verify(doc, signature[:index] + other + signature[index + 1 :], public)


def test_flipping_any_bit_of_the_signature_bytes_is_refused(doc, private, public):
    import base64

    raw = base64.urlsafe_b64decode(sign(doc, private) + "==")
    for index in range(len(raw)):
        flipped = bytearray(raw)
        flipped[index] ^= 0x80
        text = base64.urlsafe_b64encode(bytes(flipped)).rstrip(b"=").decode()
        with pytest.raises(SignatureError, match=MISMATCH):
            verify(doc, text, public)


def test_a_signature_by_another_key_is_refused_and_names_the_expected_key(doc, private):
    other_public = load_public_key(generate_keypair()[1])
    with pytest.raises(SignatureError, match=MISMATCH) as info:
        verify(doc, sign(doc, private), other_public)
    assert key_id(other_public) in str(info.value)


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("", "is 0 bytes; an Ed25519 signature is 64"),
        ("AAAA", "is 3 bytes; an Ed25519 signature is 64"),
        ("A" * 85, "its length is off"),
        ("A" * 87, "is 65 bytes"),
        ("A" * 86 + "==", "not base64url text"),
        ("A" * 85 + "+", "not base64url text"),
        ("A" * 43 + " " + "A" * 42, "not base64url text"),
        ("A" * 85 + "B", "its last character is off"),
        (None, "not base64url text"),
        (b"A" * 86, "not base64url text"),
    ],
)
def test_malformed_signatures_say_what_is_wrong(doc, public, signature, reason):
    with pytest.raises(SignatureError, match=reason):
        verify(doc, signature, public)


def test_signing_a_document_without_canonical_form_names_the_path(private, public):
    with pytest.raises(CanonicalError, match=r"\$\.tags\[0\]\.value: nan"):
        sign({"tags": [{"value": float("nan")}]}, private)
    with pytest.raises(SignatureError, match=r"no canonical form.*\$\.x: a set"):
        verify({"x": {1}}, "A" * 86, public)


def test_encrypted_private_key_needs_its_passphrase(doc):
    private_pem, public_pem = generate_keypair(b"correct horse")
    assert private_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = load_private_key(private_pem, b"correct horse")
    verify(doc, sign(doc, key), load_public_key(public_pem))
    with pytest.raises(SigningKeyError, match="encrypted; give its passphrase"):
        load_private_key(private_pem)
    with pytest.raises(SigningKeyError, match="wrong passphrase"):
        load_private_key(private_pem, b"battery staple")


def test_plain_private_key_refuses_a_passphrase():
    private_pem = _keys()[0]
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(SigningKeyError, match="not encrypted; give no passphrase"):
        load_private_key(private_pem, b"pw")


def test_empty_passphrase_is_refused():
    with pytest.raises(SigningKeyError, match="passphrase is empty"):
        generate_keypair(b"")


def _ec_pems() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        (b"", "not a PEM private key"),
        (b"garbage", "not a PEM private key"),
        (_keys()[0][:60], "not a PEM private key"),
        (_keys()[0].replace(b"M", b"N", 1), "not a PEM private key"),
        (_keys()[1], "this is a public key"),
        (_ec_pems()[0], "the private key is EC, not Ed25519"),
    ],
)
def test_unusable_private_key_files_say_why(pem, reason):
    with pytest.raises(SigningKeyError, match=reason):
        load_private_key(pem)


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        (b"", "not a PEM public key"),
        (b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", "not a PEM public"),
        (_keys()[0], "this is a private key"),
        (generate_keypair(b"pw")[0], "this is a private key"),
        (_ec_pems()[1], "the public key is EC, not Ed25519"),
    ],
)
def test_unusable_public_key_files_say_why(pem, reason):
    with pytest.raises(SigningKeyError, match=reason):
        load_public_key(pem)


def test_key_id_is_sixteen_hex_digits_of_the_raw_key_hash(private, public):
    import hashlib

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(public) == hashlib.sha256(raw).hexdigest()[:16]
    assert key_id(private.public_key()) == key_id(public)
    assert key_id(load_public_key(generate_keypair()[1])) != key_id(public)

"""Secrets at rest: AES-256-GCM round trips, and every way a sealed secret fails to open."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.secret_box import NONCE_BYTES, SecretBox, SecretKeyError, generate_key

KEY = bytes(range(32))
CANNOT_OPEN = "cannot be opened"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(KEY)


@pytest.mark.parametrize("value", ["EAAB-token-123", "", "pässwörd ✓ 秘密 🔑", "a" * 10_000])
def test_seal_then_open_gives_the_value_back(box, value):
    nonce, ciphertext = box.seal("shop", "meta_token", value)
    assert len(nonce) == NONCE_BYTES
    assert value.encode() not in ciphertext or not value
    assert box.open("shop", "meta_token", nonce, ciphertext) == value


@given(st.text())
def test_any_text_round_trips(value):
    box = SecretBox(KEY)
    assert box.open("shop", "s", *box.seal("shop", "s", value)) == value


def test_each_seal_uses_a_fresh_nonce(box):
    first = box.seal("shop", "meta_token", "same")
    second = box.seal("shop", "meta_token", "same")
    assert first[0] != second[0]
    assert first[1] != second[1]


def test_another_key_cannot_open_it(box):
    nonce, ciphertext = box.seal("shop", "meta_token", "EAAB-secret")
    other = SecretBox(os.urandom(32))
    with pytest.raises(SecretKeyError, match=CANNOT_OPEN) as info:
        other.open("shop", "meta_token", nonce, ciphertext)
    assert "EAAB-secret" not in str(info.value)
    assert other.key_id in str(info.value)


def test_a_changed_ciphertext_or_nonce_cannot_be_opened(box):
    nonce, ciphertext = box.seal("shop", "meta_token", "EAAB-secret")
    for index in range(len(ciphertext)):
        flipped = bytearray(ciphertext)
        flipped[index] ^= 0x01
        with pytest.raises(SecretKeyError, match=CANNOT_OPEN):
            box.open("shop", "meta_token", nonce, bytes(flipped))
    with pytest.raises(SecretKeyError, match=CANNOT_OPEN):
        box.open("shop", "meta_token", bytes([nonce[0] ^ 1]) + nonce[1:], ciphertext)
    for cut_nonce, cut_ciphertext in (
        (nonce, ciphertext[:-1]),
        (nonce, b""),
        (nonce[:-1], ciphertext),
        (b"", ciphertext),
    ):
        with pytest.raises(SecretKeyError, match=CANNOT_OPEN):
            box.open("shop", "meta_token", cut_nonce, cut_ciphertext)


@pytest.mark.parametrize(
    ("container", "name"),
    [
        ("shop", "tiktok_token"),
        ("blog", "meta_token"),
        ("shop\0meta", "token"),
        ("sho", "pmeta_token"),
    ],
)
def test_a_secret_moved_to_another_name_or_container_cannot_be_opened(box, container, name):
    nonce, ciphertext = box.seal("shop", "meta_token", "EAAB-secret")
    with pytest.raises(SecretKeyError, match=CANNOT_OPEN) as info:
        box.open(container, name, nonce, ciphertext)
    assert repr(name) in str(info.value)
    assert "EAAB-secret" not in str(info.value)


@pytest.mark.parametrize(
    "encode",
    [
        lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="),
        lambda raw: base64.urlsafe_b64encode(raw).decode(),
        lambda raw: base64.b64encode(raw).decode(),
        lambda raw: base64.b64encode(raw).decode().rstrip("="),
        lambda raw: "  " + base64.b64encode(raw).decode() + "\n",
    ],
)
def test_from_text_reads_base64url_and_standard_base64_padded_or_not(encode):
    raw = bytes([0xFB, 0xFF, 0xBF] * 10 + [0xFE, 0xFF])  # encodes to '+', '/', '-', '_'
    box = SecretBox.from_text(encode(raw))
    assert box.key_id == SecretBox(raw).key_id
    assert SecretBox(raw).open("c", "n", *box.seal("c", "n", "v")) == "v"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (base64.b64encode(bytes(16)).decode(), "holds 16 bytes; it must hold 32"),
        (base64.b64encode(bytes(33)).decode(), "holds 33 bytes; it must hold 32"),
        ("", "not base64 text"),
        ("not a key!", "not base64 text"),
        ("A", "length is off"),
    ],
)
def test_from_text_refuses_what_is_not_a_32_byte_key(text, said):
    with pytest.raises(SecretKeyError, match=said) as info:
        SecretBox.from_text(text)
    assert "TAGWIRE_SECRETS_KEY" in str(info.value)
    assert "openssl rand -base64 32" in str(info.value)


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), "x" * 32])
def test_the_key_must_be_32_bytes(key):
    with pytest.raises(SecretKeyError, match="a secrets key is 32 bytes"):
        SecretBox(key)


def test_repr_and_key_id_never_show_the_key(box):
    text = repr(box)
    assert box.key_id in text
    for shown in (KEY.hex(), base64.b64encode(KEY).decode(), repr(KEY)):
        assert shown not in text
    assert len(box.key_id) == 16
    assert box.key_id != SecretBox(os.urandom(32)).key_id


def test_generate_key_gives_32_random_bytes_as_base64url():
    key = generate_key()
    assert "=" not in key
    assert len(base64.urlsafe_b64decode(key + "=")) == 32
    assert SecretBox.from_text(key).key_id != SecretBox.from_text(generate_key()).key_id

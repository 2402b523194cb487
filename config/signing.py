"""Ed25519 signatures over the canonical form of a document (`config.canonical`).

The control plane signs a container version; a node holding only the public key refuses
any version whose signature does not verify. Signing the canonical bytes, not the stored
text, means re-serialising a document (other key order, other whitespace) keeps its
signature valid while any change of value breaks it.

Keys are PEM files: PKCS#8 for the private key (optionally encrypted with a passphrase),
SubjectPublicKeyInfo for the public one, so `openssl` and other languages read them too.
Signatures are unpadded base64url text, 86 characters for Ed25519's 64 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from config.canonical import CanonicalError, canonical

__all__ = [
    "SIGNATURE_BYTES",
    "SignatureError",
    "SigningKeyError",
    "generate_keypair",
    "key_id",
    "load_private_key",
    "load_public_key",
    "sign",
    "verify",
]

SIGNATURE_BYTES = 64
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_ENCRYPTED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"
_PLAIN = b"-----BEGIN PRIVATE KEY-----"
_PUBLIC = b"-----BEGIN PUBLIC KEY-----"
_GENERATE_HINT = "make a key pair with 'tagwire keys generate'"


class SigningKeyError(ValueError):
    """A key file that cannot be used; the message says what is wrong with it."""


class SignatureError(ValueError):
    """A signature that does not prove the document came unchanged from the key's holder."""


def generate_keypair(passphrase: bytes | None = None) -> tuple[bytes, bytes]:
    """A new key pair as (private PEM, public PEM); the private key is encrypted with
    `passphrase` when one is given."""
    if passphrase is not None and not passphrase:
        raise SigningKeyError("the passphrase is empty; give a non-empty one or none")
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def load_private_key(pem: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """The signing key in `pem`, decrypted with `passphrase` if it is encrypted."""
    encrypted = _ENCRYPTED in pem
    if encrypted and passphrase is None:
        raise SigningKeyError("the private key is encrypted; give its passphrase")
    if passphrase is not None and not encrypted and _PLAIN in pem:
        raise SigningKeyError("the private key is not encrypted; give no passphrase")
    try:
        key = serialization.load_pem_private_key(pem, passphrase)
    except (ValueError, TypeError):
        if encrypted:
            raise SigningKeyError(
                "cannot decrypt the private key: wrong passphrase, or the file is damaged"
            ) from None
        if _PUBLIC in pem:
            raise SigningKeyError(
                "this is a public key (.pub); signing needs the private key (.key)"
            ) from None
        raise SigningKeyError(
            "not a PEM private key: expected a '-----BEGIN PRIVATE KEY-----' block; "
            + _GENERATE_HINT
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"the private key is {_kind(key)}, not Ed25519; {_GENERATE_HINT}")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """The verifying key in `pem`."""
    if b"PRIVATE KEY-----" in pem:
        raise SigningKeyError(
            "this is a private key; a verifier needs only the public key (.pub), and the "
            "private key should stay with the control plane"
        )
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise SigningKeyError(
            "not a PEM public key: expected a '-----BEGIN PUBLIC KEY-----' block; " + _GENERATE_HINT
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"the public key is {_kind(key)}, not Ed25519; {_GENERATE_HINT}")
    return key


def _kind(key: object) -> str:
    return type(key).__name__.removeprefix("_").removesuffix("PrivateKey").removesuffix("PublicKey")


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name for a key (16 hex digits of the SHA-256 of its raw 32 bytes), so a
    version can say which key signed it and an operator can match it to a key file."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(doc: object, private_key: Ed25519PrivateKey) -> str:
    """The signature of `doc`'s canonical form; raises `CanonicalError` (with the path)
    for a document that has none."""
    signature = private_key.sign(canonical(doc))
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")


def verify(doc: object, signature: str, public_key: Ed25519PublicKey) -> None:
    """Return if `signature` is `public_key`'s signature of `doc`; raise `SignatureError`
    saying why not otherwise."""
    raw = _decode(signature)
    try:
        payload = canonical(doc)
    except CanonicalError as exc:
        raise SignatureError(
            f"the document has no canonical form, so nobody can have signed it ({exc})"
        ) from None
    try:
        public_key.verify(raw, payload)
    except InvalidSignature:
        raise SignatureError(
            "the signature does not match: the document was changed after signing, or it "
            f"was signed by another key than {key_id(public_key)}"
        ) from None


def _decode(signature: str) -> bytes:
    """The signature's bytes. Only the one text that encodes them is accepted, so that
    changing any character of a signature is refused."""
    if not isinstance(signature, str) or not _BASE64URL.fullmatch(signature):
        raise SignatureError(
            "the signature is not base64url text (A-Z, a-z, 0-9, '-' and '_', no padding)"
        )
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (binascii.Error, ValueError):
        raise SignatureError("the signature is not valid base64url: its length is off") from None
    if len(raw) != SIGNATURE_BYTES:
        raise SignatureError(
            f"the signature is {len(raw)} bytes; an Ed25519 signature is {SIGNATURE_BYTES}"
        )
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != signature:
        raise SignatureError("the signature is not valid base64url: its last character is off")
    return raw

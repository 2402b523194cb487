"""The signed record of one container version, and the checks a node runs before using one.

A version is stored as the canonical bytes of its record (`config.canonical`) plus an
Ed25519 signature over them (`config.signing`). The record names its container and number
inside the signed bytes, so a row cannot be passed off as another: v1's body copied into
v2's row, or one container's version into another's, is refused as a mismatch even though
its signature verifies. The body must be exactly the canonical bytes of what it parses to,
so there is one stored form per record and nothing outside the signature rides along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from config.canonical import CanonicalError, canonical
from config.signing import SignatureError, sign, verify
from config.signing import key_id as key_id_of

__all__ = ["KIND", "SignedVersion", "VersionRecord", "VersionRefused", "open_signed", "seal"]

KIND = "tagwire-container-version/1"
_FIELDS = frozenset(
    ("kind", "container", "number", "parent", "author", "note", "created_at_ms", "document")
)


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """What a version says about itself; every field is covered by the signature."""

    container_id: str
    number: int
    parent: int | None
    author: str
    note: str
    created_at_ms: int
    document: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "container": self.container_id,
            "number": self.number,
            "parent": self.parent,
            "author": self.author,
            "note": self.note,
            "created_at_ms": self.created_at_ms,
            "document": self.document,
        }


@dataclass(frozen=True, slots=True)
class SignedVersion:
    """A record as stored: its canonical bytes, their signature and the signing key's id."""

    body: bytes
    signature: str
    key_id: str


class VersionRefused(ValueError):
    """A stored version a node must not use; `reason` is one of "unsigned",
    "bad_signature", "malformed", "mismatch" or "unknown_key"."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def seal(record: VersionRecord, private_key: Ed25519PrivateKey) -> SignedVersion:
    """Sign `record`; raises `CanonicalError` (with the path) if its document has no
    canonical form."""
    doc = record.to_json()
    return SignedVersion(
        body=canonical(doc),
        signature=sign(doc, private_key),
        key_id=key_id_of(private_key.public_key()),
    )


def open_signed(
    body: bytes,
    signature: str | None,
    key_id: str | None,
    public_key: Ed25519PublicKey,
    *,
    container_id: str,
    number: int,
) -> VersionRecord:
    """The record in `body` if `signature` proves `public_key`'s holder wrote it as version
    `number` of `container_id`; raises `VersionRefused` saying why not otherwise."""
    where = f"version {number} of container {container_id!r}"
    if not signature:
        raise VersionRefused(
            "unsigned", f"{where} has no signature; publish it again from the control plane"
        )
    trusted = key_id_of(public_key)
    if key_id is not None and key_id != trusted:
        raise VersionRefused(
            "unknown_key",
            f"{where} was signed by key {key_id}, but this node trusts key {trusted}; give "
            "the node the matching public key or re-sign the version",
        )
    doc = _parse(body, where)
    try:
        verify(doc, signature, public_key)
    except SignatureError as exc:
        raise VersionRefused(
            "bad_signature", f"{where} is refused: {exc}; publish it again from the control plane"
        ) from None
    record = _record(doc, where)
    if record.container_id != container_id or record.number != number:
        raise VersionRefused(
            "mismatch",
            f"{where} holds the signed record of version {record.number} of container "
            f"{record.container_id!r}; the row was copied from elsewhere, publish it again",
        )
    return record


def _malformed(where: str, what: str) -> VersionRefused:
    return VersionRefused("malformed", f"{where} is malformed: {what}; publish it again")


def _parse(body: bytes, where: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _malformed(where, f"the body is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _malformed(where, f"the body is a JSON {type(doc).__name__}, not an object")
    try:
        exact = canonical(doc) == body
    except CanonicalError as exc:
        raise _malformed(where, f"the body has no canonical form ({exc})") from None
    if not exact:
        raise _malformed(where, "the body is not in canonical form (extra whitespace, key order)")
    return doc


_TYPES: dict[str, type | tuple[type, ...]] = {
    "container": str,
    "number": int,
    "parent": (int, type(None)),
    "author": str,
    "note": str,
    "created_at_ms": int,
    "document": dict,
}


def _record(doc: dict[str, Any], where: str) -> VersionRecord:
    if doc.keys() != _FIELDS:
        raise _malformed(
            where, f"the record's fields are {sorted(doc)}, expected {sorted(_FIELDS)}"
        )
    if doc["kind"] != KIND:
        raise _malformed(where, f"the record is of kind {doc['kind']!r}, expected {KIND!r}")
    for field, types in _TYPES.items():
        value = doc[field]
        if isinstance(value, bool) or not isinstance(value, types):
            raise _malformed(where, f"the record's {field!r} is a {type(value).__name__}")
    return VersionRecord(
        container_id=doc["container"],
        number=doc["number"],
        parent=doc["parent"],
        author=doc["author"],
        note=doc["note"],
        created_at_ms=doc["created_at_ms"],
        document=doc["document"],
    )

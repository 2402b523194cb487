"""Plaintext (or already hashed) user details -> the hit's hashed `user` variants.

A server that knows a customer's email or phone (a CRM, a shop back end) should not have
to know that Meta wants a phone hashed as digits and TikTok with a `+`. This maps the
plain names (`email`, `phone`, ...) to the hashed keys of hit schema v1 (`em`, `em_g`,
`ph`, `ph_d`, ...) with `variables.pii`, the same rules the browser loader applies, so a
template reads the same variant whichever way the hit arrived.

    user_variants(fields, default_country=None) -> UserVariants(values, errors)

A value that already is a SHA-256 (64 hex characters) passes through lowercased to each
of its variants, as the loader does; `em_g` is only added for a plaintext email whose
Google form differs. A value that cannot be used is an error naming the plain key, with a
reason that never repeats the value. Plaintext never appears in the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from variables.pii import hash_identifier_with_reason

__all__ = ["PLAIN_USER_FIELDS", "UserVariants", "user_variants"]

# plain name -> (hit key, platform rules used for it); the first entry decides validity.
_VARIANTS: dict[str, tuple[tuple[str, str], ...]] = {
    "email": (("em", "meta"), ("em_g", "google")),
    "phone": (("ph_d", "meta"), ("ph", "tiktok")),
    "first_name": (("fn", "meta"),),
    "last_name": (("ln", "meta"),),
    "city": (("ct", "meta"),),
    "state": (("st", "meta"),),
    "zip": (("zp", "meta"),),
    "country": (("country", "meta"),),
    "external_id": (("external_id", "meta"),),
}
PLAIN_USER_FIELDS = frozenset(_VARIANTS)


class UserVariants(NamedTuple):
    """`values`: hit `user` key -> lowercase hex SHA-256; `errors`: (plain key, reason)."""

    values: dict[str, str]
    errors: list[tuple[str, str]]


def user_variants(fields: Mapping[str, object], default_country: str | None = None) -> UserVariants:
    """Hash each known field into its variants; unknown keys are the caller's to refuse.

    `default_country` (ISO 3166-1 alpha-2) lets national phone numbers be read; a bad one
    raises ValueError, as in `variables.pii`.
    """
    values: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    for name, value in fields.items():
        variants = _VARIANTS.get(name)
        if variants is None:
            continue
        (first_key, first_platform), *others = variants
        digest, reason = hash_identifier_with_reason(first_platform, name, value, default_country)
        if digest is None:
            errors.append((name, reason or "unusable value"))
            continue
        values[first_key] = digest
        for key, platform in others:
            other = hash_identifier_with_reason(platform, name, value, default_country)[0]
            if other is None:
                continue
            if key == "em_g" and other == digest:
                continue  # the Google form is the same address: em already carries it
            values[key] = other
    return UserVariants(values, errors)

"""tests/fixtures/pii_vectors.json: user-data vectors shared with the browser loader.

Each vector holds what a visitor types (`input`), what variables.pii makes of it for the
hit field's rule (`expected`), and what the loader's browser rules make of it (`browser`,
null when the browser drops it). A vector's `default_country` is the container's: Python
gets it as an argument, the loader in its settings (container/loader/bundle.py). The
loader's Chromium test replays `browser`; this test pins `expected` to the Python rules
and keeps the two columns honest: they may differ only where the browser drops a value
Python keeps, for a documented reason the note gives (national numbers of a few
countries, state and country names, ...).

`em_g` vectors hold the Google rule's value even when it equals `em`; the loader then
leaves em_g out of the hit, which is the JS test's to check.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from variables.pii import normalize

VECTORS_FILE = Path(__file__).parents[1] / "fixtures" / "pii_vectors.json"
# hit field -> (platform, key) of the variables.pii rule its browser value must equal
RULES = {
    "em": ("meta", "email"),
    "em_g": ("google", "email"),
    "ph": ("tiktok", "phone"),
    "ph_d": ("meta", "phone"),
    "fn": ("meta", "first_name"),
    "ln": ("meta", "last_name"),
    "ct": ("meta", "city"),
    "st": ("meta", "state"),
    "zp": ("meta", "zip"),
    "country": ("meta", "country"),
    "external_id": ("meta", "external_id"),
}
FIELDS = {"key", "input", "expected", "browser", "note"}
OPTIONAL = {"default_country"}
BROWSER_LIMIT = "browser limit: "
HEX64 = re.compile(r"[0-9a-fA-F]{64}")

VECTORS: list[dict[str, Any]] = orjson.loads(VECTORS_FILE.read_bytes())
IDS = [f"{i}-{v.get('key')}" for i, v in enumerate(VECTORS)]


def python_value(vector: dict[str, Any]) -> str | None:
    platform, key = RULES[vector["key"]]
    return normalize(platform, key, vector["input"], vector.get("default_country"))


def is_limit(vector: dict[str, Any]) -> bool:
    return vector["note"].startswith(BROWSER_LIMIT)


def test_file_shape() -> None:
    assert isinstance(VECTORS, list)
    seen = set()
    for vector in VECTORS:
        assert isinstance(vector, dict)
        assert FIELDS <= vector.keys() <= FIELDS | OPTIONAL, vector
        assert vector["key"] in RULES, vector
        assert isinstance(vector["input"], str), vector
        for column in ("expected", "browser"):
            assert vector[column] is None or isinstance(vector[column], str), vector
        assert isinstance(vector["note"], str), vector
        assert vector["note"].strip(), vector
        country = vector.get("default_country")
        assert country is None or re.fullmatch("[A-Z]{2}", country), vector
        case = (vector["key"], vector["input"], country)
        assert case not in seen, f"duplicate vector {case!r}"
        seen.add(case)


@pytest.mark.parametrize("key", RULES)
def test_every_key_has_accepted_refused_and_hashed_inputs(key: str) -> None:
    vectors = [v for v in VECTORS if v["key"] == key]
    assert any(v["expected"] is not None and not HEX64.fullmatch(v["input"].strip())
               for v in vectors)  # fmt: skip
    assert any(v["expected"] is None for v in vectors)
    assert any(HEX64.fullmatch(v["input"].strip()) for v in vectors)


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_expected_is_the_python_rule(vector: dict[str, Any]) -> None:
    assert python_value(vector) == vector["expected"]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_browser_equals_python_unless_a_documented_limit_drops_it(
    vector: dict[str, Any],
) -> None:
    if vector["browser"] == vector["expected"]:
        assert not is_limit(vector), "a 'browser limit' note on a vector without a difference"
        return
    # The browser may drop what Python keeps, never send something Python would not.
    assert vector["browser"] is None
    assert vector["expected"] is not None
    assert is_limit(vector), f"the note must start with {BROWSER_LIMIT!r} and say why"


@pytest.mark.parametrize(
    ("key", "text"),
    [("ph", "national number"), ("st", "state names"), ("country", "country names")],
)
def test_the_documented_browser_limits_have_vectors(key: str, text: str) -> None:
    assert any(v["key"] == key and is_limit(v) and text in v["note"] for v in VECTORS)


def test_without_a_default_country_only_meta_takes_national_numbers() -> None:
    national = [v for v in VECTORS if v["key"] in ("ph", "ph_d") and "default_country" in v
                and not v["input"].lstrip(" (").startswith(("+", "00"))]  # fmt: skip
    assert {v["key"] for v in national} == {"ph", "ph_d"}
    for vector in national:
        alone = normalize(*RULES[vector["key"]], vector["input"])
        if vector["key"] == "ph":
            assert alone is None
        else:  # Meta's digits rule, never the E.164 digits the default country gives
            assert alone is not None
            assert alone != vector["expected"]


def test_em_g_vectors_cover_both_sides_of_the_only_when_different_rule() -> None:
    em = {v["input"]: v["browser"] for v in VECTORS if v["key"] == "em"}
    em_g = [v for v in VECTORS if v["key"] == "em_g" and v["input"] in em]
    assert any(v["browser"] is not None and v["browser"] == em[v["input"]] for v in em_g)
    assert any(v["browser"] is not None and v["browser"] != em[v["input"]] for v in em_g)


def find(key: str, text: str) -> dict[str, Any]:
    plain = [v for v in VECTORS if "default_country" not in v]
    (vector,) = [v for v in plain if v["key"] == key and v["input"] == text]
    return vector


def test_reference_vectors() -> None:
    email = find("em", "  John.Doe@Example.COM ")
    assert email["expected"] == email["browser"] == "john.doe@example.com"
    assert hashlib.sha256(email["expected"].encode()).hexdigest() == (
        "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f"
    )
    assert find("ph", "+1 650 555 1212")["browser"] == "+16505551212"
    assert find("ph_d", "+1 650 555 1212")["browser"] == "16505551212"

"""The loader's files as built: size budget, settings inlined, nothing a strict CSP forbids."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import orjson
import pytest

from config.settings import Settings
from container.loader import build_loader, build_pixels, loader_scripts, snippet
from container.loader.bundle import PIXELS_PATH, collect_query, country_config
from variables.pii import normalize

SOURCES = Path(__file__).parents[3] / "container" / "loader"
# The target for the loader a page downloads up front; the second file is only
# fetched after consent, and has a budget of its own so it cannot grow unnoticed either.
LOADER_BUDGET_GZ = 4096
CONSENTED_BUDGET_GZ = 3072
SNIPPET_BUDGET = 400


@pytest.fixture(scope="module")
def built() -> tuple[bytes, bytes]:
    pixels = build_pixels()
    loader = build_loader("demo", "strict", loader_scripts(Settings()), pixels)
    return loader.body, pixels.body


@pytest.mark.parametrize("country", [None, "DE"])
def test_loader_fits_its_gzip_budget(country: str | None) -> None:
    pixels = build_pixels()
    body = build_loader("demo", "strict", loader_scripts(Settings()), pixels,
                        default_country=country).body  # fmt: skip
    size = len(gzip.compress(body, 9))
    assert size <= LOADER_BUDGET_GZ, f"loader.js is {size} bytes gzipped"


def test_consented_file_fits_its_gzip_budget(built: tuple[bytes, bytes]) -> None:
    size = len(gzip.compress(built[1], 9))
    assert size <= CONSENTED_BUDGET_GZ, f"loader-consented.js is {size} bytes gzipped"


def test_snippet_fits_its_budget_and_is_the_documented_one() -> None:
    text = snippet("https://t.client.com/loader.js?id=acme")
    assert len(text.encode()) <= SNIPPET_BUDGET, len(text.encode())
    docs = (Path(__file__).parents[3] / "docs" / "loader.md").read_text(encoding="utf-8")
    assert text in docs, "docs/loader.md must show the snippet exactly as snippet() makes it"


def inlined(body: bytes) -> dict:
    text = body.decode()
    assert "TAGWIRE_CONFIG" not in text
    match = re.search(r"\}\)\(window,document,(\{.*\})\);\s*$", text)
    assert match, text[-300:]
    config: dict = orjson.loads(match.group(1))
    return config


def test_container_settings_are_inlined(built: tuple[bytes, bytes]) -> None:
    config = inlined(built[0])
    assert config["q"] == "id=demo"
    assert config["policy"] == "strict"
    assert config["scripts"]["meta"] == "https://connect.facebook.net/en_US/fbevents.js"
    assert config["module"] == f"{PIXELS_PATH}?v={build_pixels().version}"
    assert "country" not in config  # no default country


@pytest.mark.parametrize(
    ("default_country", "country"),
    [
        ("DE", {"dial": "49", "prefix": "0"}),
        ("us", {"dial": "1", "prefix": "1"}),
        ("IT", {"dial": "39", "prefix": ""}),  # Italy keeps the leading 0
        ("AR", {}),  # no simple rule: the browser drops national numbers
        ("AQ", {}),  # no phone metadata at all
    ],
)
def test_the_default_country_reaches_the_loader(default_country: str, country: dict) -> None:
    pixels = build_pixels()
    scripts = loader_scripts(Settings())
    loader = build_loader("demo", "strict", scripts, pixels, default_country=default_country)
    assert inlined(loader.body)["country"] == country
    assert loader.etag != build_loader("demo", "strict", scripts, pixels).etag


@pytest.mark.parametrize(
    ("country", "national"),
    [("DE", "030 9018 2077"), ("US", "(650) 253-0000"), ("GB", "020 7946 0958"),
     ("IT", "06 1234 5678"), ("FR", "06 12 34 56 78"), ("JP", "03-1234-5678"),
     ("RU", "8 (495) 123-45-67"), ("CH", "044 668 18 00")],
)  # fmt: skip
def test_the_browser_rule_gives_the_servers_number(country: str, national: str) -> None:
    """What consented.js does with `country`: trunk prefix off, calling code in front."""
    rule = country_config(country)
    assert rule is not None
    digits = re.sub(r"\D", "", national)
    if rule["prefix"] and digits.startswith(rule["prefix"]):
        digits = digits[len(rule["prefix"]) :]
    assert rule["dial"] + digits == normalize("meta", "phone", national, country)


def test_a_bad_default_country_is_refused_when_building() -> None:
    with pytest.raises(ValueError, match="default_country"):
        build_loader("demo", "strict", {}, build_pixels(), default_country="Germany")


def test_settings_change_the_etag() -> None:
    pixels = build_pixels()
    scripts = loader_scripts(Settings())
    one = build_loader("demo", "strict", scripts, pixels)
    assert one.etag == build_loader("demo", "strict", scripts, pixels).etag
    assert one.etag != build_loader("demo", "basic", scripts, pixels).etag
    assert one.etag != build_loader("other", "strict", scripts, pixels).etag
    assert one.etag != build_loader("demo", "strict", scripts, pixels, env="staging").etag
    assert one.etag == build_loader("demo", "strict", scripts, pixels, env="live").etag


@pytest.mark.parametrize(
    ("container_id", "env", "query"),
    [
        ("demo", "live", "id=demo"),
        ("demo", "pr-12", "id=demo&env=pr-12"),
        ("a b&c=d/é", "staging", "id=a%20b%26c%3Dd%2F%C3%A9&env=staging"),
    ],
)
def test_the_collect_query_names_the_environment_unless_it_is_live(container_id, env, query):
    assert collect_query(container_id, env) == query
    pixels = build_pixels()
    loader = build_loader(container_id, "strict", loader_scripts(Settings()), pixels, env=env)
    assert f'"q":"{query}"'.encode() in loader.body


@pytest.mark.parametrize("part", [0, 1], ids=["loader.js", "loader-consented.js"])
@pytest.mark.parametrize(
    "forbidden",
    [r"\beval\s*\(", r"new\s+Function", r"document\.write", r"\.innerHTML", r"\.outerHTML",
     r"insertAdjacentHTML", r"setAttribute\(\s*['\"]on", r"\bsetTimeout\(\s*['\"]",
     r"javascript:"],
)  # fmt: skip
def test_served_files_use_nothing_a_strict_csp_forbids(
    built: tuple[bytes, bytes], part: int, forbidden: str
) -> None:
    code = built[part].decode()  # minified: the sources' comments may name what they avoid
    assert not re.search(forbidden, code), f"uses {forbidden}"


def test_every_inserted_script_gets_the_nonce_and_the_policy() -> None:
    source = (SOURCES / "loader.js").read_text(encoding="utf-8")
    assert source.count("createElement('script')") == 1, "one place inserts scripts"
    assert "s.nonce = nonce;" in source
    assert "policy.createScriptURL(src)" in source
    consented = (SOURCES / "consented.js").read_text(encoding="utf-8")
    assert "createElement" not in consented, "the second file inserts through T.load only"

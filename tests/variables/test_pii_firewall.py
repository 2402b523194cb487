from hashlib import sha256

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers import make_hit
from variables.pii_firewall import _plainly_clean, _scrub_url, contains_pii, scrub_hit, scrub_text


def test_query_parameters_with_contact_names_or_emails_are_removed():
    wire = make_hit(page={"url": "https://w.example/thanks?email=jane%40x.com&utm_source=meta"
                                 "&phone=0791234567&q=reach+jane.doe%40example.com",
                          "referrer": "https://w.example/form?name=Jane+Doe"})  # fmt: skip
    found = scrub_hit(wire)
    assert wire["page"]["url"] == "https://w.example/thanks?utm_source=meta&q=reach+%5Bremoved%5D"
    assert wire["page"]["referrer"] == "https://w.example/form"
    assert found == {"page.url": 3, "page.referrer": 1}


def test_title_data_and_custom_free_text():
    wire = make_hit(
        page={"url": "https://w.example/", "title": "Welcome jane@example.com"},
        data={"search_string": "call +41 44 668 18 00", "lead_id": "L-1"},
        custom={"note": "a@b.co", "email": "x", "nested": {"tel": "123"}, "order": "1763900000000"},
    )
    found = scrub_hit(wire)
    assert wire["page"]["title"] == "Welcome [removed]"
    assert wire["data"] == {"search_string": "call [removed]", "lead_id": "L-1"}
    assert wire["custom"] == {"note": "[removed]", "nested": {}, "order": "1763900000000"}
    assert found == {"page.title": 1, "data.search_string": 1, "custom.note": 1,
                     "custom.email": 1, "custom.nested.tel": 1}  # fmt: skip


def test_hash_policy_keeps_a_joinable_value():
    wire = make_hit(
        page={"url": "https://w.example/?email=Jane%40X.com"}, custom={"n": "jane@x.com"}
    )
    scrub_hit(wire, "hash")
    assert wire["page"]["url"] == f"https://w.example/?email={sha256(b'jane@x.com').hexdigest()}"
    assert wire["custom"]["n"] == sha256(b"jane@x.com").hexdigest()


@pytest.mark.parametrize(
    "text", ["order 1763900000000", "v19.0", "price 1.234,56 EUR", "id=+12", "fb.1.1763.42"]
)
def test_ids_and_numbers_are_not_mistaken_for_pii(text):
    assert scrub_text(text) == (text, 0)
    assert not contains_pii(text)


@given(st.text(max_size=200))
def test_scrubbed_text_contains_no_pii(text):
    cleaned, _ = scrub_text(text)
    assert not contains_pii(cleaned)


def test_content_ids_are_scrubbed():
    wire = make_hit(data={"content_ids": ["sku-1", "jane@example.com"],
                          "contents": [{"id": "a@b.co", "quantity": 1}]})  # fmt: skip
    found = scrub_hit(wire)
    assert wire["data"]["content_ids"] == ["sku-1", "[removed]"]
    assert wire["data"]["contents"][0]["id"] == "[removed]"
    assert found == {"data.content_ids": 1, "data.contents": 1}


@given(st.text(alphabet=st.sampled_from("ab@.+%&=#?/:x19-_ " + "é"), max_size=60),
       st.sampled_from(["", "email=", "q=", "phone=", "Name="]))  # fmt: skip
def test_the_fast_path_never_skips_what_the_full_parse_finds(tail: str, key: str) -> None:
    """`_plainly_clean` only says a URL is clean when the parse would find nothing."""
    url = f"https://www.example.com/p?{key}{tail}"
    if _plainly_clean(url):
        assert _full_scrub(url) == (url, 0)


def _full_scrub(url: str) -> tuple[str, int]:
    from unittest import mock

    with mock.patch("variables.pii_firewall._plainly_clean", return_value=False):
        return _scrub_url(url, "remove")

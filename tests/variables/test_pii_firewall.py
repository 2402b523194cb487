import datetime as dt
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


# ---- percent-encoded emails and national phone numbers in custom fields ---------------

# (text in a custom field, whether the firewall takes something out of it)
CUSTOM_VECTORS = [
    ("jane%40example.com", True),  # an @ percent-encoded once
    ("Jane.Doe%40Example.COM", True),  # mixed case
    ("mailto:jane.doe%40example.co.uk", True),
    ("jane%2540example.com", True),  # encoded twice: %25 is the %
    ("reply to jane%40example.com today", True),
    ("030 9018 2077", True),
    ("030-9018-2077", True),
    ("030.9018.2077", True),
    ("(030) 9018 2077", True),
    ("call 030 9018 2077, thanks", True),
    ("0171 1234567", True),
    ("01 23 45 67 89", True),  # French pairs
    ("020 7946 0958", True),
    ("650-555-1234", True),
    ("(650) 555-1234", True),
    ("650.555.1234", True),
    ("order 1763900000000", False),  # a millisecond timestamp
    ("1763900000", False),
    ("ORD-030-9018-2077", False),  # part of an id
    ("0123456789", False),  # digits without separators are an id, not a phone
    ("0001-2345-6789", False),  # no trunk 0 followed by an area code
    ("1.234,56", False),
    ("0.99", False),
    ("12 345,00 EUR", False),
    ("price 1 000 000", False),
    ("01.02.2024", False),
    ("01.02.2024 10:30:00", False),
    ("2024-01-15T10:30:00Z", False),
    ("05-03-1995", False),
    ("12/31/1999", False),
    ("01067", False),  # a German postal code
    ("02134-1234", False),  # a US ZIP+4 with a leading 0: 9 digits
    ("SW1A 1AA", False),
    ("0123 4567 8901 2345", False),  # 16 digits: a card-like number, not a phone
    ("DE89 3704 0044 0532 0130 00", False),  # an IBAN
    ("555-123-4567", False),  # no North American exchange starts with 1
    ("10.0.0.1", False),
    ("v0.12.3", False),
    ("jane%252540example.com", False),  # encoded three times: not an address any more
]


@pytest.mark.parametrize(("text", "flagged"), CUSTOM_VECTORS)
def test_custom_field_vectors(text: str, flagged: bool) -> None:
    wire = make_hit(custom={"note": text})
    found = scrub_hit(wire)
    assert contains_pii(text, national=True) is flagged
    if flagged:
        assert found == {"custom.note": 1}
        assert "[removed]" in wire["custom"]["note"]
    else:
        assert found == {}
        assert wire["custom"]["note"] == text


def test_national_numbers_are_left_alone_outside_custom() -> None:
    """Only custom values are free text a site fills itself; elsewhere a national shape
    is too likely an id (data.transaction_id) to remove it."""
    wire = make_hit(data={"transaction_id": "030-9018-2077"}, custom={"n": "030-9018-2077"})
    assert scrub_hit(wire) == {"custom.n": 1}
    assert wire["data"]["transaction_id"] == "030-9018-2077"
    assert not contains_pii("030-9018-2077")


def test_hash_policy_hashes_the_decoded_address() -> None:
    wire = make_hit(custom={"a": "Jane%40X.com", "b": "jane%2540x.com", "c": "jane@x.com"})
    scrub_hit(wire, "hash")
    assert set(wire["custom"].values()) == {sha256(b"jane@x.com").hexdigest()}


def test_a_double_encoded_address_in_a_url_is_removed() -> None:
    wire = make_hit(page={"url": "https://w.example/p?ref=jane%2540example.com&x=1"})
    assert scrub_hit(wire) == {"page.url": 1}
    assert wire["page"]["url"] == "https://w.example/p?ref=%5Bremoved%5D&x=1"


LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=20)


@st.composite
def encoded_emails(draw: st.DrawFn) -> str:
    labels = draw(st.lists(LABEL, min_size=1, max_size=3))
    tld = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6))
    at = draw(st.sampled_from(["%40", "%2540"]))
    address = draw(LOCAL) + at + ".".join([*labels, tld])
    return "".join(ch.upper() if draw(st.booleans()) else ch for ch in address)  # any mix of case


@st.composite
def national_numbers(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # North American
        area, exchange = draw(st.integers(200, 999)), draw(st.integers(200, 999))
        line = draw(st.integers(0, 9999))
        sep = draw(st.sampled_from([" ", "-", "."]))
        if draw(st.booleans()):
            return f"({area}) {exchange}{sep}{line:04d}"
        return f"{area}{sep}{exchange}{sep}{line:04d}"
    area = "0" + draw(st.sampled_from("123456789")) + draw(st.text("0123456789", max_size=3))
    left = draw(st.integers(10, 13)) - len(area)  # digits after the area code
    count = draw(st.integers(max(1, -(-left // 8)), min(4, left // 2)))
    groups = []
    for i in range(count, 0, -1):  # each group 2-8 digits, the last takes the rest
        low, high = max(2, left - 8 * (i - 1)), min(8, left - 2 * (i - 1))
        size = left if i == 1 else draw(st.integers(low, high))
        groups.append(draw(st.text("0123456789", min_size=size, max_size=size)))
        left -= size
    sep = draw(st.sampled_from([" ", "-", "."]))
    return sep.join([area, *groups])


AROUND = st.sampled_from(["", "call ", "Tel: ", "mobile (", "reach me on "])
AFTER = st.sampled_from(["", " today", ", thanks", ".", ")"])


@given(encoded_emails(), AROUND, AFTER)
def test_percent_encoded_emails_in_custom_are_removed(email: str, before: str, after: str):
    text = before + email + after
    wire = make_hit(custom={"note": text})
    assert scrub_hit(wire) == {"custom.note": 1}
    assert not contains_pii(wire["custom"]["note"], national=True)
    assert "%40" not in wire["custom"]["note"]
    assert "%2540" not in wire["custom"]["note"]


@given(national_numbers(), AROUND, AFTER)
def test_national_numbers_in_custom_are_removed(number: str, before: str, after: str) -> None:
    text = before + number + after
    wire = make_hit(custom={"note": text})
    assert scrub_hit(wire) == {"custom.note": 1}
    assert wire["custom"]["note"] == before + "[removed]" + after


DATE_FORMATS = ["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d-%m-%Y", "%Y%m%d", "%d.%m.%Y %H:%M",
                "%Y-%m-%dT%H:%M:%SZ"]  # fmt: skip
DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
ORDINARY = st.one_of(
    st.integers(0, 10**16).map(str),  # ids, timestamps, amounts in cents
    st.integers(0, 10**12).map(lambda n: f"ORD-{n:010d}"),
    st.integers(0, 10**9).map(lambda n: f"#{n}"),
    st.builds(lambda n, c: f"{n:,}.{c:02d}", st.integers(0, 10**9), st.integers(0, 99)),
    st.builds(
        lambda n, c: f"{n:,}.{c:02d} EUR".replace(",", "_").replace(".", ",").replace("_", "."),
        st.integers(0, 10**9),
        st.integers(0, 99),
    ),
    st.builds(lambda n: f"{n:,}".replace(",", " "), st.integers(0, 10**12)),
    st.builds(lambda d, f: d.strftime(f), DATES, st.sampled_from(DATE_FORMATS)),
    st.datetimes().map(lambda d: d.isoformat()),
    st.integers(0, 99999).map(lambda n: f"{n:05d}"),  # postal codes
    st.builds(lambda a, b: f"{a:05d}-{b:04d}", st.integers(0, 99999), st.integers(0, 9999)),
    st.sampled_from(["SW1A 1AA", "EC1A 1BB", "H0H 0H0", "75008", "1010"]),
    st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", *[st.integers(0, 255)] * 4),  # IPs
)


@given(ORDINARY, st.sampled_from(["", "order ", "total: ", "on "]))
def test_ordinary_numbers_are_not_mistaken_for_phones(text: str, before: str) -> None:
    wire = make_hit(custom={"note": before + text})
    assert scrub_hit(wire) == {}
    assert wire["custom"]["note"] == before + text


@given(st.text(alphabet="0123456789 .-()+@%4a,:/", max_size=80))
def test_scrubbed_custom_text_contains_no_pii(text: str) -> None:
    cleaned, count = scrub_text(text, national=True)
    assert not contains_pii(cleaned, national=True)
    assert (count > 0) is contains_pii(text, national=True)

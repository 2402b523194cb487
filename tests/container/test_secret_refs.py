from urllib.parse import quote

import orjson
import pytest

from container.secret_refs import MissingSecret, References, json_text, url_text

KEY = bytes(range(32))
VALUES = {("shop", "meta-token"): "EAAB.x/y+z", ("shop", "ga4-secret"): 's3"cr&t'}
REFS = References(KEY)


def resolve(container, name):
    return VALUES.get((container, name))


def test_a_reference_is_url_unreserved_so_escaping_leaves_it_alone():
    ref = REFS.reference("shop-1_a", "ga4-secret-2_b")
    assert quote(ref, safe="") == ref
    assert orjson.loads(orjson.dumps({"t": ref})) == {"t": ref}


def test_fill_writes_each_value_for_where_it_goes():
    meta, ga4 = REFS.reference("shop", "meta-token"), REFS.reference("shop", "ga4-secret")
    body = orjson.dumps({"token": meta, "other": ga4}).decode()
    filled, used = REFS.fill(body, "shop", resolve, json_text)
    assert orjson.loads(filled) == {"token": "EAAB.x/y+z", "other": 's3"cr&t'}
    assert ("EAAB.x/y+z", meta) in used
    assert ('s3"cr&t', ga4) in used  # the raw value too, to mask an echo of it
    url, _ = REFS.fill(f"https://x.example/c?api_secret={ga4}", "shop", resolve, url_text)
    assert url == "https://x.example/c?api_secret=s3%22cr%26t"


def test_text_without_references_is_returned_as_is():
    text = "plain ~tw-secret~ but not a reference ~tw-secret~Shop~x~"
    assert REFS.fill(text, "shop", resolve, str) == (text, [])


def test_a_reference_with_a_wrong_mac_is_left_as_text():
    forged = "~tw-secret~shop~meta-token~" + "0" * 24 + "~"
    assert REFS.fill(forged, "shop", resolve, str) == (forged, [])
    other_node = References(bytes(32)).reference("shop", "meta-token")
    assert REFS.fill(other_node, "shop", resolve, str) == (other_node, [])


def test_another_containers_reference_is_not_filled_for_this_row():
    victim = REFS.reference("victim", "meta-token")
    values = {("victim", "meta-token"): "VICTIM-TOKEN"}
    text, used = REFS.fill(f"page={victim}", "shop", lambda c, n: values.get((c, n)), str)
    assert (text, used) == (f"page={victim}", [])


def test_a_missing_secret_names_the_container_and_the_secret():
    with pytest.raises(MissingSecret, match="secret 'gone' of container 'shop'"):
        REFS.fill(REFS.reference("shop", "gone"), "shop", resolve, str)


def test_a_short_key_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        References(b"short")

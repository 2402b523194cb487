from urllib.parse import quote

import orjson
import pytest

from container.secret_refs import MissingSecret, fill, reference

VALUES = {("shop", "meta-token"): "EAAB.x/y+z", ("shop", "ga4.secret"): "s3cr3t"}


def resolve(container, name):
    return VALUES.get((container, name))


def test_a_reference_is_url_unreserved_so_escaping_leaves_it_alone():
    ref = reference("shop-1_a", "ga4.secret-2_b")
    assert quote(ref, safe="") == ref
    assert orjson.loads(orjson.dumps({"t": ref})) == {"t": ref}


def test_fill_replaces_every_reference_and_reports_what_it_used():
    text = f"Bearer {reference('shop', 'meta-token')}&k={reference('shop', 'ga4.secret')}"
    filled, used = fill(text, resolve)
    assert filled == "Bearer EAAB.x/y+z&k=s3cr3t"
    assert used == [("EAAB.x/y+z", reference("shop", "meta-token")),
                    ("s3cr3t", reference("shop", "ga4.secret"))]  # fmt: skip


def test_text_without_references_is_returned_as_is():
    text = "plain ~tw-secret~ but not a reference ~tw-secret~Shop~x~"
    assert fill(text, resolve) == (text, [])


def test_a_missing_secret_names_the_container_and_the_secret():
    with pytest.raises(MissingSecret, match="secret 'gone' of container 'shop'"):
        fill(reference("shop", "gone"), resolve)


def test_references_are_per_container():
    with pytest.raises(MissingSecret, match="secret 'meta-token' of container 'other'"):
        fill(reference("other", "meta-token"), resolve)

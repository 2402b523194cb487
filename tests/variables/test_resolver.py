import pytest

from tests.helpers import hit_record, make_hit
from variables.resolver import Resolver

PAGE = {
    "url": "https://www.example.com/de/danke?utm_source=meta&empty=&x=1&x=2#top",
    "referrer": "https://www.google.com/search?q=x",
    "title": "Danke",
    "locale": "de_CH",
}


def resolver(**facts):
    return Resolver(
        hit_record(make_hit(page=PAGE), **facts), {"double": lambda r: 2 * r.get("data.value")}
    )


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("event", "lead"),
        ("event_id", "0b8f7a1e-7c2d-4f7b-9a51-3e0c2b9d6f10"),
        ("page.host", "www.example.com"),
        ("page.path", "/de/danke"),
        ("page.query", "utm_source=meta&empty=&x=1&x=2"),
        ("page.query.utm_source", "meta"),
        ("page.query.x", "1"),
        ("page.query.empty", ""),
        ("page.query.missing", None),
        ("page.fragment", "top"),
        ("page.referrer_host", "www.google.com"),
        ("page.title", "Danke"),
        ("page.locale", "de_CH"),
        ("page.language", "de"),
        ("data.value", 50),
        ("data.nope", None),
        ("custom.plan", "pro"),
        ("click.gclid", "Cj0KCQ"),
        ("consent.ad_storage", "granted"),
        ("client.ip", "203.0.113.5"),
        ("client.user_agent", "Mozilla/5.0"),
        ("client.gpc", False),
        ("trace_id", "trace"),
        ("var.double", 100),
    ],
)
def test_builtin_and_user_references(ref, expected):
    assert resolver().get(ref) == expected


def test_cookies_and_headers():
    r = resolver(cookies={"ab": "b"}, headers=[(b"x-country", b"CH"), (b"accept", b"*/*")])
    assert r.get("cookie.ab") == "b"
    assert r.get("cookie.nope") is None
    assert r.get("header.X-Country") == "CH"
    assert r.get("header.nope") is None


def test_values_are_memoised_per_hit():
    calls = []

    def counted(r):
        calls.append(1)
        return "v"

    r = Resolver(hit_record(), {"v": counted})
    assert r.get("var.v") == r.get("var.v") == "v"
    assert calls == [1]


def test_page_without_url():
    r = Resolver(hit_record(make_hit(page={})), {})
    assert r.get("page.path") is None
    assert r.get("page.query.x") is None


def test_references_to_unknown_hit_fields_are_refused():
    from variables.references import reference_problem

    assert "not a field of the hit" in reference_problem("data.valeu", set())
    assert reference_problem("data.value", set()) is None
    assert reference_problem("custom.anything_goes", set()) is None

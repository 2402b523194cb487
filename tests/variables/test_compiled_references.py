"""References compiled to accessors, and variables compiled with their input's accessor,
read what the straightforward resolver they replaced read
(tests/variables/reference_resolver.py), on any hit, for any reference string."""

import math
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.helpers import hit_record, json_values, make_hit
from tests.variables.reference_resolver import ReferenceResolver, reference_variable
from variables.references import BUILTIN_EXACT
from variables.resolver import Resolver, accessor
from variables.user_defined import check_variable, compile_variable

URLS = [
    "https://www.example.de/de/danke?utm_campaign=winter_sale_2026&utm_source=meta",
    "https://WWW.Example.DE:8080/a%20b/?q=a%20b&q=2&x&e=&plus=a+b&%71=enc#frag",
    "http://user:pw@[::1]:80/p;params?q=1", "//host.example/p?q", "/relative?q=1#", "",
    "mailto:someone@example.com", "https://example.com?", "https://ex ample.com/\t?q=\x00",
    "http://example.com/?q=%E2%82%AC&q=%ZZ",
]  # fmt: skip
REFS = [
    *sorted(BUILTIN_EXACT),
    "data.value", "data.currency", "data.contents", "custom.x", "custom.x.y", "custom.plan",
    "click.gclid", "user.em", "consent.ad_storage", "consent.gpc", "cookie.c", "cookie.nope",
    "header.x-a", "header.X-A", "header.nope", "page.query.q", "page.query.e",
    "page.query.plus", "page.query.nope", "page.query.", "page.other", "var.v", "var.nope",
    "client.nope", "nope", "data", "header.€", "custom.x.y.z",
]  # fmt: skip
texts = st.text(max_size=12)
pages = st.fixed_dictionaries(
    {},
    optional={
        "url": st.sampled_from(URLS) | texts,
        "locale": st.sampled_from(["de-CH", "en_GB", "FR", "", "-x", "_"]) | texts,
        "referrer": st.sampled_from(URLS) | texts,
        "title": texts,
    },
)
hits = st.builds(
    lambda page, custom, data, consent, cookies, headers, gpc: hit_record(
        make_hit(page=page, custom=custom, data=data, consent=consent),
        cookies=cookies, headers=headers, sec_gpc=gpc,
    ),
    st.none() | pages,
    st.none() | st.dictionaries(st.sampled_from(["x", "plan", "y"]), json_values(width=2,
                                                                                leaves=6)),
    st.none() | st.fixed_dictionaries({}, optional={"value": json_values(width=1, leaves=2),
                                                    "currency": texts}),
    st.none() | st.fixed_dictionaries({}, optional={"gpc": st.booleans(),
                                                    "ad_storage": texts}),
    st.dictionaries(st.sampled_from(["c", "d"]), texts, max_size=2),
    st.lists(st.tuples(st.sampled_from([b"x-a", b"X-A", b"accept"]), st.binary(max_size=6)),
             max_size=3),
    st.booleans(),
)  # fmt: skip


def outcome(call: Any) -> Any:
    try:
        return call()
    except Exception as exc:  # any exception, compared by type
        return type(exc)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@settings(max_examples=700, deadline=None)
@given(hits, st.permutations(REFS), json_values(width=2, leaves=4))
def test_an_accessor_reads_what_the_resolver_read(hit, refs, variable_value):
    variables = {"v": lambda r: variable_value}
    fast = Resolver(hit, variables)
    slow = ReferenceResolver(hit, variables)
    for ref in refs:  # every reference, in any order: memoised values must not leak
        expected = outcome(lambda: slow.get(ref))  # noqa: B023 - called at once
        assert same(outcome(lambda: fast.get(ref)), expected), ref  # noqa: B023
        assert same(outcome(lambda: accessor(ref)(fast)), expected), ref  # noqa: B023


def test_a_variable_is_computed_once_per_hit_and_the_host_read_once():
    calls = []
    hit = hit_record(make_hit(page={"url": "https://WWW.Example.de/p"}))
    r = Resolver(hit, {"v": lambda r: calls.append(1) or "x"})
    assert [r.get("var.v"), accessor("var.v")(r), r.get("var.v")] == ["x", "x", "x"]
    assert calls == [1]
    assert r.get("page.host") == accessor("page.host")(r) == "www.example.de"
    assert r._cache == {"var.v": "x", "page.host": "www.example.de"}


PATTERNS = ["^/(en|de)/(thanks|danke)$", "^(..)/", "(a)|(b)", "x", "^$", "(?i)(DE)", "(é+)"]
OUTPUTS = ["$1", "$2-$1", "$1$1 $9", "plain", "$$1", "$0", "a$", 7, True, None, ""]


@st.composite
def variables(draw: Any) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["constant", "event_field", "cookie", "query_param", "lookup",
                                 "regex_table"]))  # fmt: skip
    params: dict[str, Any] = {}
    if kind == "constant":
        params["value"] = draw(st.none() | st.booleans() | st.integers() | st.floats() | texts)
    elif kind == "event_field":
        paths = ["custom.x", "custom.x.y", "data.value", "page", "page.locale", "custom.x.y.z"]
        params["path"] = draw(st.sampled_from(paths))
    elif kind in ("cookie", "query_param"):
        params["name"] = draw(st.sampled_from(["c", "q", "e", "plus", "nope"]))
    else:
        params["input"] = draw(st.sampled_from(["page.path", "custom.x", "var.v", "page.host",
                                                "data.value", "cookie.c"]))  # fmt: skip
    if kind == "lookup":
        keys = st.sampled_from(["/de/danke", "50", "true", "1", "", "x"]) | texts
        params["map"] = draw(st.dictionaries(keys, st.none() | st.integers() | texts,
                                             max_size=4))  # fmt: skip
    if kind == "regex_table":
        rows = st.fixed_dictionaries({"pattern": st.sampled_from(PATTERNS),
                                      "output": st.sampled_from(OUTPUTS)})  # fmt: skip
        params["rows"] = draw(st.lists(rows, min_size=1, max_size=3))
        if draw(st.booleans()):
            params["ignore_case"] = draw(st.booleans())
    if kind != "constant" and draw(st.booleans()):
        params["default"] = draw(st.none() | st.integers() | texts)
    return kind, params


@settings(max_examples=1500, deadline=None)
@given(variables(), hits, json_values(width=2, leaves=4))
def test_a_compiled_variable_computes_what_it_computed(variable, hit, variable_value):
    kind, params = variable
    assume(check_variable(kind, params, {"v"}) == [])
    others = {"v": lambda r: variable_value}
    fast = outcome(lambda: compile_variable(kind, params)(Resolver(hit, others)))
    slow = outcome(lambda: reference_variable(kind, params)(ReferenceResolver(hit, others)))
    assert same(fast, slow)

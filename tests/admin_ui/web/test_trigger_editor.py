"""The trigger editor: its "would it fire?" check is the data plane's own decision, and a
save goes through the workspace's validation."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from admin_ui.versions import Versions
from admin_ui.web.trigger_editor import SAMPLE_HIT, would_fire
from config.schema import apply_defaults
from container.pipeline import CompiledContainer, PipelineResult
from tags.runtime import TemplateRuntime
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_preview_hit,
    add_user,
    browser,
    csrf_of,
    run,
    sign_in,
    with_store,
)
from triggers.conditions import check_condition
from variables.hit import Hit

NEW = "/admin/containers/shop/triggers/new"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "tagwire.db"
    add_user(path, "owner@agency.example", admin=True)

    async def setup(store):
        await Versions(store).import_document(DOCUMENT, "test", "test")

    run(with_store(path, setup))
    return path


def workspace(db: Path) -> dict:
    return orjson.loads(run(with_store(db, lambda s: s.get_workspace("shop"))).document)


def form(csrf: str, action: str, **fields: str) -> dict:
    base = {
        "csrf": csrf,
        "original": "",
        "id": "big-leads",
        "name": "Big leads",
        "events": "lead",
        "conditions": '{"var": "data.value", "op": "gt", "value": 100}',
        "exceptions": "",
        "sample": orjson.dumps(SAMPLE_HIT).decode(),
        "action": action,
    }
    return {**base, **fields}


def test_the_check_says_whether_it_would_fire_on_the_sample(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        token = csrf_of(client, NEW)
        small = client.post("/admin/containers/shop/triggers", data=form(token, "check"))
        big_hit = {**SAMPLE_HIT, "data": {"value": 500}}
        big = client.post(
            "/admin/containers/shop/triggers",
            data=form(token, "check", sample=orjson.dumps(big_hit).decode()),
        )
    assert "It would not fire on this hit." in small.text
    assert "It would fire on this hit." in big.text
    assert [t["id"] for t in workspace(db)["triggers"]] == ["leads"]  # a check saves nothing


def test_a_bad_operator_is_named_and_nothing_is_saved(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        token = csrf_of(client, NEW)
        bad = '{"var": "data.value", "op": "bigger", "value": 1}'
        checked = client.post(
            "/admin/containers/shop/triggers", data=form(token, "check", conditions=bad)
        )
        saved = client.post(
            "/admin/containers/shop/triggers", data=form(token, "save", conditions=bad)
        )
    assert checked.status_code == saved.status_code == 400
    assert "must be one of equals" in checked.text
    assert "Nothing was saved" in saved.text
    assert [t["id"] for t in workspace(db)["triggers"]] == ["leads"]


def test_saving_and_renaming_keeps_the_tags_firing(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        token = csrf_of(client, NEW)
        renamed = form(
            token, "save", original="leads", id="all-leads", name="All leads", conditions=""
        )
        assert client.post("/admin/containers/shop/triggers", data=renamed).status_code == 303
    doc = workspace(db)
    assert [t["id"] for t in doc["triggers"]] == ["all-leads"]
    assert doc["tags"][0]["firing_triggers"] == ["all-leads"]


# --- the preview agrees with the data plane ---------------------------------------------

GRANTED = {
    "ad_storage": "granted",
    "analytics_storage": "granted",
    "ad_user_data": "granted",
    "ad_personalization": "granted",
}
LEAVES = st.one_of(
    st.builds(
        lambda op, v: {"var": "data.value", "op": op, "value": v},
        st.sampled_from(["gt", "gte", "lt", "lte"]),
        st.integers(-5, 200),
    ),
    st.builds(
        lambda op, v: {"var": "data.currency", "op": op, "value": v},
        st.sampled_from(["equals", "not_equals", "starts_with", "contains"]),
        st.sampled_from(["EUR", "USD", "E", "eur"]),
    ),
    st.builds(
        lambda op: {"var": "data.lead_id", "op": op}, st.sampled_from(["exists", "not_exists"])
    ),
    st.builds(
        lambda v: {"var": "page.path", "op": "in", "value": v},
        st.lists(st.sampled_from(["/thanks", "/lead", "/"]), min_size=1, max_size=3),
    ),
)
CONDITIONS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=6,
)
HITS = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "event": st.sampled_from(["lead", "purchase"]),
        "event_id": st.just("evt-00000001"),
        "consent": st.just(GRANTED),
        "page": st.fixed_dictionaries(
            {
                "url": st.sampled_from(
                    [
                        "https://www.example.com/thanks",
                        "https://www.example.com/lead?x=1",
                        "https://www.example.com/",
                    ]
                )
            }
        ),
        "data": st.fixed_dictionaries(
            {},
            optional={
                "value": st.integers(-10, 300),
                "currency": st.sampled_from(["EUR", "USD"]),
                "lead_id": st.just("L-1"),
            },
        ),
    }
)


def data_plane_fires(trigger: dict, hit: dict) -> bool:
    """Whether the node's compiled container runs the tag on the trigger for this hit."""
    doc = copy.deepcopy(DOCUMENT)
    doc["triggers"] = [trigger]
    doc["tags"][0]["firing_triggers"] = [trigger["id"]]
    container = CompiledContainer.compile(apply_defaults(doc), TemplateRuntime())
    wired = Hit(
        "shop",
        hit["event"],
        hit["event_id"],
        hit,
        1_800_000_000_000,
        1_800_000_000_000,
        "203.0.113.9",
        "Mozilla/5.0",
        None,
        False,
        "t",
        {},
        [],
    )
    result = PipelineResult()
    container.run(wired, result)
    return bool(result.rows)


@settings(max_examples=50, deadline=None)
@given(condition=CONDITIONS, exception=st.none() | LEAVES, hit=HITS)
def test_the_check_agrees_with_the_data_plane(condition, exception, hit):
    trigger = {"id": "t", "name": "T", "events": ["lead"], "conditions": condition}
    if exception is not None:
        trigger["exceptions"] = [exception]
    assert would_fire(trigger, [], hit) == data_plane_fires(trigger, hit)


# --- the condition builder ----------------------------------------------------------------


class PageForm(HTMLParser):
    """The fields a browser sends for the page's trigger form: text, hidden and textarea
    values, the selected options, checked boxes and radios; no buttons (the one pressed is
    added by `submit`)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.inside = False
        self.textarea: str | None = None
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.option: list | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action", "").endswith("/triggers")
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self.textarea, self.text = a["name"], ""
        elif tag == "select":
            self.select, self.options = a["name"], []
        elif tag == "option" and self.select is not None:
            self.option, self.text = [a.get("value"), "selected" in a], ""

    def handle_data(self, data: str) -> None:
        self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text))
            self.textarea = None
        elif tag == "option" and self.option is not None:
            value = self.option[0] if self.option[0] is not None else self.text
            self.options.append((value, self.option[1]))
            self.option = None
        elif tag == "select" and self.select is not None:
            chosen = [v for v, selected in self.options if selected] or [self.options[0][0]]
            self.fields.append((self.select, chosen[0]))
            self.select = None


def fields_of(html: str) -> dict[str, list[str]]:
    parser = PageForm()
    parser.feed(html)
    fields: dict[str, list[str]] = {}
    for name, value in parser.fields:
        fields.setdefault(name, []).append(value)
    return fields


def submit(client, html: str, action: str, **changes: str | None):
    """Press the button `action` on the page `html`, after typing `changes` (a dotted
    field name as `c__0__var`; None unticks a checkbox)."""
    fields = fields_of(html)
    for key, value in changes.items():
        name = key.replace("__", ".")
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = [value]
    fields["action"] = [action]
    return client.post("/admin/containers/shop/triggers", data=fields)


def builder_form(csrf: str, fields: dict[str, str], action: str = "save") -> dict:
    data = form(csrf, action, original="leads", id="leads", name="Leads", conditions="")
    return {**data, "mode": "builder", **fields}


def rows(path: str, *leaves: tuple[str, str, str]) -> dict[str, str]:
    """Builder fields for rows `path.0`, `path.1`, ... of (reference, operator, value)."""
    fields = {}
    for i, (ref, op, value) in enumerate(leaves):
        fields.update({f"{path}.{i}.var": ref, f"{path}.{i}.op": op, f"{path}.{i}.value": value})
    return fields


def test_the_builder_types_each_value_by_its_operator(db):
    fields = {"c.match": "any"} | rows(
        "c",
        ("data.value", "gte", "25.5"),
        ("page.path", "in", "/thanks, /done"),
        ("data.lead_id", "exists", "ignored"),
        ("", "equals", ""),
    )
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        saved = client.post(
            "/admin/containers/shop/triggers", data=builder_form(csrf_of(client, NEW), fields)
        )
        assert saved.status_code == 303, saved.text
        page = client.get("/admin/containers/shop/triggers/leads").text
    [trigger] = workspace(db)["triggers"]
    assert trigger["conditions"] == {
        "any": [
            {"var": "data.value", "op": "gte", "value": 25.5},
            {"var": "page.path", "op": "in", "value": ["/thanks", "/done"]},
            {"var": "data.lead_id", "op": "exists"},
        ]
    }
    assert 'value="/thanks, /done"' in page  # shown again in the builder
    assert '<option value="any" selected>' in page


def test_one_builder_row_is_a_leaf_and_a_bad_number_is_named(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        token = csrf_of(client, NEW)
        one = {"c.match": "all"} | rows("c", ("data.value", "gt", "0"))
        saved = client.post("/admin/containers/shop/triggers", data=builder_form(token, one))
        bad = {"c.match": "all"} | rows("c", ("", "equals", ""), ("data.value", "gt", "lots"))
        refused = client.post("/admin/containers/shop/triggers", data=builder_form(token, bad))
    assert saved.status_code == 303
    assert refused.status_code == 400
    assert "c.1.value: gt needs a number, not &#39;lots&#39;" in refused.text
    assert 'value="lots"' in refused.text  # kept as typed
    assert workspace(db)["triggers"][0]["conditions"] == {
        "var": "data.value",
        "op": "gt",
        "value": 0,
    }


NESTED_FIELDS = (
    {"c.match": "all", "c.1.match": "any", "c.1.2.match": "all", "x.0.match": "any"}
    | rows("c", ("data.value", "gt", "0"))
    | rows("c.1", ("page.path", "equals", "/a"), ("page.path", "starts_with", "/B"))
    | {"c.1.1.icase": "1"}
    | rows("c.1.2", ("data.currency", "in", "EUR, USD"), ("data.value", "equals", "50"))
    | {"c.1.2.1.json": "1"}
    | rows("x.0", ("page.path", "equals", "/internal"))
    | {"x.1.match": "all"}
    | rows("x.1", ("data.lead_id", "not_exists", ""), ("data.currency", "equals", " X "))
)
NESTED = {
    "all": [
        {"var": "data.value", "op": "gt", "value": 0},
        {
            "any": [
                {"var": "page.path", "op": "equals", "value": "/a"},
                {"var": "page.path", "op": "starts_with", "value": "/B", "ignore_case": True},
                {
                    "all": [
                        {"var": "data.currency", "op": "in", "value": ["EUR", "USD"]},
                        {"var": "data.value", "op": "equals", "value": 50},
                    ]
                },
            ]
        },
    ]
}
EXCEPTIONS = [
    {"var": "page.path", "op": "equals", "value": "/internal"},
    {
        "all": [
            {"var": "data.lead_id", "op": "not_exists"},
            {"var": "data.currency", "op": "equals", "value": "X"},
        ]
    },
]


def test_nested_groups_and_exceptions_built_in_the_form_are_saved(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        saved = client.post(
            "/admin/containers/shop/triggers",
            data=builder_form(csrf_of(client, NEW), NESTED_FIELDS),
        )
        assert saved.status_code == 303, saved.text
        page = client.get("/admin/containers/shop/triggers/leads").text
    [trigger] = workspace(db)["triggers"]
    assert trigger["conditions"] == NESTED
    assert trigger["exceptions"] == EXCEPTIONS
    opened = fields_of(page)
    assert opened["c.1.2.1.json"] == ["1"]
    assert opened["c.1.2.1.value"] == ["50"]
    assert opened["x.1.1.value"] == ["X"]
    assert opened["c.1.1.icase"] == ["1"]


def test_the_check_runs_on_what_the_builder_made(db):
    big_eur = {
        **SAMPLE_HIT,
        "data": {"value": 50, "currency": "EUR"},
        "page": {"url": "https://www.example.com/a"},
    }
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        token = csrf_of(client, NEW)
        fires = client.post(
            "/admin/containers/shop/triggers",
            data=builder_form(token, NESTED_FIELDS, "check")
            | {"sample": orjson.dumps(big_eur).decode()},
        )
        excepted = {**big_eur, "page": {"url": "https://www.example.com/internal"}}
        stopped = client.post(
            "/admin/containers/shop/triggers",
            data=builder_form(token, NESTED_FIELDS, "check")
            | {"sample": orjson.dumps(excepted).decode()},
        )
    assert "It would fire on this hit." in fires.text
    assert "It would not fire on this hit." in stopped.text
    assert fields_of(fires.text)["x.1.1.value"] == [" X "]  # the builder as typed
    shown = orjson.loads(fields_of(fires.text)["conditions"][0])  # the JSON follows the builder
    assert shown == NESTED
    assert would_fire({"id": "t", "events": ["lead"], "conditions": NESTED,
                       "exceptions": EXCEPTIONS}, [], big_eur)  # fmt: skip
    assert [t["id"] for t in workspace(db)["triggers"]] == ["leads"]


def test_a_refused_row_is_named_next_to_it(db):
    regex = {"c.match": "all"} | rows("c", ("data.value", "gt", "1"), ("page.path", "regex", "("))
    unknown = {"c.match": "all"} | rows(
        "c", ("page.path", "equals", "/a"), ("var.nope", "exists", "")
    )
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        token = csrf_of(client, NEW)
        checked = client.post(
            "/admin/containers/shop/triggers", data=builder_form(token, regex, "check")
        )
        saved = client.post("/admin/containers/shop/triggers", data=builder_form(token, unknown))
    assert checked.status_code == saved.status_code == 400
    assert '<p class="field-error cond-error">c.1.value:' in checked.text
    assert '<p class="field-error cond-error">c.1.var:' in saved.text
    assert "Nothing was saved" in saved.text


def test_rows_groups_and_exceptions_are_added_and_removed_by_round_trips(db):
    sample = '{"event": "lead", "data": {"value": 3}}'
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        page = client.get(NEW).text
        assert list(fields_of(page)) == [
            "csrf",
            "original",
            "id",
            "name",
            "events",
            "mode",
            "c.match",
            "c.0.var",
            "c.0.op",
            "c.0.value",
            "conditions",
            "exceptions",
            "sample",
        ]
        typed = {
            "id": "typed",
            "name": "Typed",
            "events": "lead, sale",
            "sample": sample,
            "c__0__var": "data.value",
            "c__0__op": "gt",
            "c__0__value": "1",
            "c__match": "any",
        }
        grouped = submit(client, page, "group:c", **typed)
        assert grouped.status_code == 200
        with_row = submit(client, grouped.text, "row:c.1", c__1__0__var="page.path")
        excepted = submit(client, with_row.text, "exception", c__1__1__var="event")
        fields = fields_of(excepted.text)
        removed = submit(client, excepted.text, "remove:c.1.0")
        no_exception = submit(client, removed.text, "remove:x.0")
    assert {
        k: fields[k] for k in ("id", "name", "events", "sample", "c.match", "c.0.op", "c.0.value")
    } == {
        "id": ["typed"],
        "name": ["Typed"],
        "events": ["lead, sale"],
        "sample": [sample],
        "c.match": ["any"],
        "c.0.op": ["gt"],
        "c.0.value": ["1"],
    }
    assert fields["c.1.match"] == ["all"]
    assert (fields["c.1.0.var"], fields["c.1.1.var"]) == (["page.path"], ["event"])
    assert fields["x.0.match"] == ["all"]
    assert orjson.loads(fields["conditions"][0]) == {  # the JSON follows the builder
        "any": [
            {"var": "data.value", "op": "gt", "value": 1},
            {"all": [{"var": "page.path", "op": "equals", "value": ""},
                     {"var": "event", "op": "equals", "value": ""}]},
        ]
    }  # fmt: skip
    assert fields["exceptions"] == [""]
    assert fields["x.0.0.var"] == [""]
    after = fields_of(removed.text)
    assert after["c.1.0.var"] == ["event"]
    assert "c.1.1.var" not in after
    assert "x.0.match" not in fields_of(no_exception.text)
    assert 'id="n-c.1"' in excepted.text
    assert 'formaction="/admin/containers/shop/triggers#n-c.1"' in excepted.text
    assert [t["id"] for t in workspace(db)["triggers"]] == ["leads"]  # nothing saved


def deep(levels: int) -> dict[str, str]:
    """A chain of groups `levels` deep: c, c.0, c.0.0, ..."""
    return {"c" + ".0" * i + ".match": "all" for i in range(levels)}


HOSTILE = [
    (deep(9), "c.0.0.0.0.0.0.0.0.match"),  # a group at depth 8 (the data plane's limit)
    ({"c.match": "all", "c" + ".0" * 9 + ".var": "x"}, "c" + ".0" * 9 + ".var"),
    ({"c.match": "all", "c.99999.var": "x", "c.99999.op": "exists"}, "c.99999.var"),
    ({"c.match": "all", "c.66.var": "x", "c.66.op": "exists"}, "c.66.var"),
    ({"c.match": "all", "c.01.var": "x", "c.01.op": "exists"}, "c.01.var"),
    ({"c.match": "all", "c.-1.var": "x"}, "c.-1.var"),
    ({"c.match": "all", "c.0.var": "data.value"}, "c.0.op"),
    ({"c.match": "all", "c.0.value": "1", "c.0.op": "gt"}, "c.0.var"),
    ({"c.0.var": "data.value", "c.0.op": "exists"}, "c.match"),
    ({"c.match": "all", "c.0.1.var": "data.value", "c.0.1.op": "exists"}, "c.0.match"),
    ({"c.var": "data.value", "c.op": "exists"}, "c.match"),
    ({"c.match": "most"}, "c.match"),
    ({"c.match": "all", "c.0.match": "all", "c.0.var": "x", "c.0.op": "exists"}, "c.0.match"),
    ({"c.match": "all", "c.0.var": "x", "c.0.op": "bigger"}, "c.0.op"),
    ({"c.match": "all", "c.0.bogus": "x"}, "c.0.bogus"),
    ({"x.20.match": "all"}, "x.20.match"),
    ({"x.match": "all"}, "x.match"),
    ({"c.match": "all", "action": "row:c.5"}, "action"),
    ({"c.match": "all", "action": "remove:c"}, "action"),
    ({"c.match": "all", "action": "group:c.0.0.0.0.0.0.0.0.0"}, "action"),
    (deep(8) | {"action": "group:c.0.0.0.0.0.0.0"}, "action"),
    ({"c.match": "all", "action": "fly"}, "action"),
]


@pytest.mark.parametrize(("fields", "named"), HOSTILE)
def test_bad_builder_fields_are_a_400_naming_the_field(db, fields, named):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        data = builder_form(csrf_of(client, NEW), fields, "check")
        answer = client.post("/admin/containers/shop/triggers", data={**data, **fields})
    assert answer.status_code == 400, answer.text
    assert f"{named}: " in answer.text
    assert [t["id"] for t in workspace(db)["triggers"]] == ["leads"]


def test_a_trigger_too_large_for_one_form_opens_as_json(db):
    many = {"any": [{"var": "page.path", "op": "equals", "value": f"/p{i}"} for i in range(70)]}
    doc = copy.deepcopy(DOCUMENT)
    doc["triggers"][0]["conditions"] = many
    run(with_store(db, lambda s: Versions(s).import_document(doc, "test", "test")))
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        page = client.get("/admin/containers/shop/triggers/leads").text
        fields = fields_of(page)
        saved = submit(client, page, "save")
    assert "more than one form can carry: edit them as JSON" in page
    assert fields["mode"] == ["json"]
    assert "c.match" not in fields
    assert saved.status_code == 303
    assert workspace(db)["triggers"][0]["conditions"] == many


# --- any condition opens in the builder and saves back as it was ----------------------------

TEXT = st.text(max_size=8)
SCALARS = st.one_of(TEXT, st.integers(-(2**53), 2**53), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))  # fmt: skip
REFERENCES = st.sampled_from(["data.value", "page.path", "data.currency", "event"])


def leaf_of(ref: str, op: str, value, ignore_case: bool) -> dict:
    leaf = {"var": ref, "op": op}
    if op not in ("exists", "not_exists"):
        leaf["value"] = value
    if ignore_case:
        leaf["ignore_case"] = True
    return leaf


ANY_LEAF = st.one_of(
    st.builds(
        leaf_of,
        REFERENCES,
        st.sampled_from(["equals", "not_equals", "contains", "starts_with", "ends_with"]),
        SCALARS,
        st.booleans(),
    ),
    st.builds(
        leaf_of, REFERENCES, st.just("regex"), st.sampled_from(["^/a", "b+", "x|y"]), st.booleans()
    ),
    st.builds(
        leaf_of,
        REFERENCES,
        st.sampled_from(["in", "not_in"]),
        st.lists(SCALARS, min_size=1, max_size=4),
        st.booleans(),
    ),
    st.builds(
        leaf_of,
        REFERENCES,
        st.sampled_from(["gt", "gte", "lt", "lte"]),
        st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
    ),
    st.builds(
        leaf_of, REFERENCES, st.sampled_from(["exists", "not_exists"]), st.none(), st.booleans()
    ),
)
ANY_CONDITION = st.recursive(
    ANY_LEAF,
    lambda inner: st.builds(
        lambda m, xs: {m: xs},
        st.sampled_from(["all", "any"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=8,
).filter(lambda c: not check_condition(c, "c", set()))


def as_saved(condition: dict) -> dict:
    """What the builder saves for `condition`: a top-level group of one row is that row."""
    for match in ("all", "any"):
        items = condition.get(match)
        if items and len(items) == 1 and "var" in items[0]:
            return items[0]
    return condition


@pytest.fixture
def owner(db):
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        yield client


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(condition=ANY_CONDITION, exceptions=st.lists(ANY_CONDITION, max_size=2))
def test_any_saved_trigger_opens_in_the_builder_and_saves_back_unchanged(
    db, owner, condition, exceptions
):
    doc = copy.deepcopy(DOCUMENT)
    doc["triggers"][0] |= {"conditions": condition} | (
        {"exceptions": exceptions} if exceptions else {}
    )
    run(with_store(db, lambda s: Versions(s).import_document(doc, "test", "test")))
    page = owner.get("/admin/containers/shop/triggers/leads").text
    assert fields_of(page)["mode"] == ["builder"]
    saved = submit(owner, page, "save", conditions="", exceptions="")  # the builder alone
    assert saved.status_code == 303, saved.text
    [trigger] = workspace(db)["triggers"]
    assert trigger["conditions"] == as_saved(condition)
    assert trigger.get("exceptions", []) == [as_saved(e) for e in exceptions]


def test_a_recent_preview_hit_can_be_the_sample(db):
    hit = {"v": 1, "event": "lead", "event_id": "preview-hit-0002", "custom": {"plan": "gold"}}
    key = add_preview_hit(db, "shop", hit)
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        page = client.get("/admin/containers/shop/triggers/leads", params={"sample": key})
    assert page.status_code == 200
    assert "Use a recent hit from a preview (1)" in page.text
    assert "preview-hit-0002" in page.text  # loaded into the sample, as it came
    assert "gold" in page.text

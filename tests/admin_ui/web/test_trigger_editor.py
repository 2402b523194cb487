"""The trigger editor: its "would it fire?" check is the data plane's own decision, and a
save goes through the workspace's validation."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from admin_ui.versions import Versions
from admin_ui.web.trigger_editor import SAMPLE_HIT, would_fire
from config.schema import apply_defaults
from container.pipeline import CompiledContainer, PipelineResult
from tags.runtime import TemplateRuntime
from tests.admin_ui.web.helpers import (
    DOCUMENT,
    add_user,
    browser,
    csrf_of,
    run,
    sign_in,
    with_store,
)
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


def builder_form(csrf: str, rows: list[tuple[str, str, str]], match: str = "all") -> dict:
    data = form(csrf, "save", original="leads", id="leads", name="Leads", conditions="")
    data.update({"mode": "builder", "match": match})
    data["cond_var"] = [r[0] for r in rows]
    data["cond_op"] = [r[1] for r in rows]
    data["cond_value"] = [r[2] for r in rows]
    return data


def test_the_builder_types_each_value_by_its_operator(db):
    rows = [
        ("data.value", "gte", "25.5"),
        ("page.path", "in", "/thanks, /done"),
        ("data.lead_id", "exists", "ignored"),
        ("", "equals", ""),
    ]
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        saved = client.post(
            "/admin/containers/shop/triggers", data=builder_form(csrf_of(client, NEW), rows, "any")
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
        one = client.post(
            "/admin/containers/shop/triggers",
            data=builder_form(csrf_of(client, NEW), [("data.value", "gt", "0")]),
        )
        bad = client.post(
            "/admin/containers/shop/triggers",
            data=builder_form(csrf_of(client, NEW), [("data.value", "gt", "lots")]),
        )
    assert one.status_code == 303
    assert bad.status_code == 400
    assert "gt needs a number, not &#39;lots&#39;" in bad.text
    assert workspace(db)["triggers"][0]["conditions"] == {
        "var": "data.value",
        "op": "gt",
        "value": 0,
    }


def test_nested_groups_are_edited_as_json(db):
    nested = {
        "all": [
            {"var": "data.value", "op": "gt", "value": 0},
            {"any": [{"var": "page.path", "op": "equals", "value": "/a"}]},
        ]
    }
    with browser(db) as client:
        sign_in(client, "owner@agency.example")
        saved = client.post(
            "/admin/containers/shop/triggers",
            data=form(
                csrf_of(client, NEW),
                "save",
                original="leads",
                id="leads",
                conditions=orjson.dumps(nested).decode(),
            ),
        )
        assert saved.status_code == 303
        page = client.get("/admin/containers/shop/triggers/leads").text
    assert "These conditions nest groups: edit them as JSON." in page
    assert 'name="cond_var"' not in page

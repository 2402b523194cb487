"""diff_documents: items matched by id, field paths into nested objects and lists, order
never a change, secret-looking values masked in both renderings, stable JSON."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.diff import ABSENT, SECTIONS, DiffError, FieldChange, diff_documents
from tests.helpers import make_document


def _doc() -> dict[str, Any]:
    doc = make_document()
    doc["variables"] = [
        {"id": "page_type", "type": "constant", "value": "product"},
        {"id": "plan", "type": "constant", "value": "pro"},
    ]
    doc["triggers"][0]["conditions"] = {
        "all": [
            {"var": "page_type", "op": "equals", "value": "product"},
            {"var": "plan", "op": "equals", "value": "pro"},
        ]
    }
    doc["templates"] = [{"id": "feed", "version": "1.0.0", "lua": "log('a')"}]
    return doc


def test_identical_documents_have_no_changes():
    result = diff_documents(_doc(), _doc())
    assert result.equal
    assert result.to_text() == "no changes"
    assert result.tags.unchanged == 1
    assert result.triggers.unchanged == 3


@pytest.mark.parametrize("section", SECTIONS)
def test_added_and_removed_items_per_section(section):
    old, new = _doc(), _doc()
    extra = copy.deepcopy(new[section][0])
    extra["id"] = "brand-new"
    new[section].append(extra)
    gone = old[section][0]["id"]
    new[section] = [item for item in new[section] if item["id"] != gone]
    part = getattr(diff_documents(old, new), section)
    assert part.added == ("brand-new",)
    assert part.removed == (gone,)
    assert part.changed == ()
    assert part.unchanged == len(old[section]) - 1


def test_changed_tag_fields_and_text():
    old, new = _doc(), _doc()
    new["tags"][0]["params"]["url"] = "https://b.example.com/hook"
    new["tags"][0]["firing_triggers"] = ["leads", "tests"]
    new["tags"][0]["enabled"] = False
    (item,) = diff_documents(old, new).tags.changed
    assert item.id == "hook"
    assert [c.path for c in item.changes] == ["enabled", "firing_triggers", "params.url"]
    assert item.changes[0] == FieldChange("enabled", ABSENT, False)
    assert item.changes[1] == FieldChange("firing_triggers", ["leads"], ["leads", "tests"])
    text = diff_documents(old, new).to_text().splitlines()
    assert text == [
        "~ tag hook: enabled (absent) -> false",
        '~ tag hook: firing_triggers ["leads"] -> ["leads", "tests"]',
        '~ tag hook: params.url "https://hooks.example.com/tagwire" -> '
        '"https://b.example.com/hook"',
        "0 added, 0 removed, 1 changed, 6 unchanged",
    ]


def test_nested_condition_paths_are_indexed():
    old, new = _doc(), _doc()
    new["triggers"][0]["conditions"]["all"][1]["value"] = "free"
    new["triggers"][0]["conditions"]["all"].append({"var": "plan", "op": "exists"})
    (item,) = diff_documents(old, new).triggers.changed
    assert [(c.path, c.old, c.new) for c in item.changes] == [
        ("conditions.all[1].value", "pro", "free"),
        ("conditions.all[2]", ABSENT, {"var": "plan", "op": "exists"}),
    ]


def test_odd_keys_are_quoted_in_paths():
    old, new = _doc(), _doc()
    new["tags"][0]["params"]["event_names"]["a.b"] = "X"
    (item,) = diff_documents(old, new).tags.changed
    assert item.changes[0].path == 'params.event_names["a.b"]'


def test_reordering_items_and_keys_is_not_a_change():
    old = _doc()
    new = {key: copy.deepcopy(old[key]) for key in reversed(list(old))}
    for section in SECTIONS:
        new[section].reverse()
    new["tags"][0] = dict(reversed(list(new["tags"][0].items())))
    assert diff_documents(old, new).equal


def test_scalar_lists_are_compared_whole_and_in_order():
    old, new = _doc(), _doc()
    new["container"]["allowed_origins"] = ["https://b.example.com", "https://www.example.com"]
    old["container"]["allowed_origins"].append("https://b.example.com")
    (change,) = diff_documents(old, new).container
    assert change.path == "allowed_origins"


def test_json_types_are_not_conflated():
    old, new = _doc(), _doc()
    old["variables"][0]["value"], new["variables"][0]["value"] = 1, True
    assert not diff_documents(old, new).equal
    old["variables"][0]["value"], new["variables"][0]["value"] = 1, 1.0
    assert diff_documents(old, new).equal


def test_container_settings_changes():
    old, new = _doc(), _doc()
    new["container"]["name"] = "Shop EU"
    new["container"]["currency_default"] = "EUR"
    result = diff_documents(old, new)
    assert [(c.path, c.old, c.new) for c in result.container] == [
        ("currency_default", ABSENT, "EUR"),
        ("name", "Shop", "Shop EU"),
    ]
    assert result.to_text().splitlines()[:2] == [
        '~ container: currency_default (absent) -> "EUR"',
        '~ container: name "Shop" -> "Shop EU"',
    ]


def test_secret_looking_values_are_masked_in_text_and_json():
    old, new = _doc(), _doc()
    old["tags"][0]["params"]["access_token"] = "meta_capi"
    new["tags"][0]["params"]["access_token"] = "meta_capi_2"
    new["tags"][0]["params"]["auth"] = {"password": "hunter2", "user": "bob"}
    result = diff_documents(old, new)
    text = result.to_text()
    assert "meta_capi" not in text
    assert "hunter2" not in text
    assert "~ tag hook: params.access_token *** -> ***" in text
    assert '~ tag hook: params.auth (absent) -> {"password": "***", "user": "bob"}' in text
    changes = result.to_json()["tags"]["changed"][0]["changes"]
    assert {"path": "params.access_token", "old": "***", "new": "***"} in changes
    assert {"path": "params.auth", "new": {"password": "***", "user": "bob"}} in changes


def test_long_values_are_shortened_in_text_only():
    old, new = _doc(), _doc()
    new["templates"][0]["lua"] = "log('" + "x" * 200 + "')"
    result = diff_documents(old, new)
    line = result.to_text().splitlines()[0]
    assert line.endswith("...")
    assert len(line) < 150
    (change,) = result.to_json()["templates"]["changed"][0]["changes"]
    assert change["new"] == new["templates"][0]["lua"]


def test_control_characters_are_escaped_in_text():
    old, new = _doc(), _doc()
    new["container"]["name"] = "Shop\x1b[2J\x9b"
    line = diff_documents(old, new).to_text().splitlines()[0]
    assert "\x1b" not in line
    assert "\x9b" not in line
    assert "\\u001b" in line
    assert "\\u009b" in line


def test_to_json_shape_is_stable():
    old, new = _doc(), _doc()
    new["tags"][0]["params"]["url"] = "https://b.example.com/hook"
    new["triggers"].pop()
    assert diff_documents(old, new).to_json() == {
        "equal": False,
        "container": [],
        "variables": {"added": [], "removed": [], "changed": [], "unchanged": 2},
        "triggers": {"added": [], "removed": ["tests"], "changed": [], "unchanged": 2},
        "templates": {"added": [], "removed": [], "changed": [], "unchanged": 1},
        "tags": {
            "added": [],
            "removed": [],
            "changed": [
                {
                    "id": "hook",
                    "changes": [
                        {
                            "path": "params.url",
                            "old": "https://hooks.example.com/tagwire",
                            "new": "https://b.example.com/hook",
                        }
                    ],
                }
            ],
            "unchanged": 0,
        },
    }
    assert list(diff_documents(old, new).to_json()) == ["equal", "container", *SECTIONS]


def test_missing_optional_sections_count_as_empty():
    old, new = _doc(), _doc()
    del old["variables"], old["templates"]
    result = diff_documents(old, new)
    assert result.variables.added == ("page_type", "plan")
    assert result.templates.added == ("feed",)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["tags"].append({"name": "no id"}), r"tags\[1\] has no string id"),
        (lambda d: d["tags"].append(copy.deepcopy(d["tags"][0])), "'hook' is used twice"),
        (lambda d: d.update(triggers={}), "triggers must be a list"),
        (lambda d: d.update(container=[]), "container must be an object"),
    ],
)
def test_malformed_documents_raise_diff_error(mutate, message):
    bad = _doc()
    mutate(bad)
    with pytest.raises(DiffError, match=message):
        diff_documents(_doc(), bad)


# --- Properties ---------------------------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)
_fields = st.dictionaries(st.sampled_from(["name", "params", "token", "x"]), _values, max_size=3)


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {"container": draw(_fields)}
    for section in SECTIONS:
        ids = draw(st.lists(st.sampled_from("abcde"), unique=True, max_size=4))
        doc[section] = [{**draw(_fields), "id": item_id} for item_id in ids]
    return doc


@given(_documents())
def test_a_document_equals_itself(doc):
    result = diff_documents(doc, copy.deepcopy(doc))
    assert result.equal
    assert result.to_text() == "no changes"


@given(_documents(), _documents())
def test_diff_is_symmetric(a, b):
    forward, backward = diff_documents(a, b), diff_documents(b, a)
    for (_, there), (_, back) in zip(forward.sections(), backward.sections(), strict=True):
        assert there.added == back.removed
        assert there.removed == back.added
        assert [i.id for i in there.changed] == [i.id for i in back.changed]
    assert [(c.path, c.old, c.new) for c in forward.container] == [
        (c.path, c.new, c.old) for c in backward.container
    ]

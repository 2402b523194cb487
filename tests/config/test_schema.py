"""The container document schema: one failing case per rule, loading, defaults, and
properties that hold for any input."""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from config.schema import (
    DocumentError,
    Issue,
    apply_defaults,
    load_document,
    parse_document,
    validate_document,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "container.json"
DELETE = object()


def example() -> dict[str, Any]:
    return orjson.loads(EXAMPLE.read_bytes())


def mutated(keys: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """The example with the value at `keys` replaced (or deleted, for DELETE)."""
    doc = example()
    target: Any = doc
    for key in keys[:-1]:
        target = target[key]
    if value is DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return doc


def minimal() -> dict[str, Any]:
    return {
        "container": {"id": "shop", "name": "Shop"},
        "triggers": [{"id": "all", "name": "All events", "events": ["*"]}],
        "tags": [
            {
                "id": "hook",
                "name": "Hook",
                "template": "webhook",
                "params": {"url": "https://hooks.example.com/in"},
                "firing_triggers": ["all"],
            }
        ],
    }


def test_example_is_valid():
    assert validate_document(example()) == []
    assert validate_document(minimal()) == []


# Each case changes one value of the example and must produce exactly one issue.
RULES = [
    # top level
    (("extra",), 1, "extra", "unknown field 'extra'"),
    (("container",), DELETE, "container", "required field is missing"),
    (("triggers",), DELETE, "triggers", "required field is missing"),
    (("tags",), DELETE, "tags", "required field is missing"),
    (("tags",), {}, "tags", "must be a list"),
    (("triggers",), "purchases", "triggers", "must be a list"),
    (("variables",), {}, "variables", "must be a list"),
    (("variables",), [{"id": "v"}], "variables", "variables are not supported by this release"),
    (("templates",), [{"id": "t"}], "templates", "use the built-in 'webhook' template"),
    # container
    (("container",), [], "container", "must be an object"),
    (("container", "colour"), "red", "container.colour", "unknown field 'colour'"),
    (("container", "id"), DELETE, "container.id", "required field is missing"),
    (("container", "id"), 7, "container.id", "must be a string"),
    (("container", "id"), "Shop", "container.id", "must be 1-64 characters"),
    (("container", "id"), "-shop", "container.id", "starting with a letter or digit"),
    (("container", "id"), "a" * 65, "container.id", "must be 1-64 characters"),
    (("container", "id"), "shop\n", "container.id", "must be 1-64 characters"),
    (("container", "id"), "", "container.id", "must be 1-64 characters"),
    (("container", "name"), DELETE, "container.name", "required field is missing"),
    (("container", "name"), "", "container.name", "must not be empty"),
    (("container", "name"), "   ", "container.name", "must not be empty"),
    (("container", "name"), "n" * 201, "container.name", "at most 200 characters"),
    (("container", "name"), None, "container.name", "must be a string"),
    (("container", "domain"), "Collect.Example.com", "container.domain", "lower-case host name"),
    (("container", "domain"), "-collect.example.com", "container.domain", "host name"),
    (("container", "domain"), "collect.example.com.", "container.domain", "host name"),
    (("container", "domain"), "a." * 127, "container.domain", "host name"),
    (("container", "domain"), "https://example.com", "container.domain", "host name"),
    (("container", "allowed_origins"), "https://a.example", "container.allowed_origins", "list"),
    (("container", "allowed_origins", 0), "*", "container.allowed_origins[0]",
     "'*' is not allowed: the collector answers with credentials"),
    (("container", "allowed_origins", 0), "https://a.example/", "container.allowed_origins[0]",
     "no path, query, fragment or trailing slash"),
    (("container", "allowed_origins", 0), "https://a.example/shop", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "https://a.example?x=1", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "ftp://a.example", "container.allowed_origins[0]",
     "http or https"),
    (("container", "allowed_origins", 0), "a.example", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "https://u@a.example", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "https://A.example", "container.allowed_origins[0]",
     "lower case"),
    (("container", "allowed_origins", 0), "https://a.example:443", "container.allowed_origins[0]",
     "default port 443"),
    (("container", "allowed_origins", 0), "http://a.example:80", "container.allowed_origins[0]",
     "default port 80"),
    (("container", "allowed_origins", 0), "https://a.example:99999",
     "container.allowed_origins[0]", "port must be between 1 and 65535"),
    (("container", "allowed_origins", 0), "https://a_b!.example", "container.allowed_origins[0]",
     "not a valid host name"),
    (("container", "allowed_origins", 0), "https://[zz::1]", "container.allowed_origins[0]",
     "must be an origin"),
    (("container", "allowed_origins", 0), "https://[::1::2]", "container.allowed_origins[0]",
     "not a valid host name or IP address"),
    (("container", "allowed_origins", 1), "https://www.acme-shop.example",
     "container.allowed_origins[1]", "duplicate origin 'https://www.acme-shop.example'"),
    (("container", "allowed_origins", 1), 443, "container.allowed_origins[1]", "must be a string"),
    (("container", "default_country"), "de", "container.default_country", "ISO 3166-1 alpha-2"),
    (("container", "default_country"), "DEU", "container.default_country", "two upper-case"),
    (("container", "default_country"), 49, "container.default_country", "must be a string"),
    (("container", "consent_policy"), "lenient", "container.consent_policy",
     "must be one of 'strict', 'basic'"),
    (("container", "consent_policy"), True, "container.consent_policy", "must be one of"),
    (("container", "currency_default"), "eur", "container.currency_default",
     "three upper-case letters"),
    (("container", "currency_default"), "EURO", "container.currency_default",
     "three upper-case letters"),
    (("container", "currency_default"), "XYZ", "container.currency_default",
     "'XYZ' is not an active ISO 4217 currency code"),
    (("container", "currency_default"), "HRK", "container.currency_default", "not an active"),
    (("container", "currency_default"), "XAU", "container.currency_default", "not an active"),
    (("container", "currency_default"), 978, "container.currency_default", "must be a string"),
    # triggers
    (("triggers", 0, "conditions"), {}, "triggers[0].conditions", "unknown field 'conditions'"),
    (("triggers", 0, "name"), DELETE, "triggers[0].name", "required field is missing"),
    (("triggers", 0, "name"), "", "triggers[0].name", "must not be empty"),
    (("triggers", 0, "events"), DELETE, "triggers[0].events", "required field is missing"),
    (("triggers", 0, "events"), "purchase", "triggers[0].events", "must be a list"),
    (("triggers", 0, "events"), [], "triggers[0].events", "must not be empty"),
    (("triggers", 0, "events", 0), "Purchase", "triggers[0].events[0]", "must be '*', an event"),
    (("triggers", 0, "events", 0), "e" * 41, "triggers[0].events[0]", "1-40 characters"),
    (("triggers", 0, "events", 0), "pur*chase", "triggers[0].events[0]", "prefix ending in '*'"),
    (("triggers", 0, "events", 0), "*purchase", "triggers[0].events[0]", "prefix ending in '*'"),
    (("triggers", 0, "events", 0), "purchase**", "triggers[0].events[0]", "prefix ending in '*'"),
    (("triggers", 0, "events", 0), "", "triggers[0].events[0]", "must be '*'"),
    (("triggers", 0, "events", 0), None, "triggers[0].events[0]", "must be a string"),
    (("triggers", 1, "events", 1), "generate_lead", "triggers[1].events[1]",
     "duplicate event 'generate_lead'"),
    # tags: shape and simple fields
    (("tags", 0), None, "tags[0]", "must be an object"),
    (("tags", 0, "priority"), 1, "tags[0].priority", "unknown field 'priority'"),
    (("tags", 0, "id"), DELETE, "tags[0].id", "required field is missing"),
    (("tags", 0, "id"), "Orders To Warehouse", "tags[0].id", "must be 1-64 characters"),
    (("tags", 1, "id"), "warehouse-orders", "tags[1].id",
     "duplicate id 'warehouse-orders' (first at tags[0])"),
    (("tags", 0, "name"), "x" * 201, "tags[0].name", "at most 200 characters"),
    (("tags", 0, "enabled"), "true", "tags[0].enabled", "must be true or false"),
    (("tags", 0, "enabled"), 1, "tags[0].enabled", "must be true or false"),
    (("tags", 0, "fire_once"), "always", "tags[0].fire_once",
     "must be one of 'none', 'event_id', 'transaction_id', 'lead_id'"),
    # tags: template
    (("tags", 0, "template"), DELETE, "tags[0].template", "required field is missing"),
    (("tags", 0, "template"), "gtag", "tags[0].template",
     "unknown template 'gtag'; known: webhook"),
    (("tags", 0, "template"), ["webhook"], "tags[0].template", "must be a string"),
    (("tags", 0, "params"), DELETE, "tags[0].params", "required field is missing"),
    (("tags", 0, "params"), "https://x.example", "tags[0].params", "must be an object"),
    (("tags", 0, "params", "method"), "PUT", "tags[0].params.method", "unknown field 'method'"),
    # webhook url
    (("tags", 0, "params", "url"), DELETE, "tags[0].params.url", "required field is missing"),
    (("tags", 0, "params", "url"), 42, "tags[0].params.url", "must be a string"),
    (("tags", 0, "params", "url"), "http://ingest.example.com/x", "tags[0].params.url",
     "must use https"),
    (("tags", 0, "params", "url"), "http://localhost.evil.example/x", "tags[0].params.url",
     "must use https"),
    (("tags", 0, "params", "url"), "http://127.1/x", "tags[0].params.url", "must use https"),
    (("tags", 0, "params", "url"), "http://[::2]/x", "tags[0].params.url", "must use https"),
    (("tags", 0, "params", "url"), "https://ingest.example.com@evil.example/x",
     "tags[0].params.url", "must not contain user info"),
    (("tags", 0, "params", "url"), "https://user:pw@ingest.example.com/x", "tags[0].params.url",
     "must not contain user info"),
    (("tags", 0, "params", "url"), "https://ingest.example.com/x#top", "tags[0].params.url",
     "must not contain a fragment"),
    (("tags", 0, "params", "url"), "https://ingest.example.com/" + "p" * 2030,
     "tags[0].params.url", "at most 2048 characters"),
    (("tags", 0, "params", "url"), "//ingest.example.com/x", "tags[0].params.url",
     "absolute URL starting with https://"),
    (("tags", 0, "params", "url"), "ftp://ingest.example.com/x", "tags[0].params.url",
     "absolute URL"),
    (("tags", 0, "params", "url"), "https:///x", "tags[0].params.url", "must include a host"),
    (("tags", 0, "params", "url"), "https://in gest.example.com/", "tags[0].params.url",
     "printable ASCII without spaces"),
    (("tags", 0, "params", "url"), "https://ingest.example.com/\nx", "tags[0].params.url",
     "printable ASCII"),
    (("tags", 0, "params", "url"), "https://exämple.com/", "tags[0].params.url", "ASCII"),
    (("tags", 0, "params", "url"), "https://ingest.example.com:0/", "tags[0].params.url",
     "port must be between 1 and 65535"),
    (("tags", 0, "params", "url"), "https://ingest.example.com:99999/", "tags[0].params.url",
     "not a valid URL"),
    (("tags", 0, "params", "url"), "https://[::1/", "tags[0].params.url", "not a valid URL"),
    (("tags", 0, "params", "url"), "https://ingest.example.com\\@evil/", "tags[0].params.url",
     "user info"),
    (("tags", 0, "params", "url"), "https://bad_host!.example/", "tags[0].params.url",
     "not a valid host name"),
    # webhook event_names, headers, include_client
    (("tags", 1, "params", "event_names"), ["Lead"], "tags[1].params.event_names",
     "must be an object"),
    (("tags", 1, "params", "event_names", "Lead"), "Lead", "tags[1].params.event_names.Lead",
     "is not an event name"),
    (("tags", 1, "params", "event_names", "sign_up"), "Sign\nUp",
     "tags[1].params.event_names.sign_up", "must be 1-64 characters"),
    (("tags", 1, "params", "event_names", "sign_up"), "S" * 65,
     "tags[1].params.event_names.sign_up", "must be 1-64 characters"),
    (("tags", 1, "params", "event_names", "sign_up"), 3, "tags[1].params.event_names.sign_up",
     "must be a string"),
    (("tags", 0, "params", "headers"), "X-Source: tagwire", "tags[0].params.headers",
     "must be an object"),
    (("tags", 0, "params", "headers", "Host"), "evil.example", "tags[0].params.headers.Host",
     "header 'Host' is set by tagwire itself"),
    (("tags", 0, "params", "headers", "content-type"), "text/plain",
     "tags[0].params.headers.content-type", "set by tagwire"),
    (("tags", 0, "params", "headers", "Transfer-Encoding"), "chunked",
     "tags[0].params.headers.Transfer-Encoding", "set by tagwire"),
    (("tags", 0, "params", "headers", "CONNECTION"), "close",
     "tags[0].params.headers.CONNECTION", "set by tagwire"),
    (("tags", 0, "params", "headers", "Content-Length"), "1",
     "tags[0].params.headers.Content-Length", "set by tagwire"),
    (("tags", 0, "params", "headers", "X Api"), "1", "tags[0].params.headers['X Api']",
     "not a valid header name"),
    (("tags", 0, "params", "headers", ""), "1", "tags[0].params.headers['']",
     "not a valid header name"),
    (("tags", 0, "params", "headers", "x-source"), "again", "tags[0].params.headers.x-source",
     "duplicate header"),
    (("tags", 0, "params", "headers", "X-Source"), "a\r\nX-Injected: 1",
     "tags[0].params.headers.X-Source", "no line breaks"),
    (("tags", 0, "params", "headers", "X-Source"), "caf\u00e9", "tags[0].params.headers.X-Source",
     "printable ASCII"),
    (("tags", 0, "params", "headers", "X-Source"), 1, "tags[0].params.headers.X-Source",
     "must be a string"),
    (("tags", 0, "params", "headers"), {f"X-H{i}": "v" for i in range(21)},
     "tags[0].params.headers", "at most 20 headers"),
    (("tags", 0, "params", "include_client"), "no", "tags[0].params.include_client",
     "must be true or false"),
    # trigger references
    (("tags", 0, "firing_triggers"), DELETE, "tags[0].firing_triggers", "required field"),
    (("tags", 0, "firing_triggers"), [], "tags[0].firing_triggers", "must not be empty"),
    (("tags", 0, "firing_triggers"), "purchases", "tags[0].firing_triggers", "must be a list"),
    (("tags", 0, "firing_triggers", 0), "lead_confirm", "tags[0].firing_triggers[0]",
     "unknown trigger 'lead_confirm'"),
    (("tags", 0, "firing_triggers", 0), 1, "tags[0].firing_triggers[0]", "must be a string"),
    (("tags", 2, "firing_triggers", 1), "checkout-steps", "tags[2].firing_triggers[1]",
     "duplicate trigger 'checkout-steps'"),
    (("tags", 0, "blocking_triggers"), {}, "tags[0].blocking_triggers", "must be a list"),
    (("tags", 0, "blocking_triggers", 0), "nope", "tags[0].blocking_triggers[0]",
     "unknown trigger 'nope'"),
    (("tags", 0, "blocking_triggers", 0), "purchases", "tags[0].blocking_triggers[0]",
     "'purchases' is also in firing_triggers"),
    # consent
    (("tags", 0, "consent"), "granted", "tags[0].consent", "must be an object"),
    (("tags", 0, "consent", "tcf"), [], "tags[0].consent.tcf", "unknown field 'tcf'"),
    (("tags", 0, "consent", "gcm"), "ad_storage", "tags[0].consent.gcm", "must be a list"),
    (("tags", 0, "consent", "gcm", 0), "ad_click", "tags[0].consent.gcm[0]",
     "unknown consent type 'ad_click'; known: ad_storage, analytics_storage"),
    (("tags", 1, "consent", "gcm", 1), "ad_storage", "tags[1].consent.gcm[1]",
     "duplicate consent type 'ad_storage'"),
    (("tags", 0, "consent", "purposes"), 1, "tags[0].consent.purposes", "must be a list"),
    (("tags", 0, "consent", "purposes", 0), 0, "tags[0].consent.purposes[0]", "from 1 to 11"),
    (("tags", 0, "consent", "purposes", 0), 12, "tags[0].consent.purposes[0]", "from 1 to 11"),
    (("tags", 0, "consent", "purposes", 0), True, "tags[0].consent.purposes[0]", "an integer"),
    (("tags", 0, "consent", "purposes", 0), 1.0, "tags[0].consent.purposes[0]", "an integer"),
    (("tags", 0, "consent", "purposes", 0), "1", "tags[0].consent.purposes[0]", "an integer"),
    (("tags", 0, "consent", "purposes", 0), 10**5000, "tags[0].consent.purposes[0]", "1 to 11"),
    (("tags", 0, "consent", "purposes", 1), 1, "tags[0].consent.purposes[1]",
     "duplicate purpose 1"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("keys", "value", "path", "fragment"),
    RULES,
    ids=[f"{path}: {fragment}" for _, _, path, fragment in RULES],  # values can be huge ints
)
def test_each_rule_reports_one_issue_at_its_path(keys, value, path, fragment):
    issues = validate_document(mutated(keys, value))
    assert len(issues) == 1, issues
    assert issues[0].path == path
    assert fragment in issues[0].reason


@pytest.mark.parametrize("doc", [None, [], "container", 3, 2.5, True])
def test_document_must_be_an_object(doc):
    [issue] = validate_document(doc)
    assert issue.path == "$"
    assert "must be an object" in issue.reason


@pytest.mark.parametrize(
    ("keys", "value"),
    [
        (("container", "allowed_origins"), ["http://127.0.0.1:8000", "http://[::1]:8000"]),
        (("container", "allowed_origins"), ["https://a.example:8443", "http://localhost:3000"]),
        (("container", "allowed_origins"), []),
        (("container", "consent_policy"), "basic"),
        (("container", "currency_default"), "XCG"),
        (("triggers", 0, "events"), ["*"]),
        (("triggers", 0, "events"), ["purchase_*", "e" * 40, "e" * 39 + "*"]),
        (("tags", 0, "params", "url"), "http://127.0.0.2:9100/hook"),
        (("tags", 0, "params", "url"), "http://localhost/hook?x=1"),
        (("tags", 0, "params", "url"), "http://[::1]:8080/hook"),
        (("tags", 0, "params", "url"), "HTTPS://Ingest.Example.com/x"),
        (("tags", 0, "params", "url"), "https://203.0.113.9:8443/x"),
        (("tags", 0, "params", "headers"), {f"X-H{i}": "v\tw" for i in range(20)}),
        (("tags", 1, "params", "event_names"), {"sign_up": "Complete Registration: v2.1-b"}),
        (("tags", 0, "consent"), {"purposes": list(range(1, 12))}),
        (("tags", 0, "fire_once"), "none"),
    ],
)
def test_valid_variants(keys, value):
    assert validate_document(mutated(keys, value)) == []


def test_duplicate_trigger_id_names_the_first():
    doc = example()
    doc["triggers"].append({"id": "leads", "name": "Leads again", "events": ["lead"]})
    assert [str(i) for i in validate_document(doc)] == [
        "triggers[4].id: duplicate id 'leads' (first at triggers[1])"
    ]


def test_all_issues_are_reported_at_once_in_document_order():
    doc = example()
    doc["container"]["id"] = 5
    doc["container"]["currency_default"] = "XYZ"
    doc["triggers"][0]["events"] = []
    doc["tags"][0]["enabled"] = "yes"
    doc["tags"][1]["params"]["url"] = "http://crm.example.com/"
    doc["tags"][2]["firing_triggers"] = ["lead_confirm"]
    doc["surprise"] = True
    assert [str(i) for i in validate_document(doc)] == [
        "surprise: unknown field 'surprise'",
        "container.id: must be a string",
        "container.currency_default: 'XYZ' is not an active ISO 4217 currency code",
        "triggers[0].events: must not be empty",
        "tags[0].enabled: must be true or false",
        "tags[1].params.url: must use https; plain http is only allowed for localhost, "
        "127.x.x.x and [::1]",
        "tags[2].firing_triggers[0]: unknown trigger 'lead_confirm'",
    ]


def test_a_broken_trigger_is_also_unknown_to_the_tags_using_it():
    issues = validate_document(mutated(("triggers", 0), "purchase"))
    assert [str(i) for i in issues] == [
        "triggers[0]: must be an object",
        "tags[0].firing_triggers[0]: unknown trigger 'purchases'",
    ]
    issues = validate_document(mutated(("triggers", 0, "id"), "Purchases"))
    assert [i.path for i in issues] == ["triggers[0].id", "tags[0].firing_triggers[0]"]


def test_unusable_trigger_list_does_not_flood_tags_with_unknown_triggers():
    issues = validate_document(mutated(("triggers",), {"id": "x"}))
    assert [str(i) for i in issues] == ["triggers: must be a list"]


def test_long_values_are_cut_short_in_reasons():
    [issue] = validate_document(mutated(("tags", 0, "template"), "t" * 10_000))
    assert len(issue.reason) < 120
    assert "..." in issue.reason


def test_non_string_keys_from_yaml_are_reported():
    doc = example()
    doc["container"][1] = "one"
    [issue] = validate_document(doc)
    assert str(issue) == "container: field names must be strings, not int"


def test_non_string_keys_in_user_chosen_maps_are_reported_once():
    doc = example()
    doc["tags"][0]["params"]["headers"][1] = "x"
    doc["tags"][1]["params"]["event_names"][None] = "x"
    assert [str(i) for i in validate_document(doc)] == [
        "tags[0].params.headers: field names must be strings, not int",
        "tags[1].params.event_names: field names must be strings, not NoneType",
    ]


def test_validation_does_not_mutate_the_document():
    doc = example()
    before = copy.deepcopy(doc)
    validate_document(doc)
    apply_defaults(doc)
    assert doc == before


def test_defaults_are_filled_in():
    doc = minimal()
    full = apply_defaults(doc)
    assert full["variables"] == []
    assert full["templates"] == []
    assert full["container"]["allowed_origins"] == []
    assert full["container"]["consent_policy"] == "strict"
    assert "domain" not in full["container"]
    tag = full["tags"][0]
    assert tag["blocking_triggers"] == []
    assert tag["consent"] == {"gcm": [], "purposes": []}
    assert tag["fire_once"] == "event_id"
    assert tag["enabled"] is True
    assert tag["params"] == {
        "url": "https://hooks.example.com/in",
        "event_names": {},
        "headers": {},
        "include_client": False,
    }
    assert validate_document(full) == []
    assert doc == minimal()


def test_defaults_keep_given_values_and_fill_partial_consent():
    full = apply_defaults(example())
    assert full["tags"][0]["fire_once"] == "transaction_id"
    assert full["tags"][2]["enabled"] is False
    assert full["tags"][2]["params"]["include_client"] is True
    doc = minimal()
    doc["tags"][0]["consent"] = {"gcm": ["ad_storage"]}
    assert apply_defaults(doc)["tags"][0]["consent"] == {"gcm": ["ad_storage"], "purposes": []}


def test_defaults_never_share_mutable_values_between_tags():
    doc = minimal()
    doc["tags"].append({**copy.deepcopy(doc["tags"][0]), "id": "hook2"})
    full = apply_defaults(doc)
    full["tags"][0]["blocking_triggers"].append("all")
    assert full["tags"][1]["blocking_triggers"] == []


# --- Loading ------------------------------------------------------------------------------


def test_load_json_file():
    assert load_document(EXAMPLE) == example()


@pytest.mark.parametrize("name", ["container.yaml", "container.yml", "CONTAINER.YAML"])
def test_load_yaml_file(tmp_path, name):
    file = tmp_path / name
    file.write_text(yaml.safe_dump(example(), sort_keys=False), encoding="utf-8")
    assert load_document(str(file)) == example()


def test_load_accepts_a_byte_order_mark(tmp_path):
    file = tmp_path / "container.json"
    file.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert load_document(file) == example()


def _load_issues(path: Path) -> list[str]:
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert caught.value.source == str(path)
    return [str(issue) for issue in caught.value.issues]


def test_missing_file(tmp_path):
    [issue] = _load_issues(tmp_path / "nope.json")
    assert issue == "$: cannot read file: No such file or directory"


def test_unreadable_file(tmp_path):
    directory = tmp_path / "folder.yaml"
    directory.mkdir()
    [issue] = _load_issues(directory)
    assert issue.startswith("$: cannot read file: ")


def test_unsupported_file_type(tmp_path):
    file = tmp_path / "container.toml"
    file.write_text("")
    [issue] = _load_issues(file)
    assert issue == "$: file name must end in .json, .yaml or .yml"


def test_invalid_utf8_gives_the_position(tmp_path):
    file = tmp_path / "container.json"
    file.write_bytes(b'{\n  "container": "caf\xe9"\n}')
    assert _load_issues(file) == ["$: not valid UTF-8 at line 2, column 20 (byte 21)"]


def test_json_syntax_error_gives_the_position(tmp_path):
    file = tmp_path / "container.json"
    file.write_text('{\n  "container": {"id": "shop",}\n}')
    [issue] = _load_issues(file)
    assert issue.startswith("$: not valid JSON at line 2, column ")
    assert "trailing comma" in issue


def test_yaml_syntax_error_gives_the_position(tmp_path):
    file = tmp_path / "container.yaml"
    file.write_text("container:\n  id: shop\n  name: [Shop\ntags: []\n")
    [issue] = _load_issues(file)
    assert issue.startswith("$: not valid YAML at line 4, column ")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: 1\n---\nb: 2\n", "but found another document"),
        ("a: !!python/object:os.system x\n", "could not determine a constructor"),
        ("a: \x00\n", "special characters are not allowed"),
        ("a: " + "9" * 5000 + "\n", "not valid YAML"),
        ("[" * 100_000, "nested too deeply"),
        ("a: !!int\n", "a value cannot be read"),
        ("a: !!float\n", "a value cannot be read"),
    ],
)
def test_hostile_yaml_is_refused_cleanly(text, fragment):
    with pytest.raises(DocumentError) as caught:
        parse_document(text, "<test>", yaml=True)
    [issue] = caught.value.issues
    assert issue.path == "$"
    assert fragment in issue.reason
    assert "\n" not in issue.reason


def test_deeply_nested_json_is_refused_cleanly():
    with pytest.raises(DocumentError, match="not valid JSON"):
        parse_document("[" * 100_000, "<test>")


def test_yaml_values_of_the_wrong_type_are_issues_not_crashes():
    text = "container: {id: 2024-01-01, name: yes}\ntriggers: !!set {a}\ntags: []\n"
    with pytest.raises(DocumentError) as caught:
        parse_document(text, "<test>", yaml=True)
    assert [str(i) for i in caught.value.issues] == [
        "container.id: must be a string",
        "container.name: must be a string",
        "triggers: must be a list",
    ]


def test_empty_yaml_file_is_not_an_object(tmp_path):
    file = tmp_path / "container.yaml"
    file.write_text("")
    [issue] = _load_issues(file)
    assert issue.startswith("$: must be an object")


def test_invalid_document_lists_every_issue_in_the_message(tmp_path):
    doc = example()
    doc["container"]["id"] = "Bad Id"
    doc["tags"][0]["enabled"] = "yes"
    file = tmp_path / "container.json"
    file.write_bytes(orjson.dumps(doc))
    with pytest.raises(DocumentError) as caught:
        load_document(file)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{file}: 2 issues in the container document"
    assert lines[1].strip().startswith("container.id: must be 1-64 characters")
    assert lines[2].strip() == "tags[0].enabled: must be true or false"


def test_parse_document_accepts_text_and_bytes():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert parse_document(text, "example") == example()
    assert parse_document(text.encode(), "example") == example()
    assert parse_document(text, "example", yaml=True) == example()  # JSON is YAML


def test_document_error_message_and_defaults():
    error = DocumentError([Issue("$", "cannot read file: gone")])
    assert error.source == "<document>"
    assert str(error).splitlines() == [
        "<document>: 1 issue in the container document",
        "  $: cannot read file: gone",
    ]
    assert str(Issue("tags[2].firing_triggers[0]", "unknown trigger 'x'")) == (
        "tags[2].firing_triggers[0]: unknown trigger 'x'"
    )


# --- Properties ---------------------------------------------------------------------------

FIELD_NAMES = sorted(
    {
        "container", "variables", "triggers", "templates", "tags", "id", "name", "domain",
        "allowed_origins", "default_country", "consent_policy", "currency_default", "events",
        "template", "params", "firing_triggers", "blocking_triggers", "consent", "fire_once",
        "enabled", "url", "event_names", "headers", "include_client", "gcm", "purposes",
    }
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([1, -1]).map(lambda sign: sign * 10**5000)  # too long for str()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["webhook", "*", "purchases", "https://a.example", "ad_storage", "EUR"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)


def _leaf_paths(value: object, prefix: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _leaf_paths(item, (*prefix, key))]
    if isinstance(value, list) and value:
        return [p for index, item in enumerate(value) for p in _leaf_paths(item, (*prefix, index))]
    return [prefix]


LEAF_PATHS = _leaf_paths(example())


@given(JSON_VALUES)
def test_validate_never_raises(value):
    issues = validate_document(value)
    assert all(isinstance(issue, Issue) and issue.path and issue.reason for issue in issues)


@given(JSON_VALUES)
def test_validate_never_raises_under_a_document_shape(value):
    for doc in ({"container": value, "triggers": value, "tags": value}, {"tags": [value]}):
        assert isinstance(validate_document(doc), list)


@given(st.binary(max_size=200) | st.text(max_size=200), st.booleans())
def test_parse_document_raises_only_document_error(text, as_yaml):
    with contextlib.suppress(DocumentError):
        parse_document(text, "<fuzz>", yaml=as_yaml)


@given(st.sampled_from(LEAF_PATHS), JSON_VALUES)
def test_mutated_example_gives_issues_with_string_paths(keys, value):
    doc = mutated(keys, value)
    before = copy.deepcopy(doc)
    issues = validate_document(doc)
    assert doc == before
    for issue in issues:
        assert isinstance(issue.path, str)
        assert issue.path
        assert isinstance(issue.reason, str)
    if not issues:
        assert validate_document(apply_defaults(doc)) == []
